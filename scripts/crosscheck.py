"""`make crosscheck`: fp8emu's presets against Microsoft's MMA-Sim 2.1.1, bit for bit.

MMA-Sim (arXiv 2511.10909) is a bit-accurate simulator of NVIDIA and AMD matrix
instructions, checked against the hardware.  The instructions compared are derived
from MMA-Sim's own instruction lists (mmasim/nv_ptx/isa_mma.py, isa_wgmma.py,
isa_tcgen05mma.py, mmasim/amd/isa_mfma.py): every form with FP8, FP6 or FP4
operands, one case per instruction and operand type pair and output type, the
preset that claims it given by `claim()`.  Forms that differ only in m and n
(wgmma, tcgen05) are one instruction; the smallest m and an n that fits the case
count are run.  Each case runs MMA-Sim and `emu.gemm` on the same inputs (one
instruction each: K = the instruction's k, with C) and compares the results bit for
bit: fp32 bits for f32 outputs, fp16 bits for f16 outputs (fp8emu's float32 result
converted to fp16, which is exact; its NaN 0x7FFFFFFF becomes 0x7FFF, the f16 NaN
that MMA-Sim writes).  Each difference is put in a class (CLASSES) by inspecting it
or by recomputing it with a variant (emu.reference.gemm for a kernel that is not its
reference; MMA-Sim with its zero terms left out of e_max, or with NaN/Inf C kept in the
CDNA3 join; fp8emu with the changes in VARIANTS).  The script prints a Markdown table (one line
per instruction and output type, its type pairs together), the type pairs with
differences, then the MMA-Sim instruction families that no preset models.

    python scripts/crosscheck.py [--quick] [--json FILE] [--seed N] [--preset NAME] [--list]

Operands, as each side takes them (converted explicitly, `to_mmasim`):
fp8emu takes one code per byte in the low bits (an e2m1 code 0..15, e2m3/e3m2
0..63, FP8 0..255) and scales as uint8 codes (a UE4M3 scale is an e4m3 code whose
sign bit fp8emu ignores).  MMA-Sim takes FP8 as torch float8 tensors
(float8_e4m3fn, float8_e5m2; CDNA3: float8_e4m3fnuz, float8_e5m2fnuz); FP6 and FP4
in kind::f8f6f4 / kind::mxf8f6f4 as uint8 with FP6 in bits 5:0 and FP4 in bits 5:2
(the code shifted left by 2); FP4 in the k64 kind::mxf4 / mxf4nvf4 forms packed two
per byte along k, the lower k in the HIGH nibble (helper.unpack_uint8_to_fp4): A
(m, k/2), B (k/2, n); UE8M0 scales as float8_e8m0fnu and UE4M3 scales as
float8_e4m3fn (its sign bit, random here, cleared by MMA-Sim).  MMA-Sim runs
batched: its instruction's own `dpa` on the vectors its `__call__` builds, with a
leading tile axis; the first tile of every run is also checked against `__call__`.

Inputs per case (seeded, deterministic; RUNS): a run of at least 4,096 output
elements of random finite codes (zeros of both signs where the format has -0,
subnormals, narrow and wide exponents, whole rows of zeros or of tiny values), C
over the whole range (+0, -0, subnormals, huge), scales over the whole range
(UE8M0: 0x00, 0xFE, near 127, random; UE4M3: zeros 0x00/0x80, subnormals, max
0x7E, near 1, random; either sign bit); a run of at least 1,024 near zero (tiny
operands, C = +-0 or subnormal, small scales); a run of at least 1,024 with NaN and
Inf codes where the format has them (FP6/FP4 have none; FNUZ NaN = 0x80 only), NaN
and Inf C and NaN scales (UE8M0 0xFF, UE4M3 0x7F/0xFF); and one tile with hand-made
probes and every finite code of both operand formats (probe_data).  `--quick`: 512
elements in the first run, one tile in each of the others.

Exit status: 0 when every compared element is bit-equal or differs only in a class
listed in DOCUMENTED (a difference that docs/numerics.md documents as a decision);
1 otherwise (also when fp8emu refuses a claimed case or a claiming preset is
missing), with one line at the end that says why; 2 on a usage error (mmasim or
torch missing); 3 on a crash.

Needs torch and mmasim: `make crosscheck` installs them into .venv-crosscheck
(scripts/crosscheck-requirements.txt).  torch is used only to run MMA-Sim.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import re
import sys
import time
import zlib
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import emu  # noqa: E402
from emu.errors import UsageError  # noqa: E402
from emu.numerics.formats import get_format  # noqa: E402

MMASIM_VERSION = "2.1.1"

# Classes of difference accepted because docs/numerics.md documents them as a
# decision (a class name from CLASSES), with a worked example there.
DOCUMENTED: frozenset[str] = frozenset()  # filled below, once the names exist

ZERO_SIGN = "zero sign"
OVERFLOW = "overflow: MMA-Sim Inf, fp8emu max finite"
OVERFLOW_REV = "overflow: fp8emu Inf, MMA-Sim max finite"
NAN_BITS = "NaN bits"
NAN_ONE = "NaN on one side only"
ZERO_EMAX = "zero terms set e_max"
SPECIAL_C = "NaN/Inf C dropped by MMA-Sim"
KERNEL = "fp8emu's kernel is not its reference"
LAST_BIT = "one unit in the last place"
OTHER = "other"
# decision 30: a NaN or Inf C stays NaN/Inf on cdna3 (MMA-Sim's GTR_FDPA drops it when
# the dot part is more than 25 binades above C's frexp exponent, -1 for NaN/Inf)
DOCUMENTED = frozenset({SPECIAL_C})
# Each class: what it means (printed under the table), and the field to look at.
CLASSES = {
    ZERO_SIGN: (
        "both results are zeros, of different signs (MMA-Sim on NVIDIA: every zero result is +0)",
        "zero_sign",
    ),
    OVERFLOW: (
        "MMA-Sim gives +-Inf where fp8emu gives +-max finite of the accumulator",
        "overflow",
    ),
    OVERFLOW_REV: ("fp8emu gives +-Inf where MMA-Sim gives +-max finite", "overflow"),
    NAN_BITS: ("both NaN, different bits", "NaN encoding"),
    NAN_ONE: ("NaN on one side only", "special inputs"),
    KERNEL: (
        "emu.reference.gemm (the exact, slow spec) on the same element gives MMA-Sim's bits "
        "where emu.gemm (the numba kernels) does not",
        "a kernel bug: emu.gemm differs from emu.reference.gemm",
    ),
    ZERO_EMAX: (
        "MMA-Sim with zero terms left out of the choice of e_max (fp8emu's zero_exp = "
        "drop) gives fp8emu's bits: in MMA-Sim every zero term takes part, with "
        "exponent e_zero",
        "zero_exp",
    ),
    SPECIAL_C: (
        "MMA-Sim with NaN and Inf accumulators kept gives fp8emu's bits: its CDNA3 join "
        "(fdpa.py gtr_fdpa) takes C's exponent from torch.frexp, -1 for NaN and Inf, and "
        "drops C when e_c < e_max - F - 1, so a NaN or Inf C (also one carried from the "
        "previous 16-k step) vanishes when the dot part's exponent is above 24",
        "MMA-Sim's C drop of NaN/Inf (gtr_fdpa: s_c[e_c < e_max - F - 1] = 0.0)",
    ),
    LAST_BIT: (
        "finite results of one sign, one unit in the last place apart",
        "alignment or rounding",
    ),
    OTHER: ("none of the above", "unexplained"),
}

# Variants that explain a difference by an fp8emu configuration: preset -> ((class
# name, MacConfig changes, cause), ...).  A difference that the preset with these
# changes does not have is put in that class.  Empty: the presets carry MMA-Sim's
# conventions as fields.
VARIANTS: dict[str, tuple] = {}

# Presets that claim no MMA-Sim instruction, and why.
NOT_AN_INSTRUCTION = {
    "default": "a design point, not a chip",
    "exact": "the exact result rounded once, by definition",
    "fp32-seq": "a chain of FP32 FMAs on CUDA cores, not a matrix instruction",
    "deepseek-v3": "a software recipe (scales applied at promotion to FP32 every 128 k on "
    "CUDA cores) around the h100 datapath, which the h100 rows check",
    "b200": "Blackwell warp-level mma.sync FP8 with 31 alignment bits rne: no "
    "hardware-checked source (MMA-Sim 2.1.1 has no FP8 mma.sync on Blackwell; its "
    "FP8 instructions there, tcgen05.mma kind::f8f6f4, are claimed by `b200-tcgen05`)",
}

# fp8emu changes for each output type (the NVIDIA f16 forms: fp16, rne; zero_exp is
# relative to the accumulator format, so it follows)
OUTPUTS = {"f32": {}, "f16": dict(acc_format="fp16", acc_round="rne")}
PTX_NAME = {
    "MMA": "mma.sync",
    "MMABlockScale": "mma.sync.block_scale",
    "WGMMA": "wgmma.mma_async",
    "TCGen05MMA": "tcgen05.mma",
    "TCGen05MMABlockScale": "tcgen05.mma.block_scale",
    "MFMA": "v_mfma",
}


# ----------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class CodeFormat:
    """An operand format as codes: exponent and fraction bits, bias, NaN and Inf
    codes, whether -0 exists (FNUZ: 0x80 is the NaN)."""

    ebits: int
    mbits: int
    bias: int
    nans: tuple = ()
    infs: tuple = ()
    neg_zero: bool = True

    @property
    def width(self):
        return 1 + self.ebits + self.mbits

    @property
    def sign(self):
        return 1 << (self.ebits + self.mbits)

    def finite(self, codes):
        codes = np.asarray(codes)
        special = np.isin(codes, self.nans + self.infs)
        return ~special & (codes < 2**self.width)

    def finite_codes(self):
        codes = np.arange(2**self.width)
        return codes[self.finite(codes)].astype(np.uint8)

    @property
    def max_code(self):
        """The largest finite positive code."""
        return int(self.finite_codes()[self.finite_codes() < self.sign].max())

    @property
    def one(self):
        """The code of 1.0."""
        return self.bias << self.mbits

    def value(self, codes):
        """float64 values of codes (NaN for NaN codes, +-inf for Inf codes)."""
        codes = np.asarray(codes, np.int64)
        e = (codes >> self.mbits) & (2**self.ebits - 1)
        f = codes & (2**self.mbits - 1)
        mag = np.where(e == 0, f / 2**self.mbits, 1 + f / 2**self.mbits)
        mag = mag * np.exp2(np.maximum(e, 1) - self.bias)
        v = np.where(codes & self.sign, -mag, mag)
        v = np.where(np.isin(codes, self.infs), np.copysign(np.inf, v), v)
        return np.where(np.isin(codes, self.nans), np.nan, v)


CODES = {
    "e4m3": CodeFormat(4, 3, 7, (0x7F, 0xFF)),
    "e5m2": CodeFormat(5, 2, 15, (0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF), (0x7C, 0xFC)),
    "e3m2": CodeFormat(3, 2, 3),
    "e2m3": CodeFormat(2, 3, 1),
    "e2m1": CodeFormat(2, 1, 1),
    "e4m3fnuz": CodeFormat(4, 3, 8, (0x80,), neg_zero=False),
    "e5m2fnuz": CodeFormat(5, 2, 16, (0x80,), neg_zero=False),
}
FP6_FP4 = ("e3m2", "e2m3", "e2m1")
AMD_TYPES = {"fp8": "e4m3fnuz", "bf8": "e5m2fnuz"}
# Scale formats: NaN codes, zero codes, the largest finite code
SCALES = {
    "ue8m0": dict(nans=(0xFF,), zeros=(), max=0xFE),
    "ue4m3": dict(nans=(0x7F, 0xFF), zeros=(0x00, 0x80), max=0x7E),
}


def scale_value(codes, fmt):
    """float64 values of scale codes (NaN for NaN codes); UE4M3 ignores the sign bit."""
    codes = np.asarray(codes, np.int64)
    if fmt == "ue8m0":
        return np.where(codes == 0xFF, np.nan, np.exp2(codes - 127.0))
    return np.abs(CodeFormat(4, 3, 7, (0x7F, 0xFF)).value(codes & 0x7F))


# ----------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One MMA-Sim instruction with one operand type pair and output type."""

    api: str  # the MMA-Sim class: mmasim.nv_ptx.<api> or mmasim.amd.MFMA
    arch: str  # MMA-Sim's architecture name
    form: str  # MMA-Sim's shape_and_type (or MFMA suffix) that is run
    family: str  # the form with m, n of wgmma/tcgen05 as M, N and the types as {a}, {b}
    m: int
    n: int
    k: int
    out: str  # f32, f16
    a: str  # fp8emu format names
    b: str
    scale: str | None  # ue8m0, ue4m3 or None
    block: int  # k per scale (0: no scales)
    packed: bool  # FP4 two per byte (k64 mxf4 / mxf4nvf4)
    preset: str | None
    changes: tuple = ()  # (field, value) pairs applied to the preset for this form
    note: str = ""
    why_not: str = ""  # when preset is None

    @property
    def pair(self):
        return f"{self.a}.{self.b}"


def parse_form(api, form):
    """{shape m n k, kind, block, d, a, b, s}: the qualifiers of an MMA-Sim form, with
    PTX/AMD type names."""
    if api == "MFMA":
        q = form.split("_")
        m, n, k = (int(x) for x in re.findall(r"\d+", q[1])[:3]) if len(q) > 1 else (0, 0, 0)
        if len(q) == 4 and q[-1] in AMD_TYPES:
            return dict(m=m, n=n, k=k, kind=None, block=0, d=q[0], a=q[2], b=q[3], s=None)
        return dict(m=m, n=n, k=k, kind=None, block=0, d=q[0], a=None, b=None, s=None)
    tokens = form.split(".")
    m, n, k = (int(x) for x in re.fullmatch(r"m(\d+)n(\d+)k(\d+)", tokens[0]).groups())
    kind = next((t.removeprefix("kind::") for t in tokens if t.startswith("kind::")), None)
    block = next((int(t[5:]) for t in tokens if re.fullmatch(r"block\d+", t)), 0)
    types = [t for t in tokens[1:] if not t.startswith("kind::") and not t.startswith("block")]
    s = types[-1] if api.endswith("BlockScale") else None
    return dict(m=m, n=n, k=k, kind=kind, block=block, d=types[0], a=types[1], b=types[2], s=s)


def family(api, form, q):
    """The form with m and n of wgmma/tcgen05 written M, N and the operand types {a}, {b}."""
    if api == "MFMA":
        parts = form.split("_")
        if q["a"] is not None:
            parts[2:4] = ["{a}", "{b}"]
        return "_".join(parts)
    tokens = form.split(".")
    if api in ("WGMMA", "TCGen05MMA", "TCGen05MMABlockScale"):
        tokens[0] = re.sub(r"^m\d+n\d+k", "mMnNk", tokens[0])
    i = next(i for i, t in enumerate(tokens) if i > 0 and t == q["d"] and not t.startswith("k"))
    if q["a"] in CODES:
        tokens[i + 1 : i + 3] = ["{a}", "{b}"]
    return ".".join(tokens)


OUT_OF_SCOPE = (
    "out of scope: fp8emu models FP8/FP6/FP4 operands; these are tf32/f16/bf16 dot "
    "products (other operand decoding and product widths) or f32/f64 FMA chains "
    "(MMA-Sim has no int8 forms)"
)


def claim(api, arch, q):
    """(preset, changes, note) of the preset that claims this MMA-Sim form, or
    (None, why, "") when none does."""
    a, b = q["a"], q["b"]
    fp8 = {"e4m3", "e5m2"}
    if api == "MFMA":
        if a in AMD_TYPES:
            return "cdna3", (), ""
        return None, OUT_OF_SCOPE, ""
    if a not in CODES:
        return None, OUT_OF_SCOPE, ""
    if api == "WGMMA" and arch == "Hopper":
        return "h100", (), ""
    if api == "MMA" and arch == "Ada Lovelace" and {a, b} <= fp8:
        return "ada", (), ""
    if api in ("MMA", "TCGen05MMA") and arch in ("Blackwell", "RTX Blackwell"):
        note = ""
        if api == "MMA" and q["kind"] is None:
            note = (
                "RTX Blackwell mma.sync FP8 without kind: MMA-Sim gives it the "
                "datapath of kind::f8f6f4 (F = 25, RZ fp32, 32 per step)"
            )
        return "b200-tcgen05", (), note
    if q["kind"] == "mxf8f6f4":
        return "mxfp8", (), ""
    if q["kind"] in ("mxf4", "mxf4nvf4"):
        if q["s"] == "ue4m3":
            return "b200-nvfp4", (), ""
        if q["block"] == 32:
            return "b200-mxf4", (), ""
        return (
            "b200-mxf4",
            (("scale_block", q["block"]),),
            f"mxf4nvf4.block{q['block']} with UE8M0 scales is claimed by no preset; "
            f"compared as `b200-mxf4` with scale_block = {q['block']}",
        )
    return None, "FP8/FP6/FP4, claimed by no preset", ""


def mmasim_forms():
    """[(api, arch, form)]: every MMA-Sim 2.1.1 instruction form, from its own lists."""
    from mmasim.amd import isa_mfma
    from mmasim.nv_ptx import isa_mma, isa_tcgen05mma, isa_wgmma

    tables = [
        ("MMA", isa_mma.mma_shape_and_type),
        ("MMABlockScale", isa_mma.mma_block_scale_shape_and_type),
        ("WGMMA", isa_wgmma.wgmma_shape_and_type),
        ("TCGen05MMA", isa_tcgen05mma.tcgen05mma_shape_and_type),
        ("TCGen05MMABlockScale", isa_tcgen05mma.tcgen05mma_block_scale_shape_and_type),
        ("MFMA", isa_mfma.arch_mfma_suffix),
    ]
    return [
        (api, arch, form)
        for api, table in tables
        for arch, forms in table.items()
        for form in forms
    ]


def fmt_name(t):
    return AMD_TYPES.get(t, t)


def derive_cases(forms, target):
    """(cases, unclaimed): one Case per instruction, operand type pair and output type
    that a preset claims (the smallest m of the form's shapes, the n that gives about
    `target` elements in two tiles), and {(api, arch, family): why} for the rest."""
    shapes = {}  # (api, arch, family with types) -> [(m, n, form)]
    info = {}
    for api, arch, form in forms:
        q = parse_form(api, form)
        fam = family(api, form, q)
        key = (api, arch, fam, q["d"], q["a"], q["b"])
        shapes.setdefault(key, []).append((q["m"], q["n"], form))
        info[key] = q
    cases, unclaimed = [], {}
    for key in sorted(shapes, key=lambda k: (k[0] == "MFMA", k)):
        api, arch, fam, d, a, b = key
        q = info[key]
        preset, changes, note = claim(api, arch, q)
        if preset is None:
            unclaimed[(api, arch, fam.format(a=a, b=b))] = changes
            continue
        m = min(s[0] for s in shapes[key])
        ns = sorted(s[1] for s in shapes[key] if s[0] == m)
        want = max(8, target // (2 * m))
        n = max([x for x in ns if x <= want] or ns[:1])
        form = next(f for mm, nn, f in shapes[key] if (mm, nn) == (m, n))
        cases.append(
            Case(
                api=api,
                arch=arch,
                form=form,
                family=fam,
                m=m,
                n=n,
                k=q["k"],
                out=d,
                a=fmt_name(a),
                b=fmt_name(b),
                scale=q["s"],
                block=q["block"] if q["s"] else 0,
                packed=q["kind"] in ("mxf4", "mxf4nvf4"),
                preset=preset,
                changes=changes,
                note=note,
            )
        )
    return cases, unclaimed


# ----------------------------------------------------------------------------- inputs

# The runs of every case: name, share of the element count.  finite: random finite
# data; tiny: operands and C near zero (and small scales), where zero terms and signs
# of zero decide; specials: finite data with NaN and Inf codes, C and scales; probes:
# hand-made elements and every finite code on a finite tile (probe_data).
RUNS = (("finite", 1.0), ("tiny", 0.25), ("specials", 0.25), ("probes", 0.0))  # 0: one tile


def code_vectors(rng, fmt, shape, run):
    """Codes of `shape` (..., vectors, k) in fp8emu's layout (low bits): each vector (a
    row of A or a column of B) is random finite codes, narrow exponents, tiny values,
    or all zeros of one sign (+0 only where the format has no -0)."""
    f = CODES[fmt]
    emax_field = 2**f.ebits - 1
    sign = rng.integers(0, 2, shape) * f.sign
    frac = rng.integers(0, 2**f.mbits, shape)
    e_wide = rng.integers(0, emax_field + 1, shape)
    e_narrow = np.clip(f.bias + rng.integers(-2, 3, shape), 0, emax_field)
    e_tiny = rng.choice([0, 0, 0, 1], shape)
    kind = rng.choice(4, shape, p=[0.12, 0.13, 0.35, 0.40])  # zero, subnormal, narrow, wide
    e = np.select([kind == 0, kind == 1, kind == 2], [0, 0, e_narrow], e_wide)
    frac = np.where(kind == 0, 0, np.where(kind == 1, np.maximum(frac, 1), frac))
    p_mode = [0.0, 0.0, 0.8, 0.2] if run == "tiny" else [0.70, 0.12, 0.10, 0.08]
    mode = rng.choice(4, shape[:-1] + (1,), p=p_mode)  # mixed, narrow, tiny, zero
    e = np.select([mode == 1, mode == 2], [e_narrow, e_tiny], e)
    one_sign = rng.random(shape[:-1] + (1,)) < 0.25  # every element of the vector
    sign = np.where(one_sign, rng.integers(0, 2, shape[:-1] + (1,)) * f.sign, sign)
    codes = sign | (e << f.mbits) | frac
    zero_sign = rng.integers(0, 2, shape[:-1] + (1,)) * f.sign
    codes = np.where(mode == 3, zero_sign, codes)
    codes = finite_only(codes, f)
    if run == "specials" and f.nans + f.infs:
        special = rng.choice(f.nans + f.infs * 2, shape)
        codes = np.where(rng.random(shape) < 0.015, special, codes)
    return codes.astype(np.uint8)


def finite_only(codes, f):
    """Codes with every non-finite one made finite: -0 of a format without it -> +0;
    a NaN or Inf code -> its lowest exponent bit cleared."""
    if not f.neg_zero:
        codes = np.where(codes == f.sign, 0, codes)
    return np.where(f.finite(codes), codes, codes & ~(1 << f.mbits))


def float_values(rng, out, shape, run):
    """C: float32 (out f32) or float16 (out f16) values over the whole range."""
    ebits, mbits, uint, flt = (8, 23, np.uint32, np.float32)
    if out == "f16":
        ebits, mbits, uint, flt = (5, 10, np.uint16, np.float16)
    bias, top = 2 ** (ebits - 1) - 1, 2**ebits - 2
    frac = rng.integers(0, 2**mbits, shape, dtype=np.uint64)
    sign = rng.integers(0, 2, shape, dtype=np.uint64)
    wide = rng.integers(1, top + 1, shape)
    near = np.clip(bias + rng.integers(-12, 13, shape), 1, top)  # near the products
    # +0, -0, subnormal, huge, smallest normals, near the products, wide
    p_kind = [0.08, 0.06, 0.06, 0.04, 0.04, 0.42, 0.30]
    kind = rng.choice(7, shape, p=[0.3, 0.3, 0.4, 0, 0, 0, 0] if run == "tiny" else p_kind)
    e = np.select(
        [kind <= 2, kind == 3, kind == 4, kind == 5], [0, top - rng.integers(0, 4, shape), 1, near]
    ).astype(np.uint64)
    e = np.where(kind == 6, wide, e).astype(np.uint64)
    frac = np.where(kind <= 1, 0, np.where(kind == 2, np.maximum(frac, 1), frac))
    sign = np.where(kind == 0, 0, np.where(kind == 1, 1, sign))
    if run == "specials":
        x = rng.random(shape)
        nan_frac = np.where(rng.random(shape) < 0.5, 1 << (mbits - 1), np.maximum(frac, 1))
        e = np.where(x < 0.08, top + 1, e)
        frac = np.where(x < 0.04, nan_frac, np.where(x < 0.08, 0, frac))
    bits = (sign << (ebits + mbits)) | (e << mbits) | frac
    return bits.astype(uint).view(flt)


def scale_vectors(rng, fmt, shape, run):
    """Scale codes.  UE8M0: 0x00, 0xFE, near 127, random (the tiny run: near 57, so
    that two scales put products near 2^-140).  UE4M3 (either sign bit): zeros 0x00,
    subnormals 0x01-0x07, max 0x7E, near 1 (exponents -2..2), random finite (the tiny
    run: subnormals and the smallest normals).  The specials run: NaN codes (UE8M0
    0xFF, UE4M3 0x7F/0xFF) at 5%."""
    if fmt == "ue8m0":
        p_kind = [0.1, 0.0, 0.75, 0.15] if run == "tiny" else [0.08, 0.08, 0.44, 0.40]
        kind = rng.choice(4, shape, p=p_kind)  # 0x00, 0xFE, near, random
        near = (57 if run == "tiny" else 127) + rng.integers(-10, 11, shape)
        codes = np.select(
            [kind == 0, kind == 1, kind == 2], [0, 0xFE, near], rng.integers(0, 255, shape)
        )
    else:
        p_kind = [0.05, 0.6, 0.0, 0.35, 0.0] if run == "tiny" else [0.04, 0.1, 0.08, 0.5, 0.28]
        kind = rng.choice(5, shape, p=p_kind)  # zero, subnormal, max, near, random
        near_e = rng.integers(5, 10, shape) if run != "tiny" else rng.integers(1, 3, shape)
        near = near_e << 3 | rng.integers(0, 8, shape)
        codes = np.select(
            [kind == 0, kind == 1, kind == 2, kind == 3],
            [0, rng.integers(1, 8, shape), 0x7E, near],
            rng.integers(0, 0x7F, shape),
        )
        codes = codes | (rng.integers(0, 2, shape) << 7)  # the sign bit: ignored
    if run == "specials":
        nans = SCALES[fmt]["nans"]
        codes = np.where(rng.random(shape) < 0.05, rng.choice(nans, shape), codes)
    return codes.astype(np.uint8)


@dataclass
class Data:
    a: np.ndarray  # (T, m, k) codes, fp8emu's layout
    b: np.ndarray  # (T, k, n) codes
    c: np.ndarray  # (T, m, n) float32 or float16
    sa: np.ndarray | None  # (T, m, k/block) scale codes
    sb: np.ndarray | None  # (T, k/block, n)


def make_data(rng, case, tiles, run):
    if run == "probes":
        return probe_data(rng, case)
    m, n, k = case.m, case.n, case.k
    a = code_vectors(rng, case.a, (tiles, m, k), run)
    b = code_vectors(rng, case.b, (tiles, n, k), run).transpose(0, 2, 1).copy()
    c = float_values(rng, case.out, (tiles, m, n), run)
    # where a row of A or a column of B is all zeros, C is a zero of either sign half the time
    zero_a = (a & ~np.uint8(CODES[case.a].sign) == 0).all(axis=-1)  # (tiles, m)
    zero_b = (b & ~np.uint8(CODES[case.b].sign) == 0).all(axis=1)  # (tiles, n)
    zero_c = (zero_a[:, :, None] | zero_b[:, None, :]) & (rng.random(c.shape) < 0.5)
    c = np.where(zero_c, np.where(rng.random(c.shape) < 0.5, -0.0, 0.0).astype(c.dtype), c)
    sa = sb = None
    if case.scale:
        sa = scale_vectors(rng, case.scale, (tiles, m, k // case.block), run)
        sb = scale_vectors(rng, case.scale, (tiles, n, k // case.block), run)
        sb = sb.transpose(0, 2, 1).copy()
    return Data(a, b, c, sa, sb)


def probe_data(rng, case):
    """One random finite tile whose rows 0-3 of A and columns 0-1 of B are hand-made,
    and whose other rows of A and columns of B hold every finite code of their format
    (A from the first code on, B from where A stopped, both cycling).

    Rows: the e_zero probe, its negation, overflow, all -0 (+0 where the format has no
    -0; with C = -0); columns: the e_zero probe, overflow.  The e_zero probe (UE8M0
    block scales): C = +0 and x + 1 products with odd significands whose sum S, in
    units of their last bit, is just above a multiple of 1024 (S mod 1024 <= x); the
    scales put that last bit at 2^-159, so the fp32 result is floor(S / 1024) units
    of 2^-149.  When a zero term (C = 0 or a zero product) sets e_max = -133 (MMA-Sim:
    25 bits, quantum 2^-158) every product loses its last bit and the result is one
    unit less.  (With narrow formats no such x exists; the rows are then plain
    products of the largest odd significands.)"""
    data = make_data(rng, case, 1, "finite")
    fa_, fb_ = CODES[case.a], CODES[case.b]
    fa, fb = fa_.mbits, fb_.mbits
    mb = 2 ** (fb + 1) - 1  # the largest odd significand of B
    odd_a = range(2**fa + 1, 2 ** (fa + 1), 2)
    x, ma1, ma2 = next(
        ((x, m1, m2) for x in range(1, case.k) for m1 in odd_a for m2 in odd_a
         if (t := mb * (x * m1 + m2)) >= 1024 and t % 1024 <= x),
        (case.k - 1, odd_a[-1], odd_a[-1]),
    )  # fmt: skip
    ez = np.zeros(case.k, np.uint8)
    ez[:x] = fa_.one | (ma1 - 2**fa)
    ez[x] = fa_.one | (ma2 - 2**fa)
    a, b, c = data.a[0], data.b[0], data.c[0]
    neg = np.where((ez == 0) & (not fa_.neg_zero), 0, ez | fa_.sign)  # FNUZ: no -0
    a[0], a[1], a[2] = ez, neg, fa_.max_code
    a[3] = fa_.sign if fa_.neg_zero else 0
    c[0:3], c[3] = 0.0, -0.0
    b[:, 0], b[:, 1] = fb_.one | (mb - 2**fb), fb_.max_code
    # every finite code: rows 4.. of A, then columns 2.. of B
    codes_a = fa_.finite_codes()
    a[4:] = np.resize(codes_a, a[4:].size).reshape(a[4:].shape)
    codes_b = np.roll(fb_.finite_codes(), -(a[4:].size % len(fb_.finite_codes())))
    b[:, 2:] = np.resize(codes_b, b[:, 2:].size).reshape(b.shape[1] - 2, -1).T
    if case.scale == "ue8m0":
        s_sum = 95 + fa + fb  # (Sa - 127) + (Sb - 127) = -159 + fa + fb
        data.sa[0, 0:2], data.sa[0, 2], data.sa[0, 3] = s_sum // 2, 0xFE, 127
        data.sb[0, :, 0], data.sb[0, :, 1] = s_sum - s_sum // 2, 0xFE
    elif case.scale == "ue4m3":  # the smallest and the largest scales
        data.sa[0, 0:2], data.sa[0, 2], data.sa[0, 3] = 0x01, 0x7E, 0x38
        data.sb[0, :, 0], data.sb[0, :, 1] = 0x81, 0xFE
    return data


# ----------------------------------------------------------------------------- both sides


def fp8emu_config(case, extra=()):
    changes = dict(a_format=case.a, b_format=case.b) | dict(case.changes) | dict(extra)
    return emu.preset(case.preset).replace(**(changes | OUTPUTS[case.out]))


def run_fp8emu(cfg, data):
    kw = {} if data.sa is None else dict(sa=data.sa, sb=data.sb)
    return emu.gemm(data.a, data.b, c=data.c.astype(np.float32), config=cfg, **kw)


def mmasim_op(case):
    if case.api == "MFMA":
        import mmasim.amd

        return mmasim.amd.MFMA(case.arch, case.form)
    import mmasim.nv_ptx

    return getattr(mmasim.nv_ptx, case.api)(case.arch, case.form)


def without_zero_terms(op):
    """A copy of an MMA-Sim instruction whose zero terms do not take part in e_max, or
    None when its datapath has no e_zero."""
    if not hasattr(op.arithmetic_op, "e_zero"):
        return None
    op = copy.copy(op)
    op.arithmetic_op = copy.copy(op.arithmetic_op)
    op.arithmetic_op.e_zero = -(1 << 20)  # below every exponent: never the largest
    return op


def special_c_kept(op):
    """A copy of an MMA-Sim CDNA3 instruction (MMA_GTR_FDPA) whose steps keep a NaN or
    Inf accumulator (NaN stays NaN, Inf stays Inf unless the step is NaN), or None for
    other datapaths."""
    from mmasim.arithmetic import fdpa

    if not isinstance(op.arithmetic_op, fdpa.MMA_GTR_FDPA):
        return None
    import torch

    class Kept(fdpa.MMA_GTR_FDPA):
        def dpa(self, a, b, c):
            L = min(a.shape[-1], self.L_max)
            for i in range(0, a.shape[-1], L):
                r = fdpa.gtr_fdpa(
                    a[..., i : i + L], b[..., i : i + L], c, self.F, self.F2, self.rho
                )
                nan = torch.full_like(r, float("nan")).view(torch.int32)
                nan[...] = 0x7FFFFFFF
                r = torch.where(c.isinf() & ~r.isnan(), c, r)
                c = torch.where(c.isnan(), nan.view(torch.float32), r)
            return c

    op = copy.copy(op)
    op.arithmetic_op = Kept(op.arithmetic_op.F, op.arithmetic_op.F2, op.arithmetic_op.rho,
                            op.arithmetic_op.L_max)  # fmt: skip
    return op


def pack_fp4(codes, axis):
    """FP4 codes (low nibbles) packed two per byte along `axis`, the lower index in the
    high nibble (MMA-Sim's helper.unpack_uint8_to_fp4 reads the high nibble first)."""
    codes = np.moveaxis(np.asarray(codes, np.uint8), axis, -1)
    packed = (codes[..., 0::2] << 4) | (codes[..., 1::2] & 0x0F)
    return np.moveaxis(packed.astype(np.uint8), -1, axis)


def to_mmasim(codes, fmt, packed, axis):
    """fp8emu codes (low bits) -> MMA-Sim's operand layout, as a numpy uint8 array:
    FP8 unchanged (viewed as a torch float8 later); FP6 unchanged (bits 5:0); FP4 in
    bits 5:2 (code << 2), or packed two per byte along k (k64 mxf4 forms)."""
    codes = np.asarray(codes, np.uint8)
    if fmt == "e2m1":
        return pack_fp4(codes, axis) if packed else (codes << 2).astype(np.uint8)
    return codes


def mmasim_tensor(codes, fmt):
    import torch

    dt = {
        "e4m3": torch.float8_e4m3fn,
        "e5m2": torch.float8_e5m2,
        "e4m3fnuz": torch.float8_e4m3fnuz,
        "e5m2fnuz": torch.float8_e5m2fnuz,
        "ue8m0": torch.float8_e8m0fnu,
        "ue4m3": torch.float8_e4m3fn,
    }
    t = torch.from_numpy(np.ascontiguousarray(codes))
    return t.view(dt[fmt]) if fmt in dt else t


def run_mmasim(op, case, data, check_call=False):
    """MMA-Sim's result (T, m, n): op.dpa on the vectors op.__call__ builds, for every
    tile at once; with check_call, tile 0 is also run through op(...) and must agree."""
    import torch

    a = mmasim_tensor(to_mmasim(data.a, case.a, case.packed, -1), case.a)  # (T, m, k')
    b = mmasim_tensor(to_mmasim(data.b, case.b, case.packed, -2), case.b)  # (T, k', n)
    c = torch.from_numpy(data.c)
    T, m, n = data.c.shape
    av = a[:, :, None, :].expand(-1, -1, n, -1)
    bv = b.transpose(1, 2)[:, None, :, :].expand(-1, m, -1, -1)
    args = [av, bv, c]
    if data.sa is not None:
        sa, sb = mmasim_tensor(data.sa, case.scale), mmasim_tensor(data.sb, case.scale)
        args += [sa[:, :, None, :].expand(-1, -1, n, -1)]
        args += [sb.transpose(1, 2)[:, None, :, :].expand(-1, m, -1, -1)]
    d = op.dpa(*args).numpy()
    if check_call:
        one = [a[0], b[0], c[0]] + ([sa[0], sb[0]] if data.sa is not None else [])
        d0 = op(*one).numpy()
        assert (d0.view(np.uint8) == d[0].view(np.uint8)).all(), (
            f"MMA-Sim {case.form}: batched dpa differs from __call__"
        )
    return d


def bits(x, out):
    """The result's bits: fp32 for f32 outputs, fp16 for f16 outputs."""
    if out == "f32":
        return x.astype(np.float32).view(np.uint32)
    h = x.astype(np.float16)
    if x.dtype == np.float32:  # fp8emu's float32 holds fp16 values: the cast is exact
        same = h.astype(np.float32).view(np.uint32) == x.view(np.uint32)
        assert (same | np.isnan(x)).all(), "fp8emu's f16 result is not an fp16 value"
    return h.view(np.uint16)


# ----------------------------------------------------------------------------- one case


def classify(emu_d, sim_d, out, max_finite, variants):
    """(diff, class name per element): the inspections first, then the recomputations
    variants = [(class, fn)], in order, each only while some difference is unexplained:
    fn() gives (fp8emu result, MMA-Sim result) of a variant, and a difference whose
    variant results are bit-equal is put in that class; then NAN_ONE, LAST_BIT."""
    e_bits, s_bits = bits(emu_d, out), bits(sim_d, out)
    diff = e_bits != s_bits
    e64, s64 = emu_d.astype(np.float64), sim_d.astype(np.float64)
    cls = np.full(emu_d.shape, "", dtype=object)
    both_zero = (e64 == 0) & (s64 == 0)
    same_sign = np.signbit(e64) == np.signbit(s64)
    cls[diff & both_zero] = ZERO_SIGN
    cls[diff & np.isinf(s64) & (np.abs(e64) == max_finite) & same_sign] = OVERFLOW
    cls[diff & np.isinf(e64) & (np.abs(s64) == max_finite) & same_sign] = OVERFLOW_REV
    cls[diff & np.isnan(e64) & np.isnan(s64)] = NAN_BITS
    for name, variant in variants:
        todo = diff & (cls == "")
        if not todo.any():
            break
        v = variant()
        if v is None:
            continue
        v_emu, v_sim = v
        cls[todo & (bits(v_emu, out) == bits(v_sim, out))] = name
    cls[diff & (cls == "") & (np.isnan(e64) != np.isnan(s64))] = NAN_ONE
    finite = np.isfinite(e64) & np.isfinite(s64) & same_sign
    gap = np.abs(e_bits.astype(np.int64) - s_bits.astype(np.int64))
    cls[diff & (cls == "") & finite & (gap == 1)] = LAST_BIT
    cls[diff & (cls == "")] = OTHER
    return diff, cls


def run_case(case, tiles, seed):
    """Run one case on both sides; tiles: {run: tile count}.  Returns the counts, per
    class and per run, and an example per class."""
    op = mmasim_op(case)
    cfg = fp8emu_config(case)
    max_finite = get_format(cfg.acc_format).max_finite
    result = dict(cases=0, equal=0, classes={}, runs={}, examples={})
    for run, count in tiles.items():
        key = f"{case.form} {case.arch} {case.preset} {run}"
        rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
        data = make_data(rng, case, count, run)
        emu_d = run_fp8emu(cfg, data)
        sim_d = run_mmasim(op, case, data, check_call=True)
        variants = recomputations(case, op, data, emu_d, sim_d)
        diff, cls = classify(emu_d, sim_d, case.out, max_finite, variants)
        result["cases"] += diff.size
        result["equal"] += int((~diff).sum())
        result["runs"][run] = dict(cases=diff.size, equal=int((~diff).sum()))
        for name in class_order(case.preset):
            where = np.argwhere(cls == name)
            if len(where) == 0:
                continue
            result["classes"][name] = result["classes"].get(name, 0) + len(where)
            if name not in result["examples"]:
                t, i, j = where[0]
                result["examples"][name] = example(case, data, t, i, j, emu_d, sim_d, run)
    order = class_order(case.preset)
    result["classes"] = dict(sorted(result["classes"].items(), key=lambda kv: order.index(kv[0])))
    return result


MAX_REFERENCE = 500  # differing elements per run recomputed by emu.reference.gemm


def recomputations(case, op, data, emu_d, sim_d):
    """[(class, fn)]: fn() recomputes one side with a variant; the classes of classify()."""

    def reference():
        cfg = fp8emu_config(case)
        d = emu_d.copy()
        todo = np.argwhere(bits(emu_d, case.out) != bits(sim_d, case.out))
        for t, i, j in todo[:MAX_REFERENCE]:
            kw = {}
            if data.sa is not None:
                kw = dict(sa=data.sa[t, i : i + 1], sb=data.sb[t, :, j : j + 1])
            c = data.c[t, i : i + 1, j : j + 1].astype(np.float32)
            d[t, i, j] = emu.reference.gemm(
                data.a[t, i : i + 1], data.b[t, :, j : j + 1], c=c, config=cfg, **kw
            )[0, 0]
        return d, sim_d

    def zero_terms_dropped():
        op2 = without_zero_terms(op)
        return None if op2 is None else (emu_d, run_mmasim(op2, case, data))

    def special_c():
        op2 = special_c_kept(op)
        return None if op2 is None else (emu_d, run_mmasim(op2, case, data))

    def fp8emu_variant(changes):
        return lambda: (run_fp8emu(fp8emu_config(case, changes.items()), data), sim_d)

    return [(KERNEL, reference), (ZERO_EMAX, zero_terms_dropped), (SPECIAL_C, special_c)] + [
        (name, fp8emu_variant(changes)) for name, changes, _ in VARIANTS.get(case.preset, ())
    ]


def class_order(preset):
    """Every class name a case of this preset can have, in the order of the report."""
    inspect = [c for c in CLASSES if c not in (LAST_BIT, OTHER)]
    return inspect + [v[0] for v in VARIANTS.get(preset, ())] + [LAST_BIT, OTHER]


def example(case, data, t, i, j, emu_d, sim_d, run):
    """One differing element, as codes (fp8emu's layout) and bits (for --json)."""
    hexs = lambda x: " ".join(f"{int(v):02x}" for v in x)  # noqa: E731
    ex = dict(
        run=run,
        tile=int(t),
        row=int(i),
        col=int(j),
        a=hexs(data.a[t, i]),
        b=hexs(data.b[t, :, j]),
        c=f"{int(bits(data.c[t, i, j : j + 1], case.out)[0]):#x}",
        fp8emu=f"{int(bits(emu_d[t, i, j : j + 1], case.out)[0]):#x}",
        mmasim=f"{int(bits(sim_d[t, i, j : j + 1], case.out)[0]):#x}",
    )
    if data.sa is not None:
        ex["sa"], ex["sb"] = hexs(data.sa[t, i]), hexs(data.sb[t, :, j])
    return ex


def tiles_for(case, target):
    """{run: tiles}: at least `target` elements in the finite run."""
    per_tile = case.m * case.n
    return {run: max(1, math.ceil(target * share / per_tile)) for run, share in RUNS}


# ----------------------------------------------------------------------------- report


def instruction(case):
    return f"`{PTX_NAME[case.api]} {case.family}` ({case.arch})"


def preset_label(case):
    extra = " ".join(f"{k}={v}" for k, v in case.changes)
    return f"`{case.preset}`" + (f" with `{extra}`" if extra else "")


def group_results(results):
    """One line per instruction family, output type and preset: the type pairs together."""
    groups = {}
    for case, r in results:
        g = groups.setdefault(
            (case.api, case.arch, case.family, case.out, case.preset, case.changes),
            dict(case=case, pairs=[], cases=0, equal=0, classes={}, errors=0),
        )
        g["pairs"].append(case.pair)
        if "error" in r:
            g["errors"] += 1
            continue
        g["cases"] += r["cases"]
        g["equal"] += r["equal"]
        for k, v in r["classes"].items():
            g["classes"][k] = g["classes"].get(k, 0) + v
    return list(groups.values())


def markdown(results, unclaimed, skipped, missing, target):
    lines = [
        "| instruction (MMA-Sim arch) | output | preset | type pairs | cases | bit-equal "
        "| differences |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in group_results(results):
        case = g["case"]
        diffs = ", ".join(f"{k}: {v}" for k, v in g["classes"].items()) or "none"
        if g["errors"]:
            diffs += f"; {g['errors']} pair(s) refused by fp8emu"
        pct = 100.0 * g["equal"] / g["cases"] if g["cases"] else 0.0
        pairs = len(g["pairs"]) if len(g["pairs"]) > 1 else g["pairs"][0]
        lines.append(
            f"| {instruction(case)} | {case.out} | {preset_label(case)} | {pairs} | "
            f"{g['cases']} | {g['equal']} ({pct:.2f}%) | {diffs} |"
        )
    bad = [(c, r) for c, r in results if "error" in r or r["classes"]]
    if bad:
        lines += ["", "Type pairs with differences:", ""]
        lines += ["| instruction | preset | pair | cases | differences |", "|---|---|---|---|---|"]
        for c, r in bad:
            what = r.get("error") or ", ".join(f"{k}: {v}" for k, v in r["classes"].items())
            lines.append(
                f"| `{PTX_NAME[c.api]} {c.form}` ({c.arch}) | {preset_label(c)} | {c.pair} | "
                f"{r.get('cases', 0)} | {what} |"
            )
    n_pairs = len(results)
    n_elems = sum(r.get("cases", 0) for _, r in results)
    seen = {k for _, r in results for k in r.get("classes", {})}
    explain = {c: what for c, (what, _) in CLASSES.items()}
    for preset, variants in VARIANTS.items():
        for name, changes, _ in variants:
            with_ = " ".join(f"{f}={v}" for f, v in changes.items())
            explain[name] = f"`{preset}` with `{with_}` gives MMA-Sim's bits"
    lines += [
        "",
        f"{n_pairs} instruction/type pairs, {n_elems} elements.  Cases per pair: random "
        f"finite data (at least {target:,} elements), data near zero, NaN/Inf data and one "
        "tile of hand-made probes and every finite code (`scripts/crosscheck.py --json` "
        "has the counts of each and an example per class).  f16 outputs: the preset with "
        "`acc_format=fp16 acc_round=rne`, compared as fp16 bits.",
    ]
    if seen:
        lines += ["", "Classes of difference:", ""]
        lines += [f"* **{k}**: {why}" for k, why in explain.items() if k in seen]
    notes = sorted({c.note for c, _ in results if c.note})
    lines += ["", *[f"Note: {n}." for n in notes]] if notes else []
    lines += ["", "MMA-Sim instruction families that no preset models:", ""]
    lines += ["| MMA-Sim | arch | forms | status |", "|---|---|---|---|"]
    for f in not_modelled(unclaimed, missing):
        shown = ", ".join(f"`{x}`" for x in f["forms"][:3])
        more = f" and {len(f['forms']) - 3} more" if len(f["forms"]) > 3 else ""
        archs = ", ".join(f["archs"])
        lines.append(
            f"| `{f['ptx']}` | {archs} | {len(f['forms'])}: {shown}{more} | {f['status']} |"
        )
    if skipped:
        lines += ["", "Presets not compared:", ""]
        lines += [f"* `{p}`: {why}" for p, why in skipped.items()]
    return "\n".join(lines)


def not_modelled(unclaimed, missing):
    """Groups of the MMA-Sim forms no preset is compared on: (api, why) -> forms."""
    entries = dict(unclaimed)
    for c in missing:
        entries[(c.api, c.arch, c.family.format(a=c.a, b=c.b) + f" ({c.out})")] = (
            f"claimed by `{c.preset}`, which this fp8emu does not have"
        )
    groups = {}
    for (api, arch, fam), why in sorted(entries.items(), key=lambda e: (e[0][0] == "MFMA", e)):
        g = groups.setdefault((api, why), dict(archs=[], forms=[]))
        g["archs"] += [arch] if arch not in g["archs"] else []
        g["forms"].append(fam)
    return [
        dict(api=api, ptx=PTX_NAME[api], archs=g["archs"], forms=g["forms"], status=why)
        for (api, why), g in groups.items()
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="512 elements per pair (smoke run)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", action="append", help="only these presets (repeatable)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    args = p.parse_args(argv)
    try:
        from importlib.metadata import version

        import mmasim  # noqa: F401
        import torch

        assert version("mmasim") == MMASIM_VERSION, f"mmasim {version('mmasim')} is installed"
    except (ImportError, AssertionError) as e:
        print(
            f"crosscheck: needs mmasim=={MMASIM_VERSION} and torch ({e}); run `make crosscheck`",
            file=sys.stderr,
        )
        return 2
    target = 512 if args.quick else 4096
    all_cases, unclaimed = derive_cases(mmasim_forms(), target)
    claiming = sorted({c.preset for c in all_cases})
    cases = [c for c in all_cases if not args.preset or c.preset in args.preset]
    if args.preset and not cases:
        print(f"crosscheck: no case for {args.preset}; presets: {claiming}", file=sys.stderr)
        return 2
    if args.list:
        for c in cases:
            extra = " ".join(f"{k}={v}" for k, v in c.changes)
            print(f"{c.preset:13} {extra:15} {c.api:21} {c.arch:14} {c.form}  m{c.m}n{c.n}k{c.k}")
        print(f"{len(cases)} cases", file=sys.stderr)
        return 0
    known = set(emu.presets())
    skipped = {
        p: NOT_AN_INSTRUCTION.get(p, "claims no MMA-Sim instruction in scripts/crosscheck.py")
        for p in sorted(known - set(claiming))
    }
    missing = [c for c in cases if c.preset not in known]
    t0 = time.perf_counter()
    results = []
    for case in cases:
        if case.preset not in known:
            continue
        t = time.perf_counter()
        try:
            r = run_case(case, tiles_for(case, target), args.seed)
        except UsageError as e:  # fp8emu refuses the configuration or the operands
            r = dict(error=f"fp8emu refuses it: {e}")
        r.update(
            api=case.api,
            arch=case.arch,
            form=case.form,
            preset=case.preset,
            changes=dict(case.changes),
            pair=case.pair,
            out=case.out,
            seconds=round(time.perf_counter() - t, 2),
        )
        results.append((case, r))
        status = r.get("error") or f"{r['equal']}/{r['cases']} equal"
        print(f"  {case.preset:12} {case.api} {case.form}: {status}", file=sys.stderr)
    print(markdown(results, unclaimed, skipped, missing, target))
    total = sum(r.get("cases", 0) for _, r in results)
    bad = {}  # undocumented class: count, in the order of the report
    order = [c for c in CLASSES if c not in (LAST_BIT, OTHER)]
    order += [v[0] for vs in VARIANTS.values() for v in vs] + [LAST_BIT, OTHER]
    for name in order:
        bad[name] = sum(r.get("classes", {}).get(name, 0) for _, r in results)
    bad = {k: v for k, v in bad.items() if v and k not in DOCUMENTED}
    errors = [r for _, r in results if "error" in r]
    elapsed = time.perf_counter() - t0
    problems = []
    if bad:
        cause = {c: why for c, (_, why) in CLASSES.items()}
        cause |= {name: why for vs in VARIANTS.values() for name, _, why in vs}
        what = ", ".join(f"{k}: {v} ({cause[k]})" for k, v in bad.items())
        problems.append(
            f"{sum(bad.values())} of {total} elements differ from MMA-Sim {MMASIM_VERSION} "
            f"in classes that docs/numerics.md does not document: {what}"
        )
    if errors:
        problems.append(f"{len(errors)} claimed instruction/type pairs refused by fp8emu")
    if missing:
        names = sorted({c.preset for c in missing})
        problems.append(f"{len(missing)} claimed pairs not compared: no preset {names}")
    if problems:
        verdict = "crosscheck: FAIL: " + "; ".join(problems)
    else:
        verdict = (
            f"crosscheck: OK: {len(results)} instruction/type pairs, {total} elements, every "
            "one bit-equal or a documented class"
        )
    print(f"\n{verdict}")
    print(
        f"crosscheck: {len(results)} cases in {elapsed:.1f} s (torch {torch.__version__})",
        file=sys.stderr,
    )
    if args.json:
        doc = dict(
            mmasim=MMASIM_VERSION,
            fp8emu=emu.__version__,
            torch=torch.__version__,
            seed=args.seed,
            quick=args.quick,
            documented=sorted(DOCUMENTED),
            classes=CLASSES,
            results=[r for _, r in results],
            not_modelled=not_modelled(unclaimed, missing),
            presets_not_compared=skipped,
            verdict=verdict,
            seconds=round(elapsed, 1),
        )
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # a crash is not a difference: exit 3, as fp8emu's internal errors
        import traceback

        traceback.print_exc()
        sys.exit(3)
