"""The executable spec: slow, exact, written to read like spec/numerics.md section 2.

Every value here is exact: terms are Python integers times powers of two, and
accumulator values are Python floats (every acc/promote format fits in fp32, so a
float holds them exactly, signed zeros, Inf and NaN included).  The numba kernels
in ``emu.kernels`` must agree with this module bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emu.numerics.formats import classify, exact_to_float, get_format, round_exact
from emu.numerics.operands import batched, check

NAN = float("nan")
INF = float("inf")
FP32_NAN_BITS = np.uint32(0x7FFFFFFF)


@dataclass(frozen=True)
class Term:
    """(-1)**sign * sig * 2**(exp - frac): a product (frac = Ma + Mb) or c (frac = 23+).

    ``exp`` is the exponent the alignment uses (2.1 steps 1 and 2)."""

    sign: int
    sig: int
    exp: int
    frac: int

    @property
    def lsb(self) -> int:
        return self.exp - self.frac


# ------------------------------------------------------------------ 1. operands
def decode(fmt, code: int):
    """A code as ('nan',) | ('inf', sign) | ('num', sign, m, e, M) per spec section 1:
    e = max(E, 1) - bias, m = f if E == 0 else 2**M + f (zero is m == 0); which codes
    are special is the format's kind (formats.classify)."""
    f = get_format(fmt)
    c = classify(f, code)
    return c if c[0] != "num" else (*c, f.mbits)


# ------------------------------------------------------------------ 2.3 scales
def scale_of(fmt, code: int):
    """A block-scale code as (m, e, M), value m * 2**(e - M) (UE8M0: m = 1, M = 0;
    UE4M3: the e4m3 value of the code with its sign bit ignored, 0x00 is zero), or
    None for a NaN code (UE8M0 0xFF; UE4M3 0x7F, 0xFF)."""
    c = decode(fmt, code)
    return None if c[0] != "num" else (c[2], c[3], c[4])


def scale_pair(sa, sb):
    """The product of two block scales (section 2.3), None when either is NaN."""
    if sa is None or sb is None:
        return None
    return sa[0] * sb[0], sa[1] + sb[1], sa[2] + sb[2]


NO_SCALE = (1, 0, 0)  # 2**0


# ------------------------------------------------------------------ 2.1 step 1
def product(a, b, scale=NO_SCALE):
    """Exact product of two decoded operands and the product of their block scales
    (``scale`` as from :func:`scale_pair`: (m, e, M); ``None``: a NaN scale):
    ('nan',) | ('inf', s) | ('zero', s) | Term.  Not renormalised: exponent
    e_a + e_b + e_scale, significand m_a * m_b * m_scale.  A zero scale makes a zero
    product (of the operands' sign)."""
    if scale is None or a[0] == "nan" or b[0] == "nan":
        return ("nan",)
    sign = a[1] ^ b[1]
    if a[0] == "inf" or b[0] == "inf":
        other = b if a[0] == "inf" else a
        if (other[0] == "num" and other[2] == 0) or scale[0] == 0:
            return ("nan",)  # Inf * 0
        return ("inf", sign)
    _, _, ma, ea, Ma = a
    _, _, mb, eb, Mb = b
    ms, es, Ms = scale
    if ma == 0 or mb == 0 or ms == 0:
        return ("zero", sign)
    return Term(sign, ma * mb * ms, ea + eb + es, Ma + Mb + Ms)


def group_term(prods: list, scale, zero_sign_of):
    """``group`` > 1: G products summed exactly into one term, not renormalised, whose
    alignment exponent is its scale product's exponent (e_sa + e_sb; 0 without
    scales).  Specials pass through; every product zero gives a zero term (its sign:
    ``zero_sign_of`` of the products); a sum that cancels to 0 stays a term (sig 0)
    and still takes part in e_max."""
    sp = [p for p in prods if not isinstance(p, Term) and p[0] != "zero"]
    if sp:
        return sp
    terms = [p for p in prods if isinstance(p, Term)]
    if not terms:
        return [("zero", zero_sign_of(prods))]
    n, lsb = exact_sum([((-1) ** t.sign * t.sig, t.lsb) for t in terms])
    e = scale[1] if scale is not None else 0
    return [Term(int(n < 0), abs(n), e, e - lsb)]


# ------------------------------------------------------------------ 2.1 step 2
def acc_term(c: float, acc_fmt) -> Term:
    """The accumulator as a term: exponent floor(log2|c|) clamped below at acc emin."""
    num, den = abs(c).as_integer_ratio()
    lsb = -(den.bit_length() - 1)
    top = num.bit_length() - 1 + lsb
    exp = max(top, get_format(acc_fmt).emin)
    return Term(int(math.copysign(1, c) < 0), num, exp, exp - lsb)


# ------------------------------------------------------------------ 2.1 step 4
def requantize(n: int, lsb: int, qe: int, how: str) -> int:
    """The signed value n * 2**lsb cut to a multiple of 2**qe; returns the signed
    count of 2**qe.  rz truncates the magnitude; rne rounds to nearest, ties to even;
    rna to nearest, ties away from zero; rd floors the signed value (two's
    complement truncation); ru ceils it."""
    sh = qe - lsb
    if sh <= 0:
        return n << -sh
    neg, a = n < 0, abs(n)
    q, rem = a >> sh, a & ((1 << sh) - 1)
    half = 1 << (sh - 1)
    if how in ("rne", "rna"):
        q += rem > half or (rem == half and (how == "rna" or q & 1))
    elif how == "rd":
        q += neg and rem != 0
    elif how == "ru":
        q += not neg and rem != 0
    return -q if neg else q


def cut(t: Term, qe: int, how: str) -> int:
    """Cut a term to a multiple of 2**qe (2.1 step 4); the signed count of 2**qe."""
    return requantize((-1) ** t.sign * t.sig, t.lsb, qe, how)


def exact_sum(parts):
    """Sum of (n, e) pairs meaning n * 2**e, exactly, as one (n, e) pair."""
    parts = [p for p in parts if p[0]]
    if not parts:
        return 0, 0
    e = min(p[1] for p in parts)
    return sum(n << (pe - e) for n, pe in parts), e


def float_parts(x: float):
    """A finite float as (n, e) with x == n * 2**e."""
    num, den = x.as_integer_ratio()
    return num, -(den.bit_length() - 1)


def round_to(n: int, e: int, fmt, mode: str, subnormals: bool = True, overflow="ieee") -> float:
    """n * 2**e rounded once into fmt, as a float.  Overflow (2.1 step 5): ``ieee``
    rules, or ``inf``: always +-Inf."""
    how = "nonsat" if overflow == "inf" else "ieee"
    return exact_to_float(round_exact(n, e, fmt, mode, subnormals=subnormals, overflow=how))


def zero_result(zero_signs, mode: str, zero_sign: str) -> float:
    """The sign of a zero result (2.1 step 6).  ``zero_signs``: the signs of the zero
    terms when every term was zero, None when the sum of non-zero terms came to 0.
    ``ieee`` (IEEE 754 6.3): zeros of one sign keep it; mixed signs and an exact
    cancellation give +0, -0 under rd.  ``positive``: +0."""
    if zero_sign == "positive":
        return 0.0
    if zero_signs and len(set(zero_signs)) == 1:
        return -0.0 if zero_signs[0] else 0.0
    return -0.0 if mode == "rd" else 0.0


def specials(values):
    """2.2: NaN if any NaN or both infinities; the infinity if one; else None."""
    infs = set()
    for v in values:
        if isinstance(v, Term):
            continue
        if v[0] == "nan":
            return NAN
        if v[0] == "inf":
            infs.add(v[1])
    if len(infs) == 2:
        return NAN
    if infs:
        return -INF if infs.pop() else INF
    return None


def zero_exp_of(cfg):
    """The exponent zero terms enter e_max with (2.1 step 3), None for ``drop``."""
    if cfg.zero_exp == "drop":
        return None
    return get_format(cfg.acc_format).emin + cfg.zero_exp


def e_max_of(terms, zeros: bool, cfg):
    """2.1 step 3: the largest exponent among the terms, and the zero terms' exponent
    when ``zeros`` (some term is zero) and zero_exp is not ``drop``; None: no term."""
    exps = [t.exp for t in terms]
    ze = zero_exp_of(cfg)
    if zeros and ze is not None:
        exps.append(ze)
    return max(exps) if exps else None


def aligned_sum(terms, zeros: bool, cfg, how=None):
    """2.1 steps 3-4: the terms cut to 2**(e_max - align_bits) and added exactly:
    (n, lsb, e_max); e_max None when there is no term."""
    e_max = e_max_of(terms, zeros, cfg)
    if e_max is None:
        return 0, 0, None
    if cfg.align_bits == "exact":
        n, lsb = exact_sum([((-1) ** t.sign * t.sig, t.lsb) for t in terms])
        return n, lsb, e_max
    qe = e_max - cfg.align_bits
    return sum(cut(t, qe, how or cfg.align_round) for t in terms), qe, e_max


def lane_sum(lanes, zeros_in, cfg):
    """``lanes`` > 1 (2.1 step 4): each lane (the products at k - k0 = l mod lanes) is
    aligned on its own e_max and summed; the lane sums are cut by lane_round to
    align_bits below the largest lane exponent e_dot and added: (n, lsb, e_dot)."""
    sums = [aligned_sum(t, z, cfg) for t, z in zip(lanes, zeros_in, strict=True)]
    sums = [s for s in sums if s[2] is not None]
    if not sums:
        return 0, 0, None
    e_dot = max(s[2] for s in sums)
    qe = e_dot - cfg.align_bits
    return sum(requantize(n, lsb, qe, cfg.lane_round) for n, lsb, _ in sums), qe, e_dot


def join(n, lsb, e_dot, c: float, cfg):
    """C outside the alignment joins the dot part (2.1 step 5).  ``join_bits`` exact:
    exactly.  An integer J: at e_j = max(e_dot, e_c) (e_c: C's exponent as in step
    2), the dot part is cut to 2**(e_j - J) and C to 2**(e_j - align_bits), both by
    join_round; C is dropped when e_c < e_j - align_bits - 1.  Returns (n, lsb)."""
    if c == 0:
        return n, lsb
    if cfg.join_bits == "exact":
        return exact_sum([(n, lsb), float_parts(c)])
    t = acc_term(c, cfg.acc_format)
    e_j = t.exp if e_dot is None else max(e_dot, t.exp)
    qd, qc = e_j - cfg.join_bits, e_j - cfg.align_bits
    d = requantize(n, lsb, qd, cfg.join_round)
    cc = 0 if t.exp < e_j - cfg.align_bits - 1 else cut(t, qc, cfg.join_round)
    return exact_sum([(d, qd), (cc, qc)])


def normalise(n: int, e: int, cfg):
    """``norm_bits`` N (2.1 step 5): the sum, normalised, cut to N fraction bits by
    norm_round (acc_format's exponent range: subnormal below its emin) before the
    rounding into acc_format.  Returns (n, e)."""
    if cfg.norm_bits == "exact":
        return n, e
    acc = get_format(cfg.acc_format)
    inner = get_format(f"e{acc.ebits}m{cfg.norm_bits}")
    r = round_exact(n, e, inner, cfg.norm_round)
    if r[2] == "inf":  # beyond the range: keep it exact, the final rounding overflows
        return n, e
    return (-r[1] if r[0] else r[1]), r[2]


# ------------------------------------------------------------------ 2.1 one fused step
def fused_step(c: float, prods: list, cfg, scales=None) -> float:
    """One fused step: accumulator c (a float) plus a list of products (and, with
    ``group`` > 1, each group's scale product in ``scales``, one per group)."""
    G = cfg.group
    if G > 1:

        def zeros_sign(ps):  # the IEEE sign of a sum of zeros
            signs = {p[1] for p in ps}
            return int(signs == {1} or (len(signs) == 2 and cfg.acc_round == "rd"))

        prods = [
            t
            for g in range(0, len(prods), G)
            for t in group_term(prods[g : g + G], (scales or [NO_SCALE])[g // G], zeros_sign)
        ]
    c_val = ("nan",) if math.isnan(c) else ("inf", int(c < 0)) if math.isinf(c) else None
    sp = specials(prods + ([c_val] if c_val else []))
    if sp is not None:
        return sp
    terms = [p for p in prods if isinstance(p, Term)]
    zeros = [p for p in prods if not isinstance(p, Term)]  # 3. zero terms
    cin = cfg.c_in_alignment
    if c != 0 and cin:
        terms.append(acc_term(c, cfg.acc_format))
    has_zero = bool(zeros) or (c == 0 and cin)
    if cfg.lanes > 1:
        L = cfg.lanes
        lanes = [[p for p in prods[l::L] if isinstance(p, Term)] for l in range(L)]
        lane_zeros = [any(not isinstance(p, Term) for p in prods[l::L]) for l in range(L)]
        n, e, e_dot = lane_sum(lanes, lane_zeros, cfg)
    else:
        n, e, e_dot = aligned_sum(terms, has_zero, cfg)  # 4. align, cut, add
    if not cin:
        n, e = join(n, e, e_dot, c, cfg)  # 5. c joins here
    joined = n
    n, e = normalise(n, e, cfg)
    if n == 0 and joined:  # normalised to zero: a zero of the sum's sign
        return 0.0 if cfg.zero_sign == "positive" or joined > 0 else -0.0
    if n == 0:  # 6. zero
        every_zero = c == 0 and not any(isinstance(p, Term) for p in prods)
        signs = [p[1] for p in zeros] + [int(math.copysign(1, c) < 0)]
        return zero_result(signs if every_zero else None, cfg.acc_round, cfg.zero_sign)
    v = round_to(n, e, cfg.acc_format, cfg.acc_round, cfg.acc_subnormals, cfg.overflow)  # 5.
    return 0.0 if v == 0 and cfg.zero_sign == "positive" else v


# ------------------------------------------------------------------ 2.4 promotion
def promote(o: float, p: float, scale_exp, cfg) -> float:
    """o <- round(o + p * 2**scale) into promote_format, one rounding (2.4)."""
    if scale_exp is None:  # NaN scale
        return NAN
    vals = [
        ("nan",) if math.isnan(x) else ("inf", int(x < 0)) if math.isinf(x) else None
        for x in (o, p)
    ]
    sp = specials([v for v in vals if v])
    if sp is not None:
        return sp
    parts = []
    if o != 0:
        parts.append(float_parts(o))
    if p != 0:
        n, e = float_parts(p)
        parts.append((n, e + scale_exp))
    n, e = exact_sum(parts)
    if n == 0:
        signs = [int(math.copysign(1, x) < 0) for x in (o, p)]
        every_zero = o == 0 and p == 0
        return zero_result(signs if every_zero else None, cfg.promote_round, cfg.zero_sign)
    v = round_to(n, e, cfg.promote_format, cfg.promote_round, True, cfg.overflow)
    return 0.0 if v == 0 and cfg.zero_sign == "positive" else v


# ------------------------------------------------------------------ 2.3 + 2.4 one element
def scale_exp_of(code: int):
    """UE8M0 code -> unbiased exponent, or None for the NaN code 0xFF."""
    return None if code == 0xFF else int(code) - 127


def dot(i: int, j: int, ops) -> float:
    """D[i, j] per spec section 2."""
    cfg = ops.config
    M, N, K = ops.shape
    fa, fb = cfg.a_format, cfg.b_format
    bs = cfg.scale_block
    step = K if cfg.fused == "k" else cfg.fused
    P = cfg.promote_every
    on_product = bs and cfg.scale_apply == "product"
    on_promotion = bs and cfg.scale_apply == "promotion"

    def scale(k):
        if not on_product:
            return NO_SCALE
        sa = scale_of(cfg.scale_format, ops.sa[i, k // bs])
        return scale_pair(sa, scale_of(cfg.scale_format, ops.sb[k // bs, j]))

    def prod(k):
        return product(decode(fa, int(ops.a[i, k])), decode(fb, int(ops.b[k, j])), scale(k))

    def step_at(acc, k0, k1):
        groups = [scale(k) for k in range(k0, k1, cfg.group)] if cfg.group > 1 else None
        return fused_step(acc, [prod(k) for k in range(k0, k1)], cfg, groups)

    c = float(ops.c[i, j])
    if not P:
        acc = c
        for k0 in range(0, K, max(step, 1)):
            acc = step_at(acc, k0, min(k0 + step, K))
        return acc
    o = c
    for p0 in range(0, K, P):
        inner = 0.0
        for k0 in range(p0, min(p0 + P, K), step):
            inner = step_at(inner, k0, min(k0 + step, K))
        s = 0
        if on_promotion:
            sa, sb = scale_exp_of(ops.sa[i, p0 // bs]), scale_exp_of(ops.sb[p0 // bs, j])
            s = None if sa is None or sb is None else sa + sb
        o = promote(o, inner, s, cfg)
    return o


def to_output(values) -> np.ndarray:
    """float values -> float32 array, NaN as 0x7FFFFFFF (the fp32 canonical NaN)."""
    out = np.asarray(values, dtype=np.float64).astype(np.float32)
    bits = out.view(np.uint32)
    bits[np.isnan(out)] = FP32_NAN_BITS
    return out


@batched
def gemm(a, b, *, c=None, sa=None, sb=None, config=None) -> np.ndarray:
    """D = C + A.B exactly per the spec (slow: Python integers; for small shapes)."""
    ops = check(a, b, c, sa, sb, config)
    M, N, K = ops.shape
    return to_output([[dot(i, j, ops) for j in range(N)] for i in range(M)]).reshape(M, N)
