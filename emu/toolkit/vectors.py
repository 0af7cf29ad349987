"""``vectors``: test vectors for an RTL test bench under one config.

Every case is one dot product of K values: a row of A, a column of B, a scalar C,
the UE8M0 scale codes of the row and the column (one per K block), and the expected
result D computed by the emulator.  Directed cases target the rounding points
of the config (ties in the accumulator, the alignment cut and the promotion fold),
subnormal operands and results, saturation and overflow, NaN and Inf, UE8M0 0x00 /
0xFE / 0xFF, exact cancellation, alignment-window edges and carry-out; random cases
follow.  A directed case that the config cannot express (Inf cases without e5m2, scale
cases without scales, alignment cases with exact alignment, a C that is not a value
of the C format) or that the options exclude (``c_zero``: a C other than +0;
``no_specials``: NaN / Inf operands, NaN scales, a NaN / Inf C, or a NaN / Inf
result) is left out and listed as skipped in the manifest.

C initialises the accumulator whose format is the result format (promote_format
with promotion, else acc_format).  Its words, and those of D, are as wide as that
format's (:func:`emu.toolkit.validate.word_bits`): 16 bits for fp16 and bf16 (C is
then a value of that format), 32 bits (an fp32 word) otherwise; an e8m13 unit
receives a full fp32 C, as Hopper does, and the datapath cuts it.

Files (see :func:`render`): ``$readmemh`` hex files with one case per line (A, B and
scales packed, element k in bits [8k+7:8k]; C and D as 4 or 8 hex digits), the text
layout of ``fp8emu validate`` (a.txt, b.txt, c.txt, d.txt, sa.txt, sb.txt: every
value widened to an fp32 word), a TestFloat-style testfloat.txt (one case per line:
operands, then the expected D, in hex), ``config.toml`` and ``manifest.json`` (every
file with its layout, width and content).

Sizes are bounded before anything is generated: K at most :data:`MAX_K`, at most
:data:`MAX_RANDOM` random cases, and (directed + random cases) x K at most
:data:`MAX_VALUES` values per operand (about 25 s and 200 MB of files at the limit).

The output directory belongs to the writer (:func:`earlier_files`): it may be new,
empty, or hold an earlier run of ``fp8emu vectors`` (its manifest.json says so).
Another non-empty directory is refused.  Into an earlier run's directory, the new
files replace the old ones and the files of the old manifest that the new run does
not write (``sa.*``, ``sb.*`` when the new config has no scales) are removed once
every new file is in place, so the directory never mixes two runs.  Files that are
not the writer's (an RTL dump placed beside the vectors) are left alone.
"""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np

from emu.errors import UsageError
from emu.numerics.formats import canonical_nan, fmt, round_array, values_to_codes
from emu.numerics.operands import n_blocks
from emu.toolkit.metrics import result_format
from emu.toolkit.validate import Cases, emulate, nan_word, to_words, word_bits, write_text

MAX_K = 1 << 16  # values per dot product
MAX_RANDOM = 1 << 20  # random cases
MAX_VALUES = 1 << 23  # cases x K (values of A, and of B)

# Every file the writer may put into its directory (render() writes a subset).
FILE_NAMES = (
    "a.hex",
    "b.hex",
    "c.hex",
    "d.hex",
    "sa.hex",
    "sb.hex",
    "a.txt",
    "b.txt",
    "c.txt",
    "d.txt",
    "sa.txt",
    "sb.txt",
    "testfloat.txt",
    "config.toml",
    "manifest.json",
)
_GENERATOR_RE = re.compile(r"^fp8emu \S+ vectors$")


def earlier_files(out_dir: str, what: str = "--out") -> list:
    """The files of an earlier ``fp8emu vectors`` run in ``out_dir`` (names of
    :data:`FILE_NAMES` that exist there); [] for a missing or empty directory.
    UsageError for a non-empty directory without a manifest.json of fp8emu vectors."""
    try:
        entries = os.listdir(out_dir)
    except FileNotFoundError:
        return []
    except OSError as e:
        raise UsageError(f"{what} {out_dir}: cannot read the directory ({e.strerror})") from None
    if not entries:
        return []
    try:
        with open(os.path.join(out_dir, "manifest.json"), encoding="utf-8") as fh:
            manifest = json.load(fh)
        ours = isinstance(manifest, dict) and bool(
            _GENERATOR_RE.match(str(manifest.get("generator", "")))
        )
    except (OSError, ValueError, RecursionError):
        ours = False
    if not ours:
        raise UsageError(
            f"{what} {out_dir}: the directory is not empty and holds no earlier "
            "fp8emu vectors (no manifest.json of theirs); give a new or empty directory"
        )
    return [n for n in FILE_NAMES if os.path.isfile(os.path.join(out_dir, n))]


def check_size(K: int, n_random: int, n_directed: int | None = None) -> None:
    """UsageError naming the option unless K, n_random and (when known) the number
    of cases times K are within :data:`MAX_K`, :data:`MAX_RANDOM`, :data:`MAX_VALUES`."""
    if K > MAX_K:
        raise UsageError(f"--k {K}: at most {MAX_K} values per dot product")
    if n_random > MAX_RANDOM:
        raise UsageError(f"--random {n_random}: at most {MAX_RANDOM} random cases")
    if n_directed is not None and (n_directed + n_random) * K > MAX_VALUES:
        raise UsageError(
            f"--k {K} x ({n_directed} directed + --random {n_random}) cases = "
            f"{(n_directed + n_random) * K} values, at most {MAX_VALUES} "
            "(lower --k or --random)"
        )


def default_k(config) -> int:
    """Two promotion intervals, else two scale blocks, else two fused steps (>= 64)."""
    if config.promote_every:
        return 2 * config.promote_every
    if config.scale_block:
        return 2 * config.scale_block
    if config.fused == "k":
        return 64
    return max(2 * config.fused, 64)


class Builder:
    """Collects cases of one config; products are given as exact values.

    ``c_zero``: only cases with C = +0; ``no_specials``: no NaN / Inf operands,
    scale codes 0xFF or NaN / Inf C (a case that needs one is skipped)."""

    def __init__(self, config, K: int, c_zero: bool = False, no_specials: bool = False):
        self.cfg = config
        self.K = K
        self.fa, self.fb = fmt(config.a_format), fmt(config.b_format)
        self.fc = result_format(config)  # the format of C (and of D)
        self.c_bits = word_bits(self.fc)
        self.c_zero, self.no_specials = c_zero, no_specials
        self.bs = config.scale_block
        self.nkb = n_blocks(K, self.bs)
        self.w = K if config.fused == "k" else config.fused
        self.names, self.a, self.b, self.c, self.sa, self.sb = [], [], [], [], [], []
        self.skipped = []
        self._codes = {}  # (format name, value) -> code (see _code_of)
        # exponent ranges of the powers of two of each format, and of their products
        self.ea = (self.fa.emin - self.fa.mbits, self.fa.emax)
        self.eb = (self.fb.emin - self.fb.mbits, self.fb.emax)
        self.pmin, self.pmax = self.ea[0] + self.eb[0], self.ea[1] + self.eb[1]

    # -------------------------------------------------------------- helpers
    def pow2(self, e):
        """(a, b) values with a * b = 2**e, or None when no pair of powers exists."""
        if not self.pmin <= e <= self.pmax:
            return None
        ea = min(max(e // 2, self.ea[0], e - self.eb[1]), self.ea[1])
        return (2.0**ea, 2.0 ** (e - ea))

    def _code_of(self, f, v):
        """:meth:`_code`, remembered per (format, value): a case may set every k."""
        key = (f.name, v if isinstance(v, str) else float(v).hex())
        if key not in self._codes:
            self._codes[key] = self._code(f, v)
        return self._codes[key]

    @staticmethod
    def _code(f, v):
        if isinstance(v, str):  # "nan", "inf", "-inf"
            if v == "nan":
                return canonical_nan(f) if f.has_nan else None  # FP4/FP6: no NaN
            if f.kind != "ieee":
                return None
            return values_to_codes(f, np.array([float(v)]))[0]
        if v != v:
            return canonical_nan(f) if f.has_nan else None
        if v == 0 and math.copysign(1.0, v) < 0 and not f.has_negzero:
            return None  # fnuz: no -0
        r = float(round_array(np.array([v]), f, "rne")[0])
        if r != v or abs(v) > f.max_finite:
            return None
        return values_to_codes(f, np.array([v]))[0]

    @staticmethod
    def _special(v) -> bool:
        """Whether an operand or C value given to :meth:`add` is NaN or Inf."""
        return isinstance(v, str) or v != v or v in (math.inf, -math.inf)

    def c_ok(self, c) -> bool:
        """Whether the float c is a value of the C words (any fp32 value in a 32-bit
        word, a value of the C format in a 16-bit one)."""
        if c != c or c in (math.inf, -math.inf):
            return True
        if self.c_bits == 32:
            return bool(np.float32(c) == c)
        r = float(round_array(np.array([c], np.float64), self.fc, "rne")[0])
        return r == c and abs(c) <= self.fc.max_finite

    def add(self, name, prods=(), c=0.0, shift=None, sa=None, sb=None, fill=None):
        """One case.  prods: (k, a_value, b_value) triples (values exact in the
        formats, or "nan" / "inf" / "-inf"); c: a float exact in the C format (fp32
        in a 32-bit word), or "nan" / "inf" / "-inf"; shift: {block: e} scales the
        products of a block by 2**e (split over sa and sb); sa / sb: {block: code}
        explicit scale codes; fill: (a_value, b_value) for every k not in prods
        (default +0 x +0).  Returns False (and records why) when the config or the
        options cannot express the case."""
        K = self.K
        if self.no_specials:
            vals = [v for _, av, bv in prods for v in (av, bv)] + list(fill or ())
            if any(self._special(v) for v in vals):
                return self._skip(name, "NaN or Inf operand (--no-specials)")
            if self._special(c):
                return self._skip(name, "C is NaN or Inf (--no-specials)")
        if self.c_zero and (isinstance(c, str) or c != 0 or math.copysign(1.0, c) < 0):
            return self._skip(name, "C is not +0 (--c-zero)")
        a = np.zeros(K, np.uint8)
        b = np.zeros(K, np.uint8)
        if fill is not None:
            ca, cb = self._code_of(self.fa, fill[0]), self._code_of(self.fb, fill[1])
            if ca is None or cb is None:
                return self._skip(name, "fill value not representable")
            a[:], b[:] = ca, cb
        for k, av, bv in prods:
            if k >= K:
                return self._skip(name, f"needs K > {k}")
            ca, cb = self._code_of(self.fa, av), self._code_of(self.fb, bv)
            if ca is None or cb is None:
                return self._skip(name, f"operand {av!r} x {bv!r} not representable")
            a[k], b[k] = ca, cb
        if not (isinstance(c, str) or self.c_ok(c)):
            cf = "fp32" if self.c_bits == 32 else self.fc.name
            return self._skip(name, f"c not representable in {cf}")
        cval = np.float32(float(c)) if isinstance(c, str) else np.float32(c)
        sa_row = np.full(self.nkb, 127, np.uint8)
        sb_row = np.full(self.nkb, 127, np.uint8)
        if shift or sa or sb:
            if not self.bs:
                return self._skip(name, "needs block scales (scale_block > 0)")
            for blk, e in (shift or {}).items():
                ha, hb = -(-e // 2), e - (-(-e // 2))
                if blk >= self.nkb or not (-127 <= ha <= 127 and -127 <= hb <= 127):
                    return self._skip(name, "scale out of range")
                sa_row[blk], sb_row[blk] = 127 + ha, 127 + hb
            for blk, code in (sa or {}).items():
                if blk >= self.nkb:
                    return self._skip(name, f"needs {blk + 1} scale blocks")
                sa_row[blk] = code
            for blk, code in (sb or {}).items():
                if blk >= self.nkb:
                    return self._skip(name, f"needs {blk + 1} scale blocks")
                sb_row[blk] = code
            if self.no_specials and (0xFF in sa_row or 0xFF in sb_row):
                return self._skip(name, "NaN scale code 0xFF (--no-specials)")
        self.append(name, a, b, cval, sa_row, sb_row)
        return True

    def append(self, name, a, b, c, sa, sb):
        self.names.append(name)
        self.a.append(np.asarray(a, np.uint8))
        self.b.append(np.asarray(b, np.uint8))
        self.c.append(np.float32(c))
        self.sa.append(np.asarray(sa, np.uint8))
        self.sb.append(np.asarray(sb, np.uint8))

    def _skip(self, name, why):
        self.skipped.append({"name": name, "reason": why})
        return False

    def prod_pow2(self, k, e, sign=1.0, mant=1.0):
        """A product triple of value sign * mant * 2**e (mant on a's side), or None."""
        p = self.pow2(e)
        if p is None:
            return None
        return (k, sign * mant * p[0], p[1])

    def cases(self) -> Cases:
        return Cases(
            self.a,
            self.b,
            np.array(self.c, np.float32),
            None,
            self.sa if self.bs else None,
            self.sb if self.bs else None,
            list(self.names),
        )


def _add(bld, name, prods, **kw):
    """Add a case whose product list may hold None (= not expressible)."""
    if any(p is None for p in prods):
        return bld._skip(name, "product not expressible without scales")
    return bld.add(name, prods, **kw)


def directed(bld: Builder) -> None:
    """Append the directed corner cases of bld's config."""
    cfg = bld.cfg
    facc, fpro = fmt(cfg.acc_format), fmt(cfg.promote_format)
    M, Mp = facc.mbits, fpro.mbits
    A = None if cfg.align_bits == "exact" else cfg.align_bits
    w, K, P = bld.w, bld.K, cfg.promote_every
    pp = bld.prod_pow2
    t = -10  # exponent of the "tiny" product
    pa = bld.pmax  # exponent of the largest power-of-two product

    # spec section 4 self-checks
    bld.add("selfcheck_c1_small_product", [(0, 1.5 * 2**-7, 2**-7)], c=1.0)
    bld.add("selfcheck_truncation_toward_zero", [(0, 1.0, 1.0), (1, -1.5 * 2**-7, 2**-7)])
    bld.add("selfcheck_c_truncated", [(0, 1.0, 1.0)], c=3 * 2.0**-14)

    # ties at the accumulator rounding point (c anchor, then a product anchor)
    E = t + M + 1
    for sg, sname in ((1.0, "pos"), (-1.0, "neg")):
        _add(bld, f"tie_acc_even_{sname}", [pp(0, t, sg)], c=sg * 2.0**E)
        _add(bld, f"tie_acc_odd_{sname}", [pp(0, t, sg)], c=sg * 2.0**E * (1 + 2.0**-M))
        _add(bld, f"tie_acc_odd_down_{sname}", [pp(0, t, -sg)], c=sg * 2.0**E * (1 + 2.0**-M))
    _add(bld, "near_tie_acc_above", [pp(0, t), pp(1, t - 2)], c=2.0**E)
    _add(bld, "near_tie_acc_below", [pp(0, t), pp(1, t - 2, -1.0)], c=2.0**E)
    _add(bld, "tie_acc_in_step_even", [pp(0, pa), pp(1, pa - M - 1)])
    _add(bld, "tie_acc_in_step_odd", [pp(0, pa), pp(1, pa - M), pp(2, pa - M - 1)])
    _add(bld, "tie_acc_next_step", [pp(0, pa), pp(w, pa - M - 1)])

    # the alignment window: edges and ties at the cut (product anchor, then c anchor)
    if A is not None:
        for anchor, c0, e0, first in (
            ("prod", 0.0, pa, [pp(0, pa)]),
            ("c", 2.0 ** (t + A + 1), t + A + 1, []),
        ):
            k0 = len(first)
            q = e0 - A  # exponent of the quantum
            for label, e, mant, sg in (
                ("keep_lsb", q, 1.0, 1.0),
                ("below_lsb", q - 2, 1.0, 1.0),
                ("tie_half_q", q - 1, 1.0, 1.0),
                ("tie_1.5q", q, 1.5, 1.0),
                ("tie_2.5q", q + 1, 1.25, 1.0),
                ("cut_0.75q", q - 1, 1.5, 1.0),
                ("cut_0.75q_neg", q - 1, 1.5, -1.0),
            ):
                _add(bld, f"align_{label}_{anchor}", first + [pp(k0, e, sg, mant)], c=c0)
        _add(bld, "align_cut_next_step", [pp(0, pa), pp(w, pa - A - 1, 1.0, 1.5)])

    # subnormal operands
    fa, fb = bld.fa, bld.fb
    suba = [m * 2.0 ** (fa.emin - fa.mbits) for m in range(1, 1 << fa.mbits)]
    subb = [m * 2.0 ** (fb.emin - fb.mbits) for m in range(1, 1 << fb.mbits)]
    bld.add("subnormal_a", [(k, v, 1.0) for k, v in enumerate(suba)])
    bld.add("subnormal_b", [(k, 1.0, v) for k, v in enumerate(subb)])
    bld.add("subnormal_a_alternating", [(k, v * (-1) ** k, 1.0) for k, v in enumerate(suba)])
    bld.add("subnormal_x_subnormal_min", [(0, suba[0], subb[0])])
    bld.add("subnormal_x_subnormal_max", [(0, suba[-1], subb[-1]), (1, suba[-1], subb[-1])])
    bld.add("subnormal_with_big", [(0, 2.0 ** bld.ea[1], 1.0), (1, suba[0], subb[0])])

    # subnormal results (C alone passes through the accumulator; scaled products):
    # fp32 subnormals in a 32-bit C word, else those of the (16-bit) C format
    fc = bld.fc if bld.c_bits == 16 else fmt("fp32")
    e0, mc = fc.emin - fc.mbits, fc.mbits  # the smallest subnormal is 2**e0
    e3 = e0 + min(9, mc - 3)  # fp32: 3 x 2^-140
    for label, c in (
        ("min", 2.0**e0),
        (f"3x2^{e3}", 3 * 2.0**e3),
        ("max", (1 - 2.0**-mc) * 2.0**fc.emin),
        ("neg", -5 * 2.0 ** (e0 + min(4, mc - 3))),
    ):
        bld.add(f"subnormal_c_{label}", [], c=c)
    c_min_normal = 2.0**fc.emin
    bld.add("min_normal_c", [], c=c_min_normal)
    emin_r = facc.emin
    bld.add("subnormal_product", [(0, 1.0, 1.0)], shift={0: emin_r - 4})
    bld.add("underflow_half_min_sub", [(0, 1.0, 1.0)], shift={0: emin_r - M - 1})
    bld.add("underflow_3_quarters_min_sub", [(0, 1.5, 1.0)], shift={0: emin_r - M - 2})
    bld.add("underflow_neg", [(0, -1.0, 1.0)], shift={0: emin_r - M - 3})

    # saturation and overflow
    amax, bmax = fa.max_finite, fb.max_finite
    bld.add("max_operands_all_k", [], fill=(amax, bmax))
    bld.add("max_operands_alternating", [(k, amax * (-1) ** k, bmax) for k in range(K)])
    fr = result_format(cfg)
    bld.add("max_result_c_plus_one", [(0, 1.0, 1.0)], c=fr.max_finite)
    bld.add("max_result_c_plus_max_products", [(0, amax, bmax)], c=fr.max_finite)
    bld.add("max_fp32_c", [], c=float(np.finfo(np.float32).max))
    bld.add("max_fp32_c_neg", [(0, -1.0, 1.0)], c=-float(np.finfo(np.float32).max))
    half_ulp_max = fr.emax - fr.mbits - 1
    bld.add("overflow_tie", [(0, 1.0, 1.0)], c=fr.max_finite, shift={0: half_ulp_max})
    bld.add("overflow_scaled", [(0, amax, bmax), (1, amax, bmax)], sa={0: 0xFE}, sb={0: 0xFE})
    bld.add("overflow_scaled_neg", [(0, -amax, bmax)], sa={0: 0xFE}, sb={0: 0xFE})

    # NaN and Inf
    bld.add("nan_a_first", [(0, "nan", 1.0), (1, 1.0, 1.0)])
    bld.add("nan_a_last", [(0, 1.0, 1.0), (K - 1, "nan", 1.0)])
    bld.add("nan_b_next_step", [(0, 1.0, 1.0), (w, 1.0, "nan")])
    bld.add("nan_times_zero", [(0, "nan", 0.0)])
    bld.add("nan_c", [(0, 1.0, 1.0)], c="nan")
    bld.add("inf_c_pos", [(0, -1.0, 1.0)], c="inf")
    bld.add("inf_c_neg", [(0, 1.0, 1.0)], c="-inf")
    bld.add("inf_a", [(0, "inf", 1.0)])
    bld.add("inf_b_neg", [(0, 1.0, "-inf")])
    bld.add("inf_times_zero", [(0, "inf", 0.0)])
    bld.add("inf_plus_minus_inf", [(0, "inf", 1.0), (1, "-inf", 1.0)])
    bld.add("inf_c_minus_inf_product", [(0, "-inf", 1.0)], c="inf")
    bld.add("inf_then_nan_later", [(0, "inf", 1.0), (K - 1, "nan", 1.0)])

    # UE8M0 scale codes 0x00 / 0xFE / 0xFF
    bld.add("ue8m0_00_FE", [(0, 1.0, 1.0), (1, 1.5, 1.0)], sa={0: 0x00}, sb={0: 0xFE})
    bld.add("ue8m0_FE_FE_max", [(0, amax, bmax)], sa={0: 0xFE}, sb={0: 0xFE})
    bld.add("ue8m0_00_00", [(0, amax, bmax)], sa={0: 0x00}, sb={0: 0x00})
    bld.add("ue8m0_00_00_with_c", [(0, 1.0, 1.0)], c=c_min_normal, sa={0: 0x00}, sb={0: 0x00})
    bld.add("ue8m0_FF_a", [(0, 1.0, 1.0)], sa={0: 0xFF})
    bld.add("ue8m0_FF_b_last_block", [(0, 1.0, 1.0)], sb={bld.nkb - 1: 0xFF})
    bld.add("ue8m0_FF_zero_block", [], sa={0: 0xFF})
    bld.add(
        "ue8m0_mixed_blocks",
        [(k, 1.0, 1.0) for k in range(0, K, max(bld.bs, 1))],
        # codes stay in 1..253 at any K: the pattern repeats every 42 / 127 blocks
        sa={i: 127 + (-1) ** i * 3 * (i % 42) for i in range(bld.nkb)},
        sb={i: 127 - i % 127 for i in range(bld.nkb)},
    )

    # exact cancellation and signed zeros
    bld.add("cancel_products", [(0, 1.5, 1.0), (1, -1.5, 1.0)])
    bld.add("cancel_c", [(0, -1.5, 1.0)], c=1.5)
    bld.add("cancel_across_steps", [(0, 1.0, 1.0), (w, -1.0, 1.0)])
    bld.add("zero_all_negative", [], c=-0.0, fill=(-0.0, 0.0))
    bld.add("zero_negative_c_positive_products", [], c=-0.0)
    bld.add("zero_positive_c_negative_products", [], c=0.0, fill=(-0.0, 0.0))
    _add(bld, "cancel_then_tiny", [pp(0, pa), pp(1, pa, -1.0), pp(2, pa - 30)])
    if A is not None:
        _add(bld, "cancel_c_then_cut", [pp(0, pa, -1.0), pp(1, pa - A - 2)], c=2.0**pa)

    # carry-out (rounding into the next binade, carries above the largest product)
    Ec = t + M
    allones = (2 - 2.0**-M) * 2.0**Ec
    _add(bld, "carry_round_up_ulp", [pp(0, t)], c=allones)
    _add(bld, "carry_round_up_half_ulp", [pp(0, t - 1)], c=allones)
    _add(bld, "borrow_below_binade", [pp(0, Ec - M - 2, -1.0)], c=2.0**Ec)
    top_a = (2 - 2.0**-fa.mbits) * 2.0**0
    top_b = (2 - 2.0**-fb.mbits) * 2.0**0
    bld.add("carry_products_one_step", [(k, top_a, top_b) for k in range(min(w, K))])
    bld.add("carry_products_all_k", [], fill=(top_a, top_b))
    bld.add("carry_products_neg", [], fill=(-top_a, top_b), c=-1.0)

    # promotion to the outer accumulator
    if P:
        Eo = t + Mp + 1
        _add(bld, "promote_tie_even", [pp(0, t)], c=2.0**Eo)
        _add(bld, "promote_tie_odd", [pp(0, t)], c=2.0**Eo * (1 + 2.0**-Mp))
        bld.add("promote_every_interval", [(k, 1.0, 1.0) for k in range(0, K, P)])
        _add(
            bld,
            "promote_inner_truncation",
            [p for k0 in range(0, K, P) for p in (pp(k0, pa), pp(k0 + 1, pa - M - 2))],
        )
        bld.add("promote_nan_last_interval", [(0, 1.0, 1.0), (K - 1, "nan", 1.0)])


class RandomCases:
    """Random cases of a Builder's config, drawn one at a time from one generator:
    half quantised N(0, 1) data with a random magnitude (and half of them a random C),
    40% uniformly random finite codes with random scales near 2**0 and (70%) a random
    C, 10% with NaN / Inf codes and NaN scales mixed in (with ``no_specials``: finite
    codes too).  Under a result format of narrow range (fp16) the random codes are
    kept from overflowing it as a rule: the scales are lowered, or without block
    scales the codes limited in magnitude, so that the typical sum stays below its
    largest value; C is a value of the C format (saturated to its largest value)."""

    def __init__(self, bld: Builder, seed: int):
        from emu.numerics.formats import decode_table

        self.bld = bld
        self.rng = np.random.default_rng(seed)
        K, fr = bld.K, bld.fc
        va, vb = decode_table(bld.fa.name), decode_table(bld.fb.name)
        fin_a, fin_b = np.isfinite(va), np.isfinite(vb)
        lim_a = lim_b = math.inf
        self.drop = 0  # scale exponents taken off the random scales

        def typical(la, lb):  # a typical |sum| of K random products, with headroom
            ra = math.sqrt(np.mean(va[fin_a & (np.abs(va) <= la)] ** 2))
            rb = math.sqrt(np.mean(vb[fin_b & (np.abs(vb) <= lb)] ** 2))
            return math.sqrt(K) * ra * rb * 2.0 ** (8 if bld.bs else 0) * 16

        t = typical(lim_a, lim_b)
        if t > fr.max_finite:
            if bld.bs:
                self.drop = math.ceil(math.log2(t / fr.max_finite))
            else:
                lim_a, lim_b = bld.fa.max_finite, bld.fb.max_finite
                while typical(lim_a, lim_b) > fr.max_finite and max(lim_a, lim_b) > 1:
                    if lim_a >= lim_b:
                        lim_a /= 2
                    else:
                        lim_b /= 2
        self.ok_a = np.flatnonzero(fin_a & (np.abs(va) <= lim_a))
        self.ok_b = np.flatnonzero(fin_b & (np.abs(vb) <= lim_b))
        # quantised data without block scales fills the whole code range: shifted
        # down by as many binades as the random codes are limited
        self.down = [
            0 if lim == math.inf else math.ceil(math.log2(f.max_finite / lim))
            for f, lim in ((bld.fa, lim_a), (bld.fb, lim_b))
        ]
        self.c_emax = fr.emax - 2 if bld.c_bits == 16 else math.inf

    def c_value(self, c) -> np.float32:
        """A drawn C as a value of the C words: +0 under c_zero; in a 16-bit word
        rounded (nearest-even) into the C format, saturated to its largest value."""
        bld = self.bld
        if bld.c_zero:
            return np.float32(0)
        if bld.c_bits == 32:
            return np.float32(c)
        m = bld.fc.max_finite
        v = np.clip(np.array([float(c)]), -m, m)
        return np.float32(round_array(v, bld.fc, "rne")[0])

    def draw(self, i: int):
        """(name, a, b, c, sa, sb) of random case i."""
        from emu.numerics.quant import quantize

        bld, rng = self.bld, self.rng
        K, bs, nkb = bld.K, bld.bs, bld.nkb
        kind = "quantized" if i % 10 < 5 else "codes" if i % 10 < 9 else "specials"
        if kind == "specials" and bld.no_specials:
            kind = "codes"
        sa = np.full(nkb, 127, np.uint8)
        sb = np.full(nkb, 127, np.uint8)
        c = np.float32(0)
        if kind == "quantized":
            x = (rng.standard_normal((1, K)) * 2.0 ** rng.integers(-6, 7)).astype(np.float32)
            y = (rng.standard_normal((K, 1)) * 2.0 ** rng.integers(-6, 7)).astype(np.float32)
            a, s1 = quantize(x, bld.fa.name, (1, bs or K), "floor")
            b, s2 = quantize(y, bld.fb.name, (bs or K, 1), "floor")
            a, b = a[0], b[:, 0]
            if bs:
                sa, sb = s1[0], s2[:, 0]
            elif any(self.down):
                from emu.numerics.formats import decode, encode

                a, b = (
                    encode(f, np.ldexp(decode(f, x), -j), overflow="sat") if j else x
                    for f, x, j in ((bld.fa, a, self.down[0]), (bld.fb, b, self.down[1]))
                )
            if rng.random() < 0.5:
                c = np.float32(rng.standard_normal() * 2.0 ** rng.integers(-4, 8))
        else:
            a = rng.choice(self.ok_a, K).astype(np.uint8)
            b = rng.choice(self.ok_b, K).astype(np.uint8)
            if bs:
                ha, hb = -(-self.drop // 2), self.drop // 2
                sa = np.maximum(rng.integers(119, 136, nkb) - ha, 0).astype(np.uint8)
                sb = np.maximum(rng.integers(119, 136, nkb) - hb, 0).astype(np.uint8)
            if rng.random() < 0.7:
                g = rng.standard_normal()  # (drawn first: the streams of earlier versions)
                c = np.float32(g * 2.0 ** min(int(rng.integers(-10, 20)), self.c_emax))
            if kind == "specials":
                pos = rng.integers(0, K, 2)
                a[pos[0]] = rng.integers(0, 1 << bld.fa.bits)  # any code (FP4: 0..15)
                b[pos[1]] = rng.integers(0, 1 << bld.fb.bits)
                if bs and rng.random() < 0.3:
                    sa[rng.integers(0, nkb)] = 0xFF
        return f"random_{kind}_{i}", a, b, self.c_value(c), sa, sb


def random_cases(bld: Builder, n: int, seed: int) -> RandomCases:
    """Append n random cases (see :class:`RandomCases`); returns the generator."""
    rnd = RandomCases(bld, seed)
    for i in range(n):
        bld.append(*rnd.draw(i))
    return rnd


def _without_specials(bld: Builder, cases: Cases, nd: int, rnd: RandomCases, config) -> Cases:
    """``no_specials``: the directed cases whose result is NaN or Inf are left out
    (and listed as skipped); random ones are drawn again (at most 32 times, then
    their B is set to +0 so that D = C)."""
    d = cases.d
    n = len(cases)
    keep = []
    for i in range(nd):
        if np.isfinite(d[i]):
            keep.append(i)
        else:
            what = "NaN" if np.isnan(d[i]) else "Inf (an overflow)"
            bld.skipped.append(
                {"name": bld.names[i], "reason": f"the result is {what} (--no-specials)"}
            )
    todo = [i for i in range(nd, n) if not np.isfinite(d[i])]
    for _ in range(32):
        if not todo:
            break
        for i in todo:
            name, a, b, c, sa, sb = rnd.draw(i - nd)
            bld.a[i], bld.b[i], bld.c[i] = np.asarray(a, np.uint8), np.asarray(b, np.uint8), c
            bld.sa[i], bld.sb[i] = np.asarray(sa, np.uint8), np.asarray(sb, np.uint8)
        d[todo] = emulate(_subset(bld, todo), config)
        todo = [i for i in todo if not np.isfinite(d[i])]
    if todo:
        for i in todo:
            bld.b[i] = np.zeros(bld.K, np.uint8)
        d[todo] = emulate(_subset(bld, todo), config)
    keep += list(range(nd, n))
    if not keep:
        raise UsageError(
            "no test cases to write (every directed case was left out by --no-specials "
            "and --random 0)"
        )
    out = _subset(bld, keep)
    out.d = d[keep]
    for name in ("names", "a", "b", "c", "sa", "sb"):
        vals = getattr(bld, name)
        setattr(bld, name, [vals[i] for i in keep])
    return out


def _subset(bld: Builder, idx) -> Cases:
    return Cases(
        [bld.a[i] for i in idx],
        [bld.b[i] for i in idx],
        np.array([bld.c[i] for i in idx], np.float32),
        None,
        [bld.sa[i] for i in idx] if bld.bs else None,
        [bld.sb[i] for i in idx] if bld.bs else None,
        [bld.names[i] for i in idx],
    )


def generate(
    config,
    k: int | None = None,
    n_random: int = 256,
    seed: int = 0,
    directed_cases: bool = True,
    c_zero: bool = False,
    no_specials: bool = False,
):
    """(Cases with the emulator's results in ``d``, skipped directed cases).
    ``c_zero``: every C is +0 (directed cases that need another C are skipped);
    ``no_specials``: no NaN / Inf operand, NaN scale (0xFF), NaN / Inf C, nor a NaN /
    Inf result (directed cases skipped, random ones drawn again)."""
    K = default_k(config) if k is None else int(k)
    if K < 1:
        raise UsageError(f"--k must be >= 1, got {K}")
    if n_random < 0:
        raise UsageError(f"--random must be >= 0, got {n_random}")
    if seed < 0:
        raise UsageError(f"--seed must be >= 0, got {seed}")
    if k is None and K > MAX_K:
        raise UsageError(
            f"--k: this config's default K ({K}: two promotion intervals, scale blocks or "
            f"fused steps) is over {MAX_K}; give --k"
        )
    check_size(K, n_random)
    sf = getattr(config, "scale_format", "ue8m0")
    if config.scale_block and sf != "ue8m0":
        raise UsageError(
            f"scale_format = {sf!r}: vectors writes UE8M0 block scales only (their "
            "directed and random scale codes are UE8M0's)"
        )
    bld = Builder(config, K, c_zero=c_zero, no_specials=no_specials)
    if directed_cases:
        directed(bld)
    check_size(K, n_random, len(bld.names))
    nd = len(bld.names)
    rnd = random_cases(bld, n_random, seed)
    if not bld.names:
        raise UsageError("no test cases to write (no directed cases and --random 0)")
    cases = bld.cases()
    cases.d = emulate(cases, config)
    if no_specials:
        cases = _without_specials(bld, cases, nd, rnd, config)
    return cases, bld.skipped


def _packed(rows) -> str:
    """One line per row of uint8 codes, element 0 in the least significant byte."""
    return "".join(np.asarray(r, np.uint8)[::-1].tobytes().hex().upper() + "\n" for r in rows)


def _words(words, bits: int) -> str:
    digits = bits // 4
    return "".join(f"{int(w):0{digits}X}\n" for w in words)


def _codes_line(row) -> str:
    return np.asarray(row, np.uint8).tobytes().hex(" ").upper()


def testfloat_text(cases: Cases, c_words, d_words, bits: int) -> str:
    """The TestFloat-style layout: one case per line, space-separated hex columns
    a[0] .. a[K-1] b[0] .. b[K-1] [sa[0] .. sa[B-1] sb[0] .. sb[B-1]] c d (codes 2
    digits, C and D words bits / 4 digits)."""
    digits = bits // 4
    lines = []
    for i in range(len(cases)):
        cols = [_codes_line(cases.a[i]), _codes_line(cases.b[i])]
        if cases.sa is not None:
            cols += [_codes_line(cases.sa[i]), _codes_line(cases.sb[i])]
        cols += [f"{int(c_words[i]):0{digits}X}", f"{int(d_words[i]):0{digits}X}"]
        lines.append(" ".join(cols) + "\n")
    return "".join(lines)


def render(
    cases: Cases,
    config,
    skipped=(),
    seed: int = 0,
    c_zero: bool = False,
    no_specials: bool = False,
) -> dict:
    """{file name: text} of every output file (hex, text and TestFloat layouts,
    config, manifest); see docs/designer.md for the layouts."""
    from emu import __version__

    n = len(cases)
    K = len(cases.a[0])
    bs = config.scale_block
    nkb = n_blocks(K, bs)
    fr = result_format(config)
    bits = word_bits(fr)
    digits = bits // 4
    c_words = to_words(cases.c, fr, bits)
    d_words = to_words(cases.d, fr, bits)
    files = {
        "a.hex": _packed(cases.a),
        "b.hex": _packed(cases.b),
        "c.hex": _words(c_words, bits),
        "d.hex": _words(d_words, bits),
    }
    if bs:
        files["sa.hex"] = _packed(cases.sa)
        files["sb.hex"] = _packed(cases.sb)
    files.update(write_text(cases, config.a_format, config.b_format))
    files["testfloat.txt"] = testfloat_text(cases, c_words, d_words, bits)
    files["config.toml"] = config.to_toml()

    word = f"an {fr.name} code" if bits == 16 else "an fp32 bit pattern"
    nan = f"0x{nan_word(bits):0{digits}X}"
    packed = "element k in bits [8k+7:8k] (element 0 is the last two hex digits)"
    hexfile = dict(layout="readmemh hex", lines=n)
    layout = {
        "a.hex": dict(
            hexfile,
            holds=f"the row of A of each case: K {config.a_format} codes, one a byte",
            format=config.a_format,
            width_bits=8 * K,
            hex_digits=2 * K,
            elements=K,
            element_bits=8,
            order=packed,
        ),
        "b.hex": dict(
            hexfile,
            holds=f"the column of B of each case: K {config.b_format} codes, one a byte",
            format=config.b_format,
            width_bits=8 * K,
            hex_digits=2 * K,
            elements=K,
            element_bits=8,
            order=packed,
        ),
        "c.hex": dict(
            hexfile,
            holds=f"C of each case ({word}; C initialises the {fr.name} accumulator)",
            format=fr.name,
            width_bits=bits,
            hex_digits=digits,
        ),
        "d.hex": dict(
            hexfile,
            holds=f"the expected D of each case, the emulator's ({word}; NaN is {nan})",
            format=fr.name,
            width_bits=bits,
            hex_digits=digits,
            nan=nan,
        ),
    }
    if bs:
        for s, who in (("sa", "row of A"), ("sb", "column of B")):
            layout[f"{s}.hex"] = dict(
                hexfile,
                holds=f"the UE8M0 scale codes of the {who}, one per {bs} values of K",
                format="ue8m0",
                width_bits=8 * nkb,
                hex_digits=2 * nkb,
                elements=nkb,
                element_bits=8,
                order="block j in bits [8j+7:8j]",
            )
    text = dict(layout="text", lines=n)
    for s, who in (("a", "the row of A"), ("b", "the column of B")):
        layout[f"{s}.txt"] = dict(
            text,
            holds=f"{who} of each case: K element values, each widened to an fp32 word",
            format="fp32",
            width_bits=32,
            words_per_line=K,
            digits="8 hex",
        )
    for s, what in (("c", "C"), ("d", "the expected D (NaN is 0x7FFFFFFF)")):
        layout[f"{s}.txt"] = dict(
            text,
            holds=f"{what} of each case, the value widened to an fp32 word",
            format="fp32",
            width_bits=32,
            words_per_line=1,
            digits="32 binary",
        )
    if bs:
        for s, who in (("sa", "row of A"), ("sb", "column of B")):
            layout[f"{s}.txt"] = dict(
                text,
                holds=f"the UE8M0 scale codes of the {who}, block 0 first",
                format="ue8m0",
                width_bits=8,
                words_per_line=nkb,
                digits="2 hex",
            )
    columns = [
        dict(name="a", count=K, format=config.a_format, width_bits=8, order="k = 0 first"),
        dict(name="b", count=K, format=config.b_format, width_bits=8, order="k = 0 first"),
    ]
    if bs:
        columns += [
            dict(name="sa", count=nkb, format="ue8m0", width_bits=8, order="block 0 first"),
            dict(name="sb", count=nkb, format="ue8m0", width_bits=8, order="block 0 first"),
        ]
    columns += [
        dict(name="c", count=1, format=fr.name, width_bits=bits),
        dict(name="d", count=1, format=fr.name, width_bits=bits, nan=nan),
    ]
    layout["testfloat.txt"] = dict(
        layout="testfloat",
        lines=n,
        holds="every case on one line: the operands, then the expected D, in hex",
        words_per_line=sum(c["count"] for c in columns),
        columns=columns,
        order=(
            f"a[0] .. a[{K - 1}] b[0] .. b[{K - 1}] "
            + (f"sa[0] .. sa[{nkb - 1}] sb[0] .. sb[{nkb - 1}] " if bs else "")
            + "c d"
        ),
    )
    layout["config.toml"] = dict(layout="toml", holds="the config (fp8emu --config)")
    layout["manifest.json"] = dict(layout="json", holds="this manifest")

    cats = {}
    for name in cases.where:
        key = name.rsplit("_", 1)[0] if name.startswith("random_") else name.split("_")[0]
        cats[key] = cats.get(key, 0) + 1
    mems = {"a": 8 * K, "b": 8 * K, "c": bits, "d": bits}
    if bs:
        mems = {"a": 8 * K, "b": 8 * K, "sa": 8 * nkb, "sb": 8 * nkb, "c": bits, "d": bits}
    scales = " --sa sa.txt --sb sb.txt" if bs else ""
    manifest = {
        "generator": f"fp8emu {__version__} vectors",
        "config": config.to_dict(),
        "result_format": fr.name,
        "c_format": fr.name,
        "word_bits": bits,
        "k": K,
        "cases": n,
        "scale_blocks": nkb,
        "seed": seed,
        "c_zero": bool(c_zero),
        "no_specials": bool(no_specials),
        "depth": n,
        "nan": (
            f"a NaN result is {nan} in d.hex and testfloat.txt, 0x7FFFFFFF in d.txt; "
            "validate accepts exactly that (any NaN with --any-nan)"
        ),
        "files": layout,
        "readmemh": {m: f"reg [{w - 1}:0] {m}_mem [0:{n - 1}]" for m, w in mems.items()},
        "readmemh_load": {m: f'$readmemh("{m}.hex", {m}_mem);' for m in mems},
        "validate": (
            "fp8emu validate --config config.toml --a a.txt --b b.txt --c c.txt --d d.txt" + scales
        ),
        "validate_layouts": {
            "text": "fp8emu validate --config DIR/config.toml --dir DIR --d DUMP",
            "hex": "fp8emu validate --config DIR/config.toml --dir DIR --layout hex --d DUMP",
            "testfloat": (
                "fp8emu validate --config DIR/config.toml --dir DIR --layout testfloat --d DUMP"
            ),
        },
        "categories": cats,
        "case_names": list(cases.where),
        "skipped": list(skipped),
    }
    files["manifest.json"] = json.dumps(manifest, indent=1) + "\n"
    return files
