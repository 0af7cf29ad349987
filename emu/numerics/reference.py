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


# ------------------------------------------------------------------ 2.1 step 1
def product(a, b, scale_exp):
    """Exact product of two decoded operands: ('nan',) | ('inf', s) | ('zero', s) | Term.
    Not renormalised: exponent e_a + e_b (+ block scales with scale_apply=product)."""
    if a[0] == "nan" or b[0] == "nan":
        return ("nan",)
    sign = a[1] ^ b[1]
    if a[0] == "inf" or b[0] == "inf":
        other = b if a[0] == "inf" else a
        if other[0] == "num" and other[2] == 0:
            return ("nan",)  # Inf * 0
        return ("inf", sign)
    _, _, ma, ea, Ma = a
    _, _, mb, eb, Mb = b
    if ma == 0 or mb == 0:
        return ("zero", sign)
    return Term(sign, ma * mb, ea + eb + scale_exp, Ma + Mb)


# ------------------------------------------------------------------ 2.1 step 2
def acc_term(c: float, acc_fmt) -> Term:
    """The accumulator as a term: exponent floor(log2|c|) clamped below at acc emin."""
    num, den = abs(c).as_integer_ratio()
    lsb = -(den.bit_length() - 1)
    top = num.bit_length() - 1 + lsb
    exp = max(top, get_format(acc_fmt).emin)
    return Term(int(math.copysign(1, c) < 0), num, exp, exp - lsb)


# ------------------------------------------------------------------ 2.1 step 4
def cut(t: Term, qe: int, how: str) -> tuple:
    """Cut a term to a multiple of 2**qe; returns the signed integer count of 2**qe.
    rz truncates the magnitude; rne rounds to nearest, ties to even; rna to nearest,
    ties away from zero."""
    sh = qe - t.lsb
    if sh <= 0:
        n = t.sig << -sh
    else:
        n, rem = t.sig >> sh, t.sig & ((1 << sh) - 1)
        if how in ("rne", "rna"):
            half = 1 << (sh - 1)
            n += rem > half or (rem == half and (how == "rna" or n & 1))
    return -n if t.sign else n


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


def round_to(n: int, e: int, fmt, mode: str, subnormals: bool = True) -> float:
    """n * 2**e rounded once into fmt (IEEE overflow rules), as a float."""
    return exact_to_float(round_exact(n, e, fmt, mode, subnormals=subnormals))


def zero_result(all_zero: bool, all_negative_zero: bool, mode: str) -> float:
    """2.1 step 6: every term zero -> -0 iff all were -0, else +0; a non-trivial exact
    cancellation -> +0 (-0 under rd)."""
    if all_zero:
        return -0.0 if all_negative_zero else 0.0
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


# ------------------------------------------------------------------ 2.1 one fused step
def fused_step(c: float, prods: list, cfg) -> float:
    """One fused step: accumulator c (a float) plus a list of products."""
    c_val = ("nan",) if math.isnan(c) else ("inf", int(c < 0)) if math.isinf(c) else None
    sp = specials(prods + ([c_val] if c_val else []))
    if sp is not None:
        return sp
    terms = [p for p in prods if isinstance(p, Term)]  # 3. drop zeros
    c_term = acc_term(c, cfg.acc_format) if c != 0 else None
    aligned = list(terms) + ([c_term] if c_term and cfg.c_in_alignment else [])
    parts = []
    if aligned:
        if cfg.align_bits == "exact":
            parts = [((-1) ** t.sign * t.sig, t.lsb) for t in aligned]
        else:
            qe = max(t.exp for t in aligned) - cfg.align_bits  # 4. quantum
            parts = [(cut(t, qe, cfg.align_round), qe) for t in aligned]
    if c != 0 and not cfg.c_in_alignment:
        parts.append(float_parts(c))  # 5. c joins here
    n, e = exact_sum(parts)
    if n == 0:  # 6. zero
        zeros = [p for p in prods if not isinstance(p, Term)]
        all_zero = not terms and c == 0
        all_neg = all(s for _, s in zeros) and math.copysign(1, c) < 0
        return zero_result(all_zero, all_neg, cfg.acc_round)
    return round_to(n, e, cfg.acc_format, cfg.acc_round, cfg.acc_subnormals)  # 5.


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
        both_neg = math.copysign(1, o) < 0 and math.copysign(1, p) < 0
        return zero_result(o == 0 and p == 0, both_neg, cfg.promote_round)
    return round_to(n, e, cfg.promote_format, cfg.promote_round)


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

    def prod(k):
        s = 0
        if on_product:
            sa, sb = scale_exp_of(ops.sa[i, k // bs]), scale_exp_of(ops.sb[k // bs, j])
            if sa is None or sb is None:
                return ("nan",)
            s = sa + sb
        return product(decode(fa, int(ops.a[i, k])), decode(fb, int(ops.b[k, j])), s)

    c = float(ops.c[i, j])
    if not P:
        acc = c
        for k0 in range(0, K, max(step, 1)):
            acc = fused_step(acc, [prod(k) for k in range(k0, min(k0 + step, K))], cfg)
        return acc
    o = c
    for p0 in range(0, K, P):
        inner = 0.0
        for k0 in range(p0, min(p0 + P, K), step):
            inner = fused_step(inner, [prod(k) for k in range(k0, min(k0 + step, K))], cfg)
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
