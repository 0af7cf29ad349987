"""``probe``: a small designed set of test cases that tells the fields of a matrix
unit's numerics apart, for ``fp8emu fit``.

Run the cases on the chip (or an RTL simulation), dump D, and ``fp8emu fit``
searches the configuration space for every configuration that returns those bits.
Each case is one dot product (a row of A, a column of B, C, optional UE8M0 scale
codes), in the formats ``validate`` reads.  Each case is named after the family it
belongs to and its parameter (``align_17``: the alignment family, a term 17 bits
below the largest); each family says which fields it pins (:data:`FAMILIES`,
written to ``manifest.json`` and docs/designer.md).  The fit uses all cases
together: a family "pins" a field in the sense that its cases are the ones whose
results change when that field changes, for the common values of the others.

Notation below: X = 2**E is the largest power-of-two product of the operand
formats (E = emax_a + emax_b: 2**16 for e4m3, 2**30 for e5m2), 2**pmin the smallest
(2**-18 for e4m3: 2**-9 x 2**-9), and "at k" the position of a product in the dot
product (fused steps are consecutive runs of k).

A family is a row of :data:`FAMILIES` (its name, the fields it pins, a line for the
docs, and the function that adds its cases): a field added to the configuration
(zero_exp, zero_sign) gets its probe family as one more row (and fit a search rule,
one entry of emu.toolkit.fit.SEARCH).

How the set was chosen (e4m3, K = 32; fit's whole space of 317,520 configurations):
the families were swept over their parameters, every configuration's results on
every candidate case computed, and the cases thinned to those that keep the
partition of the space (a case whose removal merges no two classes was dropped);
random cases of four kinds turned out to split more per case than most designed
ones and stay.  The 441 cases split the space into 180,006 classes of
configurations with identical results; 1,500 further random cases split only 1,234
of them (0.7 %, all with one-product steps and a finite window or a window under 8
bits); of 40 random configurations fitted from the probe alone, 39 fit back to a
class whose members all give the secret's bits on 2,000 fresh random cases.
Products sit at the start of K, except in the families whose result is wider than
the window (round, carry): there a later all-zero step would cut it back.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from emu.errors import UsageError
from emu.numerics.formats import decode_table, encode, get_format, round_array, values_to_codes
from emu.numerics.operands import n_blocks
from emu.toolkit.validate import Cases, write_text

MAX_ALIGN = 40  # the widest window the alignment families separate from "exact"
MAX_K = 4096


class Builder:
    """Collects the cases of one probe set: products are given as exact values and
    split into operand pairs of the formats."""

    def __init__(self, a_format, b_format, K: int, scale_block: int = 0):
        self.fa, self.fb = get_format(a_format), get_format(b_format)
        self.bs = scale_block
        self.set_k(K)
        self.names, self.a, self.b, self.c, self.sa, self.sb = [], [], [], [], [], []
        self.min_position = 0  # the fused family's first position (long cases: 32)
        self.family = []  # family name of each case
        self.skipped = []  # {name, reason}
        self._fam = ""
        # exponents of the powers of two of each format and of their products
        self.ea = (self.fa.emin - self.fa.mbits, self.fa.emax)
        self.eb = (self.fb.emin - self.fb.mbits, self.fb.emax)
        self.pmin, self.pmax = self.ea[0] + self.eb[0], self.ea[1] + self.eb[1]

    def set_k(self, K: int) -> None:
        """The K of the cases added next (families may differ: short cases are cheap
        to fit)."""
        self.K = K
        self.nkb = n_blocks(K, self.bs)

    # -------------------------------------------------------------- values
    def split(self, v: float):
        """(a, b) exact operand values with a * b == v, or None when v is not such a
        product (a carries the significand if it can, else both share it)."""
        if v == 0:
            return (0.0, 0.0)
        m, e = np.frexp(abs(v))  # v = m * 2**e, m in [0.5, 1)
        m, e = float(m) * 2, int(e) - 1
        sigs = [1 + i / 2**self.fb.mbits for i in range(2**self.fb.mbits)]
        # exponents split evenly first (normal operands where they can be)
        ebs = sorted(range(self.eb[0], self.eb[1] + 1), key=lambda x: (abs(2 * x - e), -x))
        for sb in sigs:
            for eb in ebs:
                b = sb * 2.0**eb
                a = np.copysign(m / sb * 2.0 ** (e - eb), v)
                if self._exact(self.fa, a) and self._exact(self.fb, b):
                    return (float(a), b)
        return None

    @staticmethod
    def _exact(f, x) -> bool:
        """Is the finite x exactly a value of format f (on its grid, in its range)?"""
        x = abs(float(x))
        if x == 0:
            return True
        if x > f.max_finite:
            return False
        _, ex = math.frexp(x)  # x = m * 2**ex, m in [0.5, 1)
        lsb = max(ex - 1, f.emin) - f.mbits
        return math.ldexp(x, -lsb).is_integer()

    def add(self, name, prods=(), c=0.0, sa=None, sb=None) -> bool:
        """One case: prods are (k, value) pairs (value: an exact product, split by
        :meth:`split`) or (k, a, b) triples (a and b exact operand values, or "nan" /
        "inf" / "-inf"); c a float exact in fp32; sa / sb {block: code}.  Returns
        False (and records why) when the formats or K cannot express the case."""
        K = self.K
        a = np.zeros(K, np.float64)
        b = np.zeros(K, np.float64)
        for p in prods:
            k = p[0]
            if k >= K:
                return self._skip(name, f"needs K > {k}")
            if len(p) == 2:
                ab = self.split(p[1])
                if ab is None:
                    return self._skip(name, f"{p[1]!r} is not a product of two operands")
            else:
                ab = tuple(float(x) for x in p[1:])
            a[k], b[k] = ab
        if not (isinstance(c, float | int) and np.float32(c) == c):
            return self._skip(name, "c is not an fp32 value")
        ca, cb = self._codes(self.fa, a), self._codes(self.fb, b)
        if ca is None or cb is None:
            return self._skip(name, "an operand is not a value of its format")
        rows = []
        for given in (sa, sb):
            row = np.full(self.nkb, 127, np.uint8)
            for blk, code in (given or {}).items():
                if not self.bs:
                    return self._skip(name, "needs block scales")
                if blk >= self.nkb:
                    return self._skip(name, f"needs {blk + 1} scale blocks")
                row[blk] = code
            rows.append(row)
        self.names.append(name)
        self.family.append(self._fam)
        self.a.append(ca)
        self.b.append(cb)
        self.c.append(np.float32(c))
        self.sa.append(rows[0])
        self.sb.append(rows[1])
        return True

    def _codes(self, f, vals):
        """Codes of a row of operand values (NaN: the canonical NaN, only for formats
        with NaN; +-Inf only for formats with Inf), or None when one is not a value
        of f."""
        from emu.numerics.formats import canonical_nan

        v = np.asarray(vals, np.float64)
        nan, inf = np.isnan(v), np.isinf(v)
        if (inf.any() and not f.has_inf) or (nan.any() and not f.has_nan):
            return None  # FP4/FP6 have neither
        fin = np.where(nan | inf, 0.0, v)
        if not ((np.abs(fin) <= f.max_finite).all() and (round_array(fin, f, "rne") == fin).all()):
            return None
        codes = values_to_codes(f, np.where(nan, 0.0, v))
        if not nan.any():
            return codes.astype(np.uint8)
        return np.where(nan, canonical_nan(f), codes).astype(np.uint8)

    def _skip(self, name, why):
        self.skipped.append({"name": name, "reason": why})
        return False

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


# ------------------------------------------------------------------ families
def _positions(K):
    """Positions p >= 2 that separate fused (or promotion) widths: powers of two and
    divisors of K below K."""
    ps = {1 << i for i in range(1, K.bit_length())} | {d for d in range(2, K) if K % d == 0}
    return sorted(p for p in ps if p < K)


def _align(bld: Builder):
    """C = X, -X at k = 0 and 2**(E - A) at k = 1: the pair cancels but sets e_max, so
    the last term survives (the result is 2**(E - A)) iff align_bits >= A, whatever
    the accumulator (fused >= 2; with c_in_alignment = false the product -X sets the
    same e_max).  At A = align_bits + 1 the term is a tie of the cut: rna keeps it
    as 2**(E - A + 1)."""
    E = bld.pmax
    for A in range(1, min(E - bld.pmin, MAX_ALIGN + 1) + 1):
        bld.add(f"align_{A}", [(0, -(2.0**E)), (1, 2.0 ** (E - A))], c=2.0**E)


def _align_round(bld: Builder):
    """As align_A with 0.75 q (q = 2**(E - A), the quantum of a window of A bits):
    truncation gives 0, rounding to nearest q; at A = align_bits + 1 it is 1.5 q
    (rz: q, rne / rna: 2 q).  Every other A from 7 (each window meets one at A or
    A + 1), and the last two."""
    E = bld.pmax
    top = min(E - bld.pmin - 2, MAX_ALIGN)
    for A in sorted(set(range(7, top + 1, 2)) | {top - 2, top}):
        bld.add(f"align_round_{A}", [(0, -(2.0**E)), (1, 0.75 * 2.0 ** (E - A))], c=2.0**E)


def _sticky(bld: Builder):
    """C = 2**(pmin + A) and one product -+2**pmin, at the quantum of a window of A
    bits: kept (the result moves one unit of the accumulator down under rz / rd, up
    under ru) iff align_bits >= A; with c_in_alignment = false always kept.  Any
    fused width; what rne cannot see here the tie families show.  (neg: A = 3 and
    12 up; pos: 24 up; the other windows the other families tell already.)"""
    hi = _sticky_top(bld)
    for sign, tag, As in ((-1, "neg", [3, *range(12, hi + 1)]), (1, "pos", range(24, hi + 1))):
        for A in As:
            bld.add(f"sticky_{tag}_{A}", [(0, sign * 2.0**bld.pmin)], c=2.0 ** (bld.pmin + A))


def _sticky_top(bld: Builder) -> int:
    """The widest window the align family cannot reach with products alone, less 1:
    the sticky family goes up to it, the cin family on from it."""
    return min(bld.pmax - bld.pmin, MAX_ALIGN + 2) - 1


def _cin(bld: Builder):
    """One product 1 and C = -+2**-A: C takes part in the alignment (and is cut below
    the window) only with c_in_alignment; otherwise it is added uncut and the sum
    rounded once (rz / rd / ru see it).  A = 8 ... 18 (+) and from where the sticky
    family ends to 41 (both signs): the others tell the rest."""
    lo = _sticky_top(bld) - 1
    for A in range(8, MAX_ALIGN + 2):
        for sign, tag in ((-1, "neg"), (1, "pos")):
            if A >= lo or (sign > 0 and A <= 18):
                bld.add(f"cin_{tag}_{A}", [(0, 1.0)], c=sign * 2.0**-A)


def _cin_tie(bld: Builder):
    """(pos) A product 2**8 and C = 2**(7 - Y) (1 + 2**-23): C brings an rne tie of an
    accumulator of Y fraction bits and, 23 bits below it, the bit that breaks it: cut
    by the window with c_in_alignment (the tie goes to even), kept without (up).
    (neg) Products 2**8 and 2**(8 - Y) (an odd last bit) and C = -2**(7 - Y) (1 +
    2**-23): just below the midpoint when C is whole (down), on it when C is cut
    (rna: away, up)."""
    for Y in _ACC_Y:
        bld.add(f"cin_tie_pos_{Y}", [(0, 256.0)], c=2.0 ** (7 - Y) * (1 + 2.0**-23))
        bld.add(
            f"cin_tie_neg_{Y}",
            [(0, 256.0), (1, 2.0 ** (8 - Y))],
            c=-(2.0 ** (7 - Y)) * (1 + 2.0**-23),
        )


_ACC_Y = tuple(range(7, 24))  # fraction bits of the accumulators searched (bf16 .. fp32)


def _cin_far(bld: Builder):
    """Products 2**8 and 2**(7 - Y) (an rne / rna tie of an accumulator of Y fraction
    bits; with 2**(8 - Y) too, an odd one) and C = +-2**(-34 - Y), 42 bits below:
    cut by every window with c_in_alignment (the tie is decided by the mode), kept
    without (just above or below the midpoint)."""
    for Y in _ACC_Y:
        tie = [(0, 256.0), (1, 2.0 ** (7 - Y))]
        bld.add(f"cin_far_pos_{Y}", tie, c=2.0 ** (-34 - Y))
        bld.add(f"cin_far_neg_{Y}", tie + [(2, 2.0 ** (8 - Y))], c=-(2.0 ** (-34 - Y)))


def _sticky_products(bld: Builder) -> dict:
    """{j: (a, b)}: operand values whose product is 1 + f, 2**-j <= f < 2**-(j - 1)
    (the highest bit below the leading one at j), for the tie families."""
    out = {}
    sa = [1 + i / 2**bld.fa.mbits for i in range(2**bld.fa.mbits)]
    sb = [1 + i / 2**bld.fb.mbits for i in range(2**bld.fb.mbits)]
    for x in sa:
        for y in sb:
            p = x * y
            a, b = (x / 2, y) if p >= 2 else (x, y)
            p = a * b
            f = p - 1
            if f <= 0:
                continue
            j = int(np.ceil(-np.log2(f)))
            if j not in out and bld.split(a) is not None:
                out[j] = (a, b)
    return out


def _chain_tie(bld: Builder):
    """C = 2**(Y + 1) and one product 2**0 (1 + f) whose top bit is an rne tie of an
    accumulator of Y fraction bits and whose next bit, j places lower, breaks it:
    the result rounds up iff that bit survives the window (align_bits >= Y + 1 + j
    with c_in_alignment; always without): the window of one-product steps (fused = 1)
    and of rne accumulators, where the sticky family sees nothing."""
    pairs = _sticky_products(bld)
    js = sorted({2, max(pairs)} & set(pairs))  # a near and the farthest breaking bit
    for Y in _ACC_Y:
        for j in js:
            a, b = pairs[j]
            bld.add(f"chain_tie_{Y}_{j}", [(0, a, b)], c=2.0 ** (Y + 1))


def _round(bld: Builder):
    """4 products 2**8 and one 0.75 units of the last place of 2**10 at Y fraction
    bits (Y = 6 ... 22), all +, or all -: the step's sum is rounded by acc_round
    into an accumulator of Y fraction bits (rz, rd, ru and the nearest modes give
    two different results per sign).  The products sit at the end of K: a later
    all-zero step would cut the result back to the window."""
    k0 = max(bld.K - 5, 0)  # at the end of K: no all-zero step after them
    for Y in range(6, 23):
        t = 0.75 * 2.0 ** (10 - Y)
        for sign, tag in ((1, "pos"), (-1, "neg")):
            prods = [(k0 + k, sign * 256.0) for k in range(4)] + [(k0 + 4, sign * t)]
            bld.add(f"round_{tag}_{Y}", prods)


def _carry(bld: Builder):
    """15 products 2**8 (a step of 16) and one 2**(8 - a), a = 5 ... 21: the sum
    15 * 2**8 + 2**(8 - a) needs a + 3 fraction bits: the accumulator's width beyond
    the window (the carry-out of a fused step), at the end of K."""
    n = min(15, bld.K - 1)
    k0 = bld.K - n - 1  # at the end of K, as in the round family
    for a in range(5, min(21, 8 - bld.pmin - 4) + 1):
        prods = [(k0 + k, 256.0) for k in range(n)] + [(k0 + n, 2.0 ** (8 - a))]
        bld.add(f"carry_{a}", prods)


def _fused(bld: Builder):
    """Where fused steps end: (cut) +X, -X at k = 0, 1 and 2**pmin at k = p: cut to 0
    when it shares their step, kept in a later one; (round) 2**8, 2**8 * 2**-26 at k
    = 0, 1 and -2**8 at k = p: the small term survives only if the step holding it
    also holds -2**8 (a step boundary between rounds it away); (pair) C = 2**-22,
    +-2**8 at k = 0, 1: a step of one product rounds C away."""
    X = 2.0**bld.pmax
    for p in _positions(bld.K):
        if p < bld.min_position:
            continue
        bld.add(f"{bld._fam}_cut_{p}", [(0, X), (1, -X), (p, 2.0**bld.pmin)])
        bld.add(f"{bld._fam}_round_{p}", [(0, 256.0), (1, 2.0**-18), (p, -256.0)])
    if not bld.min_position:
        bld.add("fused_pair", [(0, 256.0), (1, -256.0)], c=2.0**-22)


def _fused_long(bld: Builder):
    """The fused family in the long cases of the scale families (steps wider than
    the short cases): positions from 32 on."""
    bld.min_position = BASE_K
    try:
        _fused(bld)
    finally:
        bld.min_position = 0


def _random_long(bld: Builder):
    """Random cases as long as the scale families', with random scale codes near
    2**0: every interaction of the scale and promotion fields at once."""
    rng = np.random.default_rng(2)
    start = len(bld.names)
    _random(bld, 16, seed=3)
    for i in range(start, len(bld.names)):
        bld.sa[i] = rng.integers(119, 136, bld.nkb).astype(np.uint8)
        bld.sb[i] = rng.integers(119, 136, bld.nkb).astype(np.uint8)


def _subnormals(bld: Builder):
    """Results in the subnormal range of the accumulator: C = +-2**-130, 2**-149,
    the largest fp32 subnormal (rounds up to 2**-126 in a narrower format, and is
    kept then even when subnormals are flushed), C = +-2**-20 (an fp16 subnormal),
    2**-25; products 2**pmin and 3 * 2**pmin (fp16 subnormals)."""
    for tag, c in (
        ("c_pos_130", 2.0**-130),
        ("c_neg_130", -(2.0**-130)),
        ("c_149", 2.0**-149),
        ("c_edge", 2.0**-126 - 2.0**-149),
        ("c_pos_20", 2.0**-20),
        ("c_neg_20", -(2.0**-20)),
        ("c_25", 2.0**-25),
    ):
        bld.add(f"subnormal_{tag}", [], c=c)
    bld.add("subnormal_prod_pos", [(0, 2.0**bld.pmin), (1, 2.0 ** (bld.pmin + 1))])
    bld.add("subnormal_prod_neg", [(0, -(2.0**bld.pmin)), (1, -(2.0 ** (bld.pmin + 1)))])


def _overflow(bld: Builder):
    """The largest fp32 C, +-, alone (rounds up past a narrower accumulator's largest
    value under rne / ru / rd: Inf or the largest finite value by the mode) and with
    a product 1 (ru / rd see it when nothing cuts it); two products of the largest
    operands, and C = 2**15 with one, past fp16's 65504 (Inf or 65504 by the mode)."""
    big = float(np.finfo(np.float32).max)
    top_a, top_b = bld.fa.max_finite, bld.fb.max_finite
    for sign, tag in ((1, "pos"), (-1, "neg")):
        bld.add(f"overflow_c_{tag}", [], c=sign * big)
        bld.add(f"overflow_c_plus_{tag}", [(0, sign * 1.0)], c=sign * big)
        bld.add(f"overflow_16_{tag}", [(0, sign * top_a, top_b), (1, sign * top_a, top_b)])
        bld.add(f"overflow_16c_{tag}", [(0, sign * top_a, top_b)], c=sign * 2.0**15)


def _zeros(bld: Builder):
    """Signed zeros (step 6), the other products -0 x +0 so that later all-zero steps
    keep a -0: every product -0 with C = -0 (-0) and with C = +0 (+0); an exact
    cancellation of products, and of C (+0, -0 under rd)."""
    nz = [(k, -0.0, 0.0) for k in range(bld.K)]
    bld.add("zero_all_neg", nz, c=-0.0)
    bld.add("zero_mixed", nz, c=0.0)
    bld.add("zero_cancel", [(0, 1.0), (1, -1.0)] + nz[2:])
    bld.add("zero_cancel_c", [(0, 1.0)] + nz[1:], c=-1.0)


def _specials(bld: Builder):
    """A NaN operand (the result is the canonical NaN 0x7FFFFFFF: a chip that writes
    other NaN payloads needs --any-nan) and, with E5M2, Inf."""
    bld.add("special_nan", [(0, "nan", 1.0)])
    if bld.fa.has_inf:
        bld.add("special_inf", [(0, "inf", 1.0), (1, 1.0)])


def _random(bld: Builder, n: int = 64, seed: int = 1, kind: str = "codes"):
    """Random cases: uniformly random finite codes with C random over 30 binades; no
    one field, but every interaction at once (they also stop most wrong candidates
    of the fit at its first case)."""
    rng = np.random.default_rng(seed)
    va, vb = decode_table(bld.fa.name), decode_table(bld.fb.name)
    oka, okb = np.flatnonzero(np.isfinite(va)), np.flatnonzero(np.isfinite(vb))
    K = bld.K
    for i in range(n):
        if kind in ("codes", "zc"):
            ca, cb = rng.choice(oka, K), rng.choice(okb, K)
            c = rng.standard_normal() * 2.0 ** rng.integers(-10, 20) if kind == "codes" else 0.0
        elif kind == "mean":
            x, y = np.abs(rng.standard_normal(K)) + 0.5, np.abs(rng.standard_normal(K)) + 0.5
            ca, cb = encode(bld.fa.name, x, overflow="sat"), encode(bld.fb.name, y, overflow="sat")
            c = rng.random() * 64
        else:  # cancel
            sign = np.where(rng.random(K) < 0.5, -1.0, 1.0)
            x = (1 + rng.random(K)) * sign * 2.0 ** rng.integers(-2, 3, K)
            y = (1 + rng.random(K)) * 2.0 ** rng.integers(-2, 3, K)
            ca, cb = encode(bld.fa.name, x, overflow="sat"), encode(bld.fb.name, y, overflow="sat")
            c = rng.standard_normal() * 4
        c = float(np.float32(c))
        bld.add(f"{bld._fam}_{i}", [(k, va[ca[k]], vb[cb[k]]) for k in range(K)], c=c)


def _random_mean(bld: Builder):
    """Random positive data (|N(0, 1)| + 1/2), C in [0, 64): long same-sign sums,
    carries and the accumulator's rounding at every step."""
    _random(bld, 32, 4, "mean")


def _random_cancel(bld: Builder):
    """Random data of alternating signs within 4 binades, C ~ N(0, 4): cancellation,
    terms cut near the window's edge."""
    _random(bld, 32, 5, "cancel")


def _random_zc(bld: Builder):
    """Uniformly random finite codes with C = +0: the products' own alignment."""
    _random(bld, 16, 6, "zc")


# ---- with block scales
def _scale_range(bld: Builder):
    """Scaled products beyond the accumulator's range: 448 x 448 with scales 2**127 x
    2**127 (overflow: in the accumulator when scales act on products, in the
    promotion when they act there), 1 x 1 with 2**-127 x 2**-127 (underflow: the
    accumulator's subnormals and rounding, or the promotion's)."""
    big_a, big_b = bld.fa.max_finite, bld.fb.max_finite
    for sign, tag in ((1, "pos"), (-1, "neg")):
        bld.add(f"scale_range_huge_{tag}", [(0, sign * big_a, big_b)], sa={0: 254}, sb={0: 254})
        bld.add(f"scale_range_tiny_{tag}", [(0, sign * 1.0)], sa={0: 0}, sb={0: 0})
        bld.add(
            f"scale_range_sub_{tag}", [(0, sign * 1.5), (1, sign * 1.0)], sa={0: 62}, sb={0: 61}
        )


def _scale_c(bld: Builder):
    """C = 1 and a product 1 scaled by 2**-A: with scales on products the scaled term
    is aligned against C (cut iff A > align_bits with c_in_alignment); with scales at
    promotion the inner sum is exact and the fold rounds once."""
    for A in (4, 8, 12, 14, 16, 20, 24, 26, 30):
        for sign, tag in ((-1, "neg"), (1, "pos")):
            bld.add(f"scale_c_{tag}_{A}", [(0, sign * 1.0)], c=1.0, sa={0: 127 - A})


def _scale_map(bld: Builder):
    """A product 1 in every block, block j scaled by 2**j: each block's codes act on
    its own products (and the blocks' order)."""
    if bld.nkb < 2:
        bld._skip("scale_map_blocks", "needs K of two scale blocks")
        return
    prods = [(j * bld.bs, 1.0) for j in range(bld.nkb)]
    bld.add("scale_map_blocks", prods, sa={j: 127 + j for j in range(bld.nkb)})


def _promote(bld: Builder):
    """Where promotion intervals end and what the fold rounds into: 2**8 at k = 0 and
    2**8 * 2**-20 at k = p (kept by an fp32 fold in a later interval, cut by a 13-bit
    window in the same one); C = +-2**8 and one product +-0.75 units of the last
    place of 2**8 at Y fraction bits: the fold (C is the outer accumulator) rounds
    it by promote_round into promote_format."""
    for p in _positions(bld.K):
        bld.add(f"promote_at_{p}", [(0, 256.0), (p, 2.0**-12)])
    for Y in range(5, 24):
        for sign, tag in ((1, "pos"), (-1, "neg")):
            t = sign * 0.75 * 2.0 ** (8 - Y)
            bld.add(f"promote_round_{tag}_{Y}", [(0, t)], c=sign * 256.0)


@dataclass(frozen=True)
class Family:
    name: str
    pins: tuple  # the fields whose values its cases tell apart
    build: Callable
    scales: bool = False  # only with --scales

    @property
    def what(self) -> str:
        return " ".join((self.build.__doc__ or "").split())


FAMILIES = (
    Family("random", ("(all: interactions)",), _random),
    Family("random_mean", ("(all: rounding, carries)",), _random_mean),
    Family("random_cancel", ("(all: cancellation, alignment)",), _random_cancel),
    Family("random_zc", ("(all: alignment of the products)",), _random_zc),
    Family("align", ("align_bits",), _align),
    Family("align_round", ("align_round", "align_bits"), _align_round),
    Family("sticky", ("align_bits", "acc_round", "c_in_alignment"), _sticky),
    Family("cin", ("c_in_alignment", "align_bits"), _cin),
    Family("cin_tie", ("c_in_alignment",), _cin_tie),
    Family("cin_far", ("c_in_alignment",), _cin_far),
    Family("chain_tie", ("align_bits", "c_in_alignment"), _chain_tie),
    Family("round", ("acc_round", "acc_format"), _round),
    Family("carry", ("acc_format",), _carry),
    Family("fused", ("fused",), _fused),
    Family("subnormal", ("acc_subnormals", "acc_format"), _subnormals),
    Family("overflow", ("acc_round", "acc_format"), _overflow),
    Family("zero", ("acc_round",), _zeros),
    Family("special", (), _specials),
    Family("scale_range", ("scale_apply", "promote_round", "acc_subnormals"), _scale_range, True),
    Family("scale_c", ("scale_apply", "align_bits", "c_in_alignment"), _scale_c, True),
    Family("scale_map", ("scale_block",), _scale_map, True),
    Family("promote", ("promote_every", "promote_format", "promote_round"), _promote, True),
    Family("fused_long", ("fused", "promote_every"), _fused_long, True),
    Family("random_long", ("(all: interactions)",), _random_long, True),
)


BASE_K = 32  # the K of the families that need no scale blocks (with --scales too)


def default_k(scales: bool, scale_block: int) -> int:
    """K of the scale families: two scale blocks (the others use BASE_K)."""
    return 2 * scale_block if scales else BASE_K


def generate(a_format="e4m3", b_format=None, K=None, scales=False, scale_block=32):
    """(Cases, Builder) of the probe set; the builder holds the names, the family of
    each case and the skipped cases.  K None: the families without scales at K = 32,
    the scale families (with scales) at two scale blocks; else every case at K."""
    from emu.numerics.formats import formats_with_role

    b_format = b_format or a_format
    for f in (a_format, b_format):
        if get_format(f).name not in formats_with_role("element"):
            raise UsageError(
                f"--format: an operand format ({', '.join(formats_with_role('element'))}), "
                f"got {f!r}"
            )
    if scales and (not isinstance(scale_block, int) or scale_block < 1):
        raise UsageError(f"--scale-block must be >= 1, got {scale_block}")
    if scales and K is None and 2 * scale_block > MAX_K:
        raise UsageError(f"--scale-block {scale_block}: two blocks are over {MAX_K}; give --k")
    if K is not None and (not isinstance(K, int) or K < 1 or K > MAX_K):
        raise UsageError(f"--k must be 1..{MAX_K}, got {K}")
    base_k = BASE_K if K is None else K
    scale_k = default_k(scales, scale_block) if K is None else K
    bld = Builder(a_format, b_format, base_k, scale_block if scales else 0)
    for fam in FAMILIES:
        if fam.scales and not scales:
            continue
        bld.set_k(scale_k if fam.scales else base_k)
        bld._fam = fam.name
        fam.build(bld)
    if not bld.names:
        raise UsageError(f"no probe case fits K = {base_k}")
    return bld.cases(), bld


def family_table(bld: Builder) -> list:
    """[{family, pins, what, cases, first, last}] of the families present."""
    out = []
    for fam in FAMILIES:
        idx = [i for i, f in enumerate(bld.family) if f == fam.name]
        if not idx:
            continue
        out.append(
            dict(
                family=fam.name,
                pins=list(fam.pins),
                what=fam.what,
                cases=len(idx),
                first=idx[0],
                last=idx[-1],
            )
        )
    return out


def render(cases: Cases, bld: Builder, d=None, emulated: str | None = None) -> dict:
    """{file name: text or bytes}: a/b/c(/sa/sb).txt in validate's text format,
    cases.npz (a, b as uint8 codes, c, sa, sb; add d for ``fit --npz``; cases of one
    K only), manifest.json; d.txt (and d in the .npz) when results ``d`` are given,
    ``emulated`` saying under which configuration (for the manifest)."""
    a_f, b_f = bld.fa.name, bld.fb.name
    if d is not None:
        cases = Cases(cases.a, cases.b, cases.c, np.asarray(d, np.float32), cases.sa,
                      cases.sb, cases.where)  # fmt: skip
    files = write_text(cases, a_f, b_f)
    ks = sorted({len(r) for r in cases.a})
    if len(ks) == 1:  # an .npz holds cases of one K
        arrays = dict(a=np.stack(cases.a), b=np.stack(cases.b), c=np.asarray(cases.c, np.float32))
        if cases.sa is not None:
            arrays["sa"], arrays["sb"] = np.stack(cases.sa), np.stack(cases.sb)
        if d is not None:
            arrays["d"] = np.asarray(d, np.float32)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        files["cases.npz"] = buf.getvalue()
    fmt_opt = f"--format {a_f}" + (f" --b-format {b_f}" if b_f != a_f else "")
    manifest = dict(
        tool="fp8emu probe",
        a_format=a_f,
        b_format=b_f,
        k=ks if len(ks) > 1 else ks[0],
        scale_block=bld.bs,
        cases=len(cases),
        files={
            "a.txt": "row of A per case: K fp32 words (8 hex digits) of the operand values",
            "b.txt": "column of B per case, likewise",
            "c.txt": "C per case: one fp32 word as 32 binary digits",
            **(
                {"sa.txt": "UE8M0 codes of the row, one per block", "sb.txt": "of the column"}
                if bld.bs
                else {}
            ),
            **(
                {"cases.npz": "the same cases: a, b (cases x K uint8 codes), c, sa, sb"}
                if len(ks) == 1
                else {}
            ),
            "d.txt": "YOUR CHIP'S RESULTS, one fp32 word (32 binary digits) per case",
        },
        fit=f"fp8emu fit --dir DIR --d d.txt {fmt_opt} --out chip.toml",
        d_emulated=emulated,
        families=family_table(bld),
        case_names=list(bld.names),
        skipped=bld.skipped,
    )
    files["manifest.json"] = json.dumps(manifest, indent=1) + "\n"
    return files


# ------------------------------------------------------------------ random cases
def random_cases(n, K=32, a_format="e4m3", b_format=None, seed=0, scale_block=0) -> Cases:
    """n random cases (no results): 40% uniformly random finite codes with C random
    over 30 binades, 30% quantised N(0, 1) data times a random power of two, 15%
    positive data (long same-sign sums), 15% small data with a tiny or subnormal C;
    scales (scale_block > 0) random near 2**0."""
    from emu.numerics.formats import encode

    b_format = b_format or a_format
    fa, fb = get_format(a_format), get_format(b_format)
    rng = np.random.default_rng(seed)
    va, vb = decode_table(fa.name), decode_table(fb.name)
    oka, okb = np.flatnonzero(np.isfinite(va)), np.flatnonzero(np.isfinite(vb))
    nkb = n_blocks(K, scale_block)
    kind = rng.random(n)
    A = rng.choice(oka, (n, K)).astype(np.uint8)
    B = rng.choice(okb, (n, K)).astype(np.uint8)
    C = np.where(rng.random(n) < 0.7, rng.standard_normal(n) * 2.0 ** rng.integers(-10, 20, n), 0.0)
    for lo, hi, gen in ((0.4, 0.7, "normal"), (0.7, 0.85, "mean"), (0.85, 1.0, "small")):
        sel = np.flatnonzero((kind >= lo) & (kind < hi))
        m = len(sel)
        if not m:
            continue
        if gen == "normal":
            x = rng.standard_normal((m, K)) * 2.0 ** rng.integers(-6, 7, (m, 1))
            y = rng.standard_normal((m, K)) * 2.0 ** rng.integers(-6, 7, (m, 1))
            C[sel] = np.where(rng.random(m) < 0.5, rng.standard_normal(m) * 8, 0.0)
        elif gen == "mean":
            x = np.abs(rng.standard_normal((m, K))) + 0.5
            y = np.abs(rng.standard_normal((m, K))) + 0.5
            C[sel] = rng.random(m) * 64
        else:
            x = rng.standard_normal((m, K)) * 2.0**-5
            y = rng.standard_normal((m, K)) * 2.0**-5
            C[sel] = rng.standard_normal(m) * 2.0 ** rng.integers(-149, -100, m)
        A[sel] = encode(fa.name, x, overflow="sat")
        B[sel] = encode(fb.name, y, overflow="sat")
    C = C.astype(np.float32)
    sa = sb = None
    if scale_block:
        sa = list(rng.integers(119, 136, (n, nkb)).astype(np.uint8))
        sb = list(rng.integers(119, 136, (n, nkb)).astype(np.uint8))
    return Cases(list(A), list(B), C, None, sa, sb, [f"random_{i}" for i in range(n)])
