"""Operands as the kernels see them: decoded once per gemm into flat integer arrays
(magnitude, sign, exponent with product-time scales folded in, class), with the
parameter record, the result being filled and the mask of elements left to the
general kernel (:class:`Problem`).  No numba here (the fast kernel's one-pass operand
loop lives in emu.kernels.fast and loads when a Problem is decoded for it)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np

from emu.kernels.record import (
    CLS_INF,
    CLS_NAN,
    CLS_NUM,
    NAN_SCALE,
    Params,
    operand_frac,
    scaled_on_products,
)
from emu.numerics.formats import classify, get_format

FP32_NAN_BITS = np.uint32(0x7FFFFFFF)
_CLASS = {"num": CLS_NUM, "inf": CLS_INF, "nan": CLS_NAN}


@cache
def decode_tables(name: str):
    """Per-code (magnitude m, sign, exponent e, class) of a format with codes of at
    most 8 bits: value = (-1)**sign * m * 2**(e - mbits); m = 0 for NaN and Inf.
    Class and magnitude come from emu.numerics.formats.classify, as in every decoder;
    sign and e = max(E, 1) - bias are read off the bits of every code (the kernels
    read them for numbers only)."""
    f = get_format(name)
    bits = np.arange(256) & ((1 << (f.bits - f.pad)) - 1)
    s = ((bits & f.sign_bit) != 0).astype(np.uint8)
    E = (bits >> f.mbits) & ((1 << f.ebits) - 1)
    e = (np.maximum(E, 1) - f.bias).astype(np.int32)
    m = np.zeros(256, np.int32)
    cls = np.zeros(256, np.uint8)
    for code in range(256):
        c = classify(f, code)
        cls[code] = _CLASS[c[0]]
        if c[0] == "num":
            m[code] = c[2]
    return m, s, e, cls


def scale_exponents(codes) -> np.ndarray:
    """UE8M0 codes -> unbiased exponents (int32), NAN_SCALE for 0xFF."""
    codes = np.asarray(codes, dtype=np.int32)
    return np.where(codes == 0xFF, NAN_SCALE, codes - 127).astype(np.int32)


@cache
def scale_tables(name: str):
    """Per-code (significand m, exponent e, NaN) of a block-scale format: value
    m * 2**(e - mbits) (UE8M0: m = 1; UE4M3: sign bit ignored, 0x00 zero)."""
    f = get_format(name)
    m = np.zeros(256, np.int64)
    e = np.zeros(256, np.int32)
    nan = np.zeros(256, np.bool_)
    for code in range(256):
        c = classify(f, code)
        if c[0] == "num":
            m[code], e[code] = c[2], c[3]
        else:
            nan[code] = True
    return m, e, nan


def decode_operands(ops):
    """Flat arrays for the kernels: value = m * 2**(e - operand_frac) per operand
    (emu.kernels.record.operand_frac), product-time scales folded in (their exponent
    into e, a UE4M3 significand into m; a NaN scale makes every operand of its block
    NaN).  With ``group`` > 1, e is the scale's exponent alone (0 without scales)
    and m carries the operand's exponent as a shift (record.operand_frac)."""
    cfg = ops.config
    (am, asg, ae, ac), (bm, bsg, be, bc) = (
        decode_tables(cfg.a_format),
        decode_tables(cfg.b_format),
    )
    a_m, a_s, a_e, a_c = am[ops.a].astype(np.int64), asg[ops.a], ae[ops.a], ac[ops.a]
    b_m, b_s, b_e, b_c = bm[ops.b].astype(np.int64), bsg[ops.b], be[ops.b], bc[ops.b]
    sa_p = scale_exponents(ops.sa)
    sb_p = scale_exponents(ops.sb)
    if cfg.group > 1:  # the operand's exponent moves into m (a shift by e - emin)
        fa, fb = get_format(cfg.a_format), get_format(cfg.b_format)
        a_m = np.where(a_m != 0, a_m << (a_e - fa.emin).astype(np.int64), 0)
        b_m = np.where(b_m != 0, b_m << (b_e - fb.emin).astype(np.int64), 0)
        a_e, b_e = np.zeros_like(a_e), np.zeros_like(b_e)
    if scaled_on_products(cfg):
        sm, se, snan = scale_tables(cfg.scale_format)
        block = np.arange(ops.a.shape[1]) // cfg.scale_block  # k -> its scale block
        sa_k, sb_k = ops.sa[:, block], ops.sb[block, :]  # K columns / rows
        a_e = a_e + np.where(snan[sa_k], 0, se[sa_k])
        b_e = b_e + np.where(snan[sb_k], 0, se[sb_k])
        a_m, b_m = a_m * sm[sa_k], b_m * sm[sb_k]
        a_c = np.where(snan[sa_k], CLS_NAN, a_c).astype(np.uint8)
        b_c = np.where(snan[sb_k], CLS_NAN, b_c).astype(np.uint8)
    return (a_m, a_s, a_e.astype(np.int32), a_c, b_m, b_s, b_e.astype(np.int32), b_c, sa_p, sb_p)


def values(m, s, e, frac: int) -> np.ndarray:
    """Exact float64 values of decoded finite operands, product-time scales included
    (signed magnitudes; NaN/Inf operands, whose m is 0, give 0); ``frac``: the
    operand's fraction bits as decoded (emu.kernels.record.operand_frac)."""
    return np.ldexp(np.where(s == 1, -m, m).astype(np.float64), e - frac)


def finish(out: np.ndarray) -> np.ndarray:
    """float64 results -> float32, NaN as the fp32 canonical NaN 0x7FFFFFFF."""
    d = out.astype(np.float32)
    d.view(np.uint32)[np.isnan(d)] = FP32_NAN_BITS
    return d


@cache
def value_tables(name: str):
    """Per-code (signed value as float64, -0.0 for a negative zero; exponent e =
    max(E, 1) - bias; is a number) of a format of at most 8 bits: what the fast
    kernel's operands are made of (NaN and Inf codes: value 0, not a number)."""
    m, s, e, cls = decode_tables(name)
    f = get_format(name)
    mf = m.astype(np.float64)
    val = np.ldexp(np.where(s == 1, -mf, mf), e - f.mbits)  # zeros keep their sign
    ok = cls == CLS_NUM
    return np.where(ok, val, 0.0), e.astype(np.int32), ok


def fast_decodable(cfg) -> bool:
    """The operands of cfg are values times UE8M0 powers of two (what the fast
    operand loop makes): no UE4M3 significands, no groups."""
    return cfg.scale_format == "ue8m0" and cfg.group == 1


@dataclass
class Problem:
    """One GEMM as the kernels see it: the parameter record, the result being filled
    (float64), the elements left to the general kernel (``mask``: at the start, those
    whose row of A or column of B holds a NaN or Inf, or a NaN scale, or whose C is
    not finite), and the operands decoded two ways, each made when first asked for:
    ``fast`` (values and exponents, scales folded in: emu.kernels.fast.operands, one
    numba pass) and the flat integer arrays of :func:`decode_operands` (``a_m``,
    ``a_s``, ... for the general kernel and the float-path kernels)."""

    ops: object  # emu.numerics.operands.Operands
    prm: Params
    rows: np.ndarray  # rows[i]: row i of A holds only finite values (and scales)
    out: np.ndarray  # float64 (M, N)
    mask: np.ndarray  # bool (M, N): elements for the general kernel
    fast: tuple | None = None  # a_val, a_e, b_val, b_ef from fast.operands
    sa_p: np.ndarray | None = None  # UE8M0 scale exponents (NAN_SCALE for 0xFF)
    sb_p: np.ndarray | None = None

    @cached_property
    def arrays(self):
        """a_m, a_s, a_e, a_c, b_m, b_s, b_e, b_c (decode_operands)."""
        return decode_operands(self.ops)[:8]

    a_m = property(lambda self: self.arrays[0])
    a_s = property(lambda self: self.arrays[1])
    a_e = property(lambda self: self.arrays[2])
    a_c = property(lambda self: self.arrays[3])
    b_m = property(lambda self: self.arrays[4])
    b_s = property(lambda self: self.arrays[5])
    b_e = property(lambda self: self.arrays[6])
    b_c = property(lambda self: self.arrays[7])

    @property
    def cfg(self):
        return self.ops.config

    @property
    def shape(self):
        return self.ops.shape

    @property
    def formats(self):
        """The Format rows of A and B."""
        return get_format(self.cfg.a_format), get_format(self.cfg.b_format)

    @property
    def fracs(self):
        """The fraction bits of A and B as decoded (record.operand_frac)."""
        return operand_frac(self.cfg, "a"), operand_frac(self.cfg, "b")

    @classmethod
    def decode(cls, ops) -> Problem:
        M, N, K = ops.shape
        cfg = ops.config
        sa_p, sb_p = scale_exponents(ops.sa), scale_exponents(ops.sb)
        fast = full = None
        if fast_decodable(cfg):
            from emu.kernels.fast import operands

            fast, rows, cols = operands(ops, sa_p, sb_p)
        else:
            full = decode_operands(ops)
            rows = (full[3] == CLS_NUM).all(axis=1)
            cols = (full[7] == CLS_NUM).all(axis=0)
        mask = ~(rows[:, None] & cols[None, :] & np.isfinite(ops.c))
        out = np.zeros((M, N), dtype=np.float64)
        prm = Params.from_config(cfg, K)
        p = cls(ops, prm, rows, out, mask, fast, sa_p, sb_p)
        if full is not None:
            p.__dict__["arrays"] = full[:8]
        return p
