"""`make crosscheck`: fp8emu's presets against Microsoft's MMA-Sim 2.1.1, bit for bit.

MMA-Sim (arXiv 2511.10909) is a bit-accurate simulator of NVIDIA and AMD matrix
instructions, checked against the hardware.  For every fp8emu preset that claims
such an instruction (the table ROWS below) this script builds the MMA-Sim
instruction for every FP8 type pair and output type, runs it and `emu.gemm` on the
same inputs (one instruction each: K = the instruction's k, with C), and compares
the results bit for bit: fp32 bits for f32 outputs, fp16 bits for f16 outputs
(fp8emu's float32 result converted to fp16, which is exact; its NaN 0x7FFFFFFF
becomes 0x7FFF, the f16 NaN that MMA-Sim writes).  Each difference is put in a
class (CLASSES) by inspecting it or by recomputing it with a variant; the script
prints a Markdown table, then the MMA-Sim instruction families that no preset
models.

    python scripts/crosscheck.py [--quick] [--json FILE] [--seed N] [--preset NAME]

Inputs per instruction and type pair (seeded, deterministic; RUNS): a run of at
least 4,096 output elements with random finite codes (zeros of both signs,
subnormals, narrow and wide exponents, whole rows of zeros or of tiny values), C over
the whole range (+0, -0, subnormals, huge), UE8M0 scales (0x00, 0xFE, near 127,
random); a run of at least 1,024 near zero (tiny operands, C = +-0 or subnormal,
small scales); a run of at least 1,024 with NaN and Inf codes, NaN and Inf C and NaN
scales (0xFF); and one tile with hand-made probes (probe_data).  `--quick`: 512
elements in the first run, one tile in each of the others.

Exit status: 0 when every compared element is bit-equal or differs only in a class
listed in DOCUMENTED (a difference that docs/numerics.md documents as a decision);
1 otherwise, with one line at the end that says why; 2 on a usage error (mmasim or
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
from emu.numerics.formats import get_format  # noqa: E402

MMASIM_VERSION = "2.1.1"

# Classes of difference accepted because docs/numerics.md documents them as a
# decision (a class name from CLASSES).  Empty: every difference known today is a
# convention fp8emu does not model yet (docs/numerics.md, "Planned"), not a decision.
DOCUMENTED: frozenset[str] = frozenset()

ZERO_SIGN = "zero sign"
OVERFLOW = "overflow: MMA-Sim Inf, fp8emu max finite"
OVERFLOW_REV = "overflow: fp8emu Inf, MMA-Sim max finite"
NAN_BITS = "NaN bits"
ZERO_EMAX = "zero terms set e_max"
OTHER = "other"
# Each class: what it means (printed under the table), and what fp8emu lacks.
CLASSES = {
    ZERO_SIGN: (
        "both results are zeros, of different signs (MMA-Sim: every zero result is +0)",
        "planned zero_sign = positive",
    ),
    OVERFLOW: (
        "MMA-Sim gives +-Inf where fp8emu's rz gives +-max finite of the accumulator",
        "planned overflow = inf",
    ),
    OVERFLOW_REV: ("fp8emu gives +-Inf where MMA-Sim gives +-max finite", "unexplained"),
    NAN_BITS: ("both NaN, different bits", "unexplained"),
    ZERO_EMAX: (
        "MMA-Sim with zero terms left out of the choice of e_max (fp8emu's step 3) gives "
        "fp8emu's bits: in MMA-Sim every zero term takes part, with exponent e_zero",
        "planned zero_exp",
    ),
    OTHER: ("none of the above", "unexplained"),
}


@dataclass(frozen=True)
class Row:
    """One fp8emu preset against one MMA-Sim instruction family (every FP8 type pair)."""

    preset: str
    api: str  # the MMA-Sim class: mmasim.nv_ptx.<api>
    arch: str  # MMA-Sim's architecture name
    form: str  # the PTX form; {n}, {d} (output type), {a}, {b} are filled in
    m: int
    k: int
    n: int | None = None  # None: any multiple of 8 up to 256 (chosen from the case count)
    outputs: tuple = ("f32", "f16")
    scaled: bool = False  # UE8M0 block scales per 32 k (block_scale forms)
    note: str = ""
    # (class name, MacConfig changes, cause): a difference that fp8emu with these
    # changes does not have is put in that class
    variants: tuple = ()


ROWS = [
    Row("h100", "WGMMA", "Hopper", "m64n{n}k32.{d}.{a}.{b}", m=64, k=32),
    Row("ada", "MMA", "Ada Lovelace", "m16n8k32.{d}.{a}.{b}.{d}", m=16, k=32, n=8),
    Row("ada", "MMA", "Ada Lovelace", "m16n8k16.{d}.{a}.{b}.{d}", m=16, k=16, n=8),
    Row(
        "b200",
        "TCGen05MMA",
        "Blackwell",
        "m128n{n}k32.kind::f8f6f4.{d}.{a}.{b}",
        m=128,
        k=32,
        note="b200 claims Blackwell warp-level mma.sync FP8, which MMA-Sim 2.1.1 does not "
        "have (its Blackwell mma has no FP8 form); compared with the FP8 instruction it "
        "has for that chip, tcgen05.mma kind::f8f6f4",
        variants=(
            (
                "datapath (MMA-Sim: align 25, rz)",
                dict(align_bits=25, acc_round="rz"),
                "b200 is not MMA-Sim's tcgen05 datapath, planned b200-tcgen05",
            ),
        ),
    ),
    Row(
        "mxfp8",
        "MMABlockScale",
        "RTX Blackwell",
        "m16n8k32.kind::mxf8f6f4.block32.{d}.{a}.{b}.{d}.ue8m0",
        m=16,
        k=32,
        n=8,
        outputs=("f32",),
        scaled=True,
    ),
    Row(
        "mxfp8",
        "TCGen05MMABlockScale",
        "Blackwell",
        "m128n{n}k32.kind::mxf8f6f4.block32.{d}.{a}.{b}.ue8m0",
        m=128,
        k=32,
        outputs=("f32",),
        scaled=True,
    ),
]

# Presets that claim no MMA-Sim instruction, and why.
NOT_AN_INSTRUCTION = {
    "default": "a design point, not a chip",
    "exact": "the exact result rounded once, by definition",
    "fp32-seq": "a chain of FP32 FMAs on CUDA cores, not a matrix instruction",
    "deepseek-v3": "a software recipe (scales applied at promotion to FP32 every 128 k on "
    "CUDA cores) around the h100 datapath, which the h100 rows check",
}

PAIRS = [(a, b) for a in ("e4m3", "e5m2") for b in ("e4m3", "e5m2")]
# fp8emu changes for each output type (docs/numerics.md, Planned: fp16 results)
OUTPUTS = {"f32": {}, "f16": dict(acc_format="fp16", acc_round="rne")}
PTX_NAME = {
    "MMA": "mma.sync",
    "MMABlockScale": "mma.sync.block_scale",
    "WGMMA": "wgmma.mma_async",
    "TCGen05MMA": "tcgen05.mma",
    "TCGen05MMABlockScale": "tcgen05.mma.block_scale",
    "MFMA": "v_mfma",
}


# ----------------------------------------------------------------------------- inputs

FP8 = {  # exponent bits, fraction bits, NaN codes, Inf codes
    "e4m3": (4, 3, (0x7F, 0xFF), ()),
    "e5m2": (5, 2, (0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF), (0x7C, 0xFC)),
}


# The runs of every case: name, share of the element count.  finite: random finite
# data; tiny: operands and C near zero (and small scales), where zero terms and signs
# of zero decide; specials: finite data with NaN and Inf codes, C and scales; probes:
# hand-made elements on a finite tile (probe_data).
RUNS = (("finite", 1.0), ("tiny", 0.25), ("specials", 0.25), ("probes", 0.0))  # 0: one tile


def fp8_vectors(rng, fmt, shape, run):
    """FP8 codes of `shape` (..., vectors, k): each vector (a row of A or a column of
    B) is random finite codes, narrow exponents, tiny values, or all zeros of one sign."""
    ebits, mbits, nans, infs = FP8[fmt]
    bias, emax_field = 2 ** (ebits - 1) - 1, 2**ebits - 1
    sign = rng.integers(0, 2, shape) << 7
    frac = rng.integers(0, 2**mbits, shape)
    e_wide = rng.integers(0, emax_field + 1, shape)
    e_narrow = rng.integers(bias - 2, bias + 3, shape)
    e_tiny = rng.choice([0, 0, 0, 1], shape)
    kind = rng.choice(4, shape, p=[0.12, 0.13, 0.35, 0.40])  # zero, subnormal, narrow, wide
    e = np.select([kind == 0, kind == 1, kind == 2], [0, 0, e_narrow], e_wide)
    frac = np.where(kind == 0, 0, np.where(kind == 1, np.maximum(frac, 1), frac))
    p_mode = [0.0, 0.0, 0.8, 0.2] if run == "tiny" else [0.70, 0.12, 0.10, 0.08]
    mode = rng.choice(4, shape[:-1] + (1,), p=p_mode)  # mixed, narrow, tiny, zero
    e = np.select([mode == 1, mode == 2], [e_narrow, e_tiny], e)
    one_sign = rng.random(shape[:-1] + (1,)) < 0.25  # every element of the vector
    sign = np.where(one_sign, rng.integers(0, 2, shape[:-1] + (1,)) << 7, sign)
    codes = sign | (e << mbits) | frac
    zero_sign = rng.integers(0, 2, shape[:-1] + (1,)) << 7
    codes = np.where(mode == 3, zero_sign, codes)
    if fmt == "e4m3":  # the only non-finite e4m3 codes: S.1111.111
        codes = np.where((codes & 0x7F) == 0x7F, codes & 0xFE, codes)
    else:  # e5m2: exponent field 31 is Inf/NaN
        codes = np.where((codes >> 2 & 0x1F) == 31, codes & 0xFB, codes)
    if run == "specials":
        special = rng.choice(nans + infs * 2, shape)
        codes = np.where(rng.random(shape) < 0.015, special, codes)
    return codes.astype(np.uint8)


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


def scale_vectors(rng, shape, run):
    """UE8M0 scale codes: 0x00, 0xFE, near 127, random (0xFF, NaN, with specials); the
    tiny run: near 57, so that the two scales put products near 2^-140."""
    p_kind = [0.1, 0.0, 0.75, 0.15] if run == "tiny" else [0.08, 0.08, 0.44, 0.40]
    kind = rng.choice(4, shape, p=p_kind)  # 0x00, 0xFE, near, random
    near = (57 if run == "tiny" else 127) + rng.integers(-10, 11, shape)
    codes = np.select(
        [kind == 0, kind == 1, kind == 2], [0, 0xFE, near], rng.integers(0, 255, shape)
    )
    if run == "specials":
        codes = np.where(rng.random(shape) < 0.05, 0xFF, codes)
    return codes.astype(np.uint8)


@dataclass
class Data:
    a: np.ndarray  # (T, m, k) codes
    b: np.ndarray  # (T, k, n) codes
    c: np.ndarray  # (T, m, n) float32 or float16
    sa: np.ndarray | None  # (T, m, k/32) UE8M0 codes
    sb: np.ndarray | None  # (T, k/32, n)


def make_data(rng, row, n, tiles, a_fmt, b_fmt, out, run):
    if run == "probes":
        return probe_data(rng, row, n, a_fmt, b_fmt, out)
    m, k = row.m, row.k
    a = fp8_vectors(rng, a_fmt, (tiles, m, k), run)
    b = fp8_vectors(rng, b_fmt, (tiles, n, k), run).transpose(0, 2, 1).copy()
    c = float_values(rng, out, (tiles, m, n), run)
    # where a row of A or a column of B is all zeros, C is a zero of either sign half the time
    zero_a = ((a & 0x7F) == 0).all(axis=-1)  # (tiles, m)
    zero_b = ((b & 0x7F) == 0).all(axis=1)  # (tiles, n)
    zero_c = (zero_a[:, :, None] | zero_b[:, None, :]) & (rng.random(c.shape) < 0.5)
    c = np.where(zero_c, np.where(rng.random(c.shape) < 0.5, -0.0, 0.0).astype(c.dtype), c)
    sa = sb = None
    if row.scaled:
        sa = scale_vectors(rng, (tiles, m, k // 32), run)
        sb = scale_vectors(rng, (tiles, n, k // 32), run).transpose(0, 2, 1).copy()
    return Data(a, b, c, sa, sb)


def probe_data(rng, row, n, a_fmt, b_fmt, out):
    """One random finite tile whose rows 0-3 of A and columns 0-1 of B are hand-made:
    rows: the e_zero probe, its negation, overflow, all -0 (with C = -0); columns: the
    e_zero probe, overflow.

    The e_zero probe (block scales only): C = +0 and x + 1 products with odd
    significands whose sum S, in units of their last bit, is just above a multiple of
    1024 (S mod 1024 <= x); the scales put that last bit at 2^-159, so the fp32 result
    is floor(S / 1024) units of 2^-149.  When a zero term (C = 0 or a zero product) sets
    e_max = -133 (MMA-Sim: 25 bits, quantum 2^-158) every product loses its last bit
    and the result is one unit less."""
    data = make_data(rng, row, n, 1, a_fmt, b_fmt, out, "finite")
    (ea, fa, _, _), (eb, fb, _, _) = FP8[a_fmt], FP8[b_fmt]
    mb = 2 ** (fb + 1) - 1  # the largest odd significand of B
    odd_a = range(2**fa + 1, 2 ** (fa + 1), 2)
    x, ma1, ma2 = next(
        ((x, m1, m2) for x in range(1, row.k) for m1 in odd_a for m2 in odd_a
         if (t := mb * (x * m1 + m2)) >= 1024 and t % 1024 <= x),
        (row.k - 1, odd_a[-1], odd_a[-1]),
    )  # fmt: skip
    one_a, one_b = (2 ** (ea - 1) - 1) << fa, (2 ** (eb - 1) - 1) << fb  # exponent 0
    ez = np.zeros(row.k, np.uint8)
    ez[:x] = one_a | (ma1 - 2**fa)
    ez[x] = one_a | (ma2 - 2**fa)
    max_a, max_b = (0x7E if f == "e4m3" else 0x7B for f in (a_fmt, b_fmt))
    s_sum = 95 + fa + fb  # (Sa - 127) + (Sb - 127) = -159 + fa + fb
    a, b, c = data.a[0], data.b[0], data.c[0]
    a[0], a[1], a[2], a[3] = ez, ez | 0x80, max_a, 0x80
    c[0:3], c[3] = 0.0, -0.0
    b[:, 0], b[:, 1] = one_b | (mb - 2**fb), max_b
    if row.scaled:
        data.sa[0, 0:2], data.sa[0, 2], data.sa[0, 3] = s_sum // 2, 0xFE, 127
        data.sb[0, :, 0], data.sb[0, :, 1] = s_sum - s_sum // 2, 0xFE
    return data


# ----------------------------------------------------------------------------- both sides


def run_fp8emu(cfg, data):
    tiles, m, _ = data.a.shape
    d = np.empty((tiles, m, data.b.shape[2]), np.float32)
    for t in range(tiles):
        kw = {} if data.sa is None else dict(sa=data.sa[t], sb=data.sb[t])
        d[t] = emu.gemm(data.a[t], data.b[t], c=data.c[t].astype(np.float32), config=cfg, **kw)
    return d


def mmasim_op(row, form):
    import mmasim.nv_ptx

    return getattr(mmasim.nv_ptx, row.api)(row.arch, form)


def without_zero_terms(op):
    """A copy of an MMA-Sim instruction whose zero terms do not take part in e_max."""
    op = copy.copy(op)
    op.arithmetic_op = copy.copy(op.arithmetic_op)
    op.arithmetic_op.e_zero = -(1 << 20)  # below every exponent: never the largest
    return op


def run_mmasim(op, data, a_fmt, b_fmt):
    import torch

    dt = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}
    out = []
    for t in range(data.a.shape[0]):
        args = [
            torch.from_numpy(data.a[t]).view(dt[a_fmt]),
            torch.from_numpy(data.b[t]).view(dt[b_fmt]),
            torch.from_numpy(data.c[t]),
        ]
        if data.sa is not None:
            args += [torch.from_numpy(x[t]).view(torch.float8_e8m0fnu) for x in (data.sa, data.sb)]
        out.append(op(*args).numpy())
    return np.stack(out)


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
    variant results are bit-equal is put in that class."""
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
        v_emu, v_sim = variant()
        cls[todo & (bits(v_emu, out) == bits(v_sim, out))] = name
    cls[diff & (cls == "")] = OTHER
    return diff, cls


def case(row, a_fmt, b_fmt, out, n, tiles, seed):
    """Run one instruction form on both sides; tiles: {run: tile count}.  Returns the
    counts, per class and per run, and an example per class."""
    form = row.form.format(n=n, d=out, a=a_fmt, b=b_fmt)
    op = mmasim_op(row, form)
    base = emu.preset(row.preset).replace(a_format=a_fmt, b_format=b_fmt)
    cfg = base.replace(**OUTPUTS[out])
    max_finite = get_format(cfg.acc_format).max_finite
    result = dict(form=form, cases=0, equal=0, classes={}, runs={}, examples={})
    for run, count in tiles.items():
        rng = np.random.default_rng([seed, zlib.crc32(f"{form} {row.preset} {run}".encode())])
        data = make_data(rng, row, n, count, a_fmt, b_fmt, out, run)
        emu_d = run_fp8emu(cfg, data)
        sim_d = run_mmasim(op, data, a_fmt, b_fmt)
        variants = recomputations(row, op, base, out, data, a_fmt, b_fmt, emu_d, sim_d)
        diff, cls = classify(emu_d, sim_d, out, max_finite, variants)
        result["cases"] += diff.size
        result["equal"] += int((~diff).sum())
        result["runs"][run] = dict(cases=diff.size, equal=int((~diff).sum()))
        for name in class_order(row):
            where = np.argwhere(cls == name)
            if len(where) == 0:
                continue
            result["classes"][name] = result["classes"].get(name, 0) + len(where)
            if name not in result["examples"]:
                t, i, j = where[0]
                result["examples"][name] = example(data, t, i, j, emu_d, sim_d, out)
    order = class_order(row)
    result["classes"] = dict(sorted(result["classes"].items(), key=lambda kv: order.index(kv[0])))
    return result


def recomputations(row, op, base, out, data, a_fmt, b_fmt, emu_d, sim_d):
    """[(class, fn)]: fn() recomputes one side with a variant; the classes of classify()."""

    def zero_terms_dropped():
        return emu_d, run_mmasim(without_zero_terms(op), data, a_fmt, b_fmt)

    def fp8emu_variant(cfg):
        return lambda: (run_fp8emu(cfg, data), sim_d)

    out_changes = OUTPUTS[out]
    return [(ZERO_EMAX, zero_terms_dropped)] + [
        (name, fp8emu_variant(base.replace(**changes).replace(**out_changes)))
        for name, changes, _ in row.variants
    ]


def class_order(row):
    """Every class name a case of this row can have, in the order of the report."""
    return [c for c in CLASSES if c != OTHER] + [v[0] for v in row.variants] + [OTHER]


def example(data, t, i, j, emu_d, sim_d, out):
    """One differing element, as codes and bits (for --json)."""
    hexs = lambda x: " ".join(f"{int(v):02x}" for v in x)  # noqa: E731
    ex = dict(
        a=hexs(data.a[t, i]),
        b=hexs(data.b[t, :, j]),
        c=f"{int(bits(data.c[t, i, j : j + 1], out)[0]):#x}",
        fp8emu=f"{int(bits(emu_d[t, i, j : j + 1], out)[0]):#x}",
        mmasim=f"{int(bits(sim_d[t, i, j : j + 1], out)[0]):#x}",
    )
    if data.sa is not None:
        ex["sa"], ex["sb"] = hexs(data.sa[t, i]), hexs(data.sb[t, :, j])
    return ex


def shape(row, target):
    """(n, {run: tiles}): at least `target` elements in the finite run."""
    n = row.n or max(8, min(256, target // (2 * row.m) // 8 * 8))
    return n, {run: max(1, math.ceil(target * share / (row.m * n))) for run, share in RUNS}


# ----------------------------------------------------------------------------- families


def mmasim_families():
    """{(api, arch, family)}: every MMA-Sim 2.1.1 instruction form, with m and n of the
    wgmma and tcgen05 forms written M and N (they do not change the numerics)."""
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
    return {
        (api, arch, family(api, form))
        for api, table in tables
        for arch, forms in table.items()
        for form in forms
    }


def family(api, form):
    if api in ("WGMMA", "TCGen05MMA", "TCGen05MMABlockScale"):
        return re.sub(r"^m\d+n\d+k", "mMnNk", form)
    return form


def why_not(api, arch, fam):
    tokens = set(re.split(r"[._]", fam))
    if api == "MFMA":
        if tokens & {"fp8", "bf8"}:
            return "FP8 with FNUZ operands (e4m3fnuz/e5m2fnuz): not modelled (planned `cdna3`)"
        return "out of scope: not FP8 operands"
    if tokens & {"kind::mxf4", "kind::mxf4nvf4"}:
        return (
            "k64 FP4 block scale (mxf4 / nvf4, groups of 16, UE8M0 or UE4M3 scales): not "
            "modelled (planned `b200-mxf4`, `b200-nvfp4`)"
        )
    if tokens & {"e3m2", "e2m3", "e2m1"}:
        return "FP6/FP4 operands: not modelled (fp8emu has FP8 operands only)"
    if tokens & {"e4m3", "e5m2"}:
        if arch == "RTX Blackwell":
            return (
                "FP8, claimed by no preset (MMA-Sim gives it the numerics of tcgen05 "
                "kind::f8f6f4: planned `b200-tcgen05`)"
            )
        return "FP8, claimed by no preset"
    return "out of scope: not FP8 operands (tf32, f16, bf16, f32, f64)"


def not_modelled(rows):
    compared = {
        (r.api, r.arch, family(r.api, r.form.format(n=8, d=d, a=a, b=b)))
        for r in rows
        for d in r.outputs
        for a, b in PAIRS
    }
    groups = {}
    for api, arch, fam in sorted(mmasim_families(), key=lambda f: (f[0] == "MFMA", f)):
        if (api, arch, fam) not in compared:
            g = groups.setdefault((api, why_not(api, arch, fam)), dict(archs=[], forms=[]))
            g["archs"] += [arch] if arch not in g["archs"] else []
            g["forms"].append(fam)
    return [
        dict(api=api, ptx=PTX_NAME[api], archs=g["archs"], forms=g["forms"], status=why)
        for (api, why), g in groups.items()
    ]


# ----------------------------------------------------------------------------- report


def markdown(results, families, skipped):
    lines = [
        "| instruction (MMA-Sim arch) | preset | cases | bit-equal | differences |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        diffs = ", ".join(f"{k}: {v}" for k, v in r["classes"].items()) or "none"
        pct = 100.0 * r["equal"] / r["cases"]
        lines.append(
            f"| `{PTX_NAME[r['api']]} {r['form']}` ({r['arch']}) | `{r['preset']}` | "
            f"{r['cases']} | {r['equal']} ({pct:.2f}%) | {diffs} |"
        )
    seen = {k for r in results for k in r["classes"]}
    explain = {c: what for c, (what, _) in CLASSES.items() if c != OTHER}
    for row in ROWS:
        for name, changes, _ in row.variants:
            with_ = " ".join(f"{f}={v}" for f, v in changes.items())
            explain[name] = f"fp8emu with `{with_}` gives MMA-Sim's bits"
    explain[OTHER] = CLASSES[OTHER][0]
    lines += [
        "",
        "Cases: per row, random finite data, data near zero, NaN/Inf data and one tile of "
        "hand-made probes (`scripts/crosscheck.py --json` has the counts of each and an "
        "example per class).  f16 outputs: the preset with `acc_format=fp16 acc_round=rne`, "
        "compared as fp16 bits.",
        "",
        "Classes of difference:",
        "",
    ]
    lines += [f"* **{k}**: {why}" for k, why in explain.items() if k in seen]
    notes = {r.note for r in ROWS if r.note and r.preset in {x["preset"] for x in results}}
    lines += ["", *[f"Note: {n}." for n in sorted(notes)]] if notes else []
    lines += ["", "MMA-Sim instruction families that no preset models:", ""]
    lines += ["| MMA-Sim | arch | forms | status |", "|---|---|---|---|"]
    for f in families:
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="512 elements per pair (smoke run)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", action="append", help="only these presets (repeatable)")
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
    known = set(emu.presets())
    rows = [r for r in ROWS if not args.preset or r.preset in args.preset]
    if args.preset and not rows:
        print(
            f"crosscheck: no row for {args.preset}; rows: {sorted({r.preset for r in ROWS})}",
            file=sys.stderr,
        )
        return 2
    skipped = {
        p: NOT_AN_INSTRUCTION.get(p, "no row in scripts/crosscheck.py")
        for p in sorted(known - {r.preset for r in ROWS})
    }
    target = 512 if args.quick else 4096
    t0 = time.perf_counter()
    results = []
    for row in rows:
        if row.preset not in known:
            skipped[row.preset] = "listed in ROWS but not a preset of this fp8emu"
            continue
        n, tiles = shape(row, target)
        for out in row.outputs:
            for a_fmt, b_fmt in PAIRS:
                t = time.perf_counter()
                r = case(row, a_fmt, b_fmt, out, n, tiles, args.seed)
                r.update(
                    preset=row.preset,
                    api=row.api,
                    arch=row.arch,
                    seconds=round(time.perf_counter() - t, 2),
                )
                results.append(r)
                print(
                    f"  {row.preset:6} {row.api} {r['form']}: {r['equal']}/{r['cases']} equal",
                    file=sys.stderr,
                )
    families = not_modelled(ROWS)
    print(markdown(results, families, skipped))
    total = sum(r["cases"] for r in results)
    bad = {}  # undocumented class: count, in the order of the report
    for name in [c for c in CLASSES if c != OTHER] + [v[0] for r in ROWS for v in r.variants]:
        bad[name] = sum(r["classes"].get(name, 0) for r in results)
    bad[OTHER] = sum(r["classes"].get(OTHER, 0) for r in results)
    bad = {k: v for k, v in bad.items() if v and k not in DOCUMENTED}
    elapsed = time.perf_counter() - t0
    if bad:
        cause = {c: why for c, (_, why) in CLASSES.items()}
        cause |= {name: why for row in ROWS for name, _, why in row.variants}
        what = ", ".join(f"{k}: {v} ({cause[k]})" for k, v in bad.items())
        verdict = (
            f"crosscheck: FAIL: {sum(bad.values())} of {total} elements differ from MMA-Sim "
            f"{MMASIM_VERSION} in classes that docs/numerics.md does not document: {what}"
        )
    else:
        verdict = f"crosscheck: OK: {total} elements, every one bit-equal or a documented class"
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
            results=results,
            not_modelled=families,
            presets_not_compared=skipped,
            verdict=verdict,
            seconds=round(elapsed, 1),
        )
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # a crash is not a difference: exit 3, as fp8emu's internal errors
        import traceback

        traceback.print_exc()
        sys.exit(3)
