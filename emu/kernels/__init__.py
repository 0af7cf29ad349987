"""numba kernels behind emu.gemm.

``run(ops)`` decodes the operands once into flat integer arrays (magnitude, sign,
exponent with product-time scales folded in, class), builds the integer parameter
vector from the MacConfig, and dispatches: a fast vectorised kernel where the
configuration and the data allow it, the general element kernel everywhere else.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from emu.kernels.core import MODE_CODES, rows_in_parallel
from emu.kernels.fast import ROWS, ZERO_EXP, gemm_fast
from emu.kernels.floatpath import exact_step_fits, finish_exact, fma_chain_fp32
from emu.kernels.general import (
    CLS_INF,
    CLS_NAN,
    CLS_NUM,
    NAN_SCALE,
    P_AEB,
    P_ALIGN,
    P_ALIGN_RNE,
    P_AMB,
    P_AMODE,
    P_ASUB,
    P_BS,
    P_CIN,
    P_FRAC,
    P_FUSED,
    P_LEN,
    P_PEB,
    P_PMB,
    P_PMODE,
    P_PROMOTE,
    P_SCALE_PROMO,
    gemm_general,
)
from emu.numerics.formats import decode, get_format

FP32_NAN_BITS = np.uint32(0x7FFFFFFF)


@cache
def decode_tables(name: str):
    """Per-code (magnitude m, sign, hardware exponent e, class) of an 8-bit format."""
    f = get_format(name)
    codes = np.arange(256)
    s = (codes >> 7) & 1
    E = (codes >> f.mbits) & ((1 << f.ebits) - 1)
    frac = codes & ((1 << f.mbits) - 1)
    m = np.where(E == 0, frac, frac | (1 << f.mbits))
    e = np.maximum(E, 1) - f.bias
    top = (1 << f.ebits) - 1
    cls = np.full(256, CLS_NUM)
    if f.kind == "fn":
        cls[(E == top) & (frac == (1 << f.mbits) - 1)] = CLS_NAN
    else:
        cls[(E == top) & (frac != 0)] = CLS_NAN
        cls[(E == top) & (frac == 0)] = CLS_INF
    m = np.where(cls == CLS_NUM, m, 0)
    return (m.astype(np.int32), s.astype(np.uint8), e.astype(np.int32), cls.astype(np.uint8))


def scale_exponents(codes) -> np.ndarray:
    """UE8M0 codes -> unbiased exponents (int32), NAN_SCALE for 0xFF."""
    codes = np.asarray(codes, dtype=np.int32)
    return np.where(codes == 0xFF, NAN_SCALE, codes - 127).astype(np.int32)


def params(cfg, K: int) -> np.ndarray:
    """The integer parameter vector the kernels take (see general.P_*)."""
    acc, pro = get_format(cfg.acc_format), get_format(cfg.promote_format)
    p = np.zeros(P_LEN, dtype=np.int64)
    p[P_FUSED] = max(K, 1) if cfg.fused == "k" else cfg.fused
    p[P_ALIGN] = -1 if cfg.align_bits == "exact" else cfg.align_bits
    p[P_ALIGN_RNE] = cfg.align_round == "rne"
    p[P_AEB], p[P_AMB] = acc.ebits, acc.mbits
    p[P_AMODE] = MODE_CODES[cfg.acc_round]
    p[P_ASUB] = cfg.acc_subnormals
    p[P_CIN] = cfg.c_in_alignment
    p[P_PROMOTE] = cfg.promote_every
    p[P_PEB], p[P_PMB] = pro.ebits, pro.mbits
    p[P_PMODE] = MODE_CODES[cfg.promote_round]
    p[P_FRAC] = get_format(cfg.a_format).mbits + get_format(cfg.b_format).mbits
    p[P_SCALE_PROMO] = bool(cfg.scale_block) and cfg.scale_apply == "promotion"
    p[P_BS] = cfg.scale_block
    return p


def decode_operands(ops):
    """Flat arrays for the kernels; product-time scales folded into the exponents
    (a NaN scale makes every operand of its block NaN)."""
    cfg = ops.config
    (am, asg, ae, ac), (bm, bsg, be, bc) = (
        decode_tables(cfg.a_format),
        decode_tables(cfg.b_format),
    )
    a_m, a_s, a_e, a_c = am[ops.a], asg[ops.a], ae[ops.a], ac[ops.a]
    b_m, b_s, b_e, b_c = bm[ops.b], bsg[ops.b], be[ops.b], bc[ops.b]
    sa_p = scale_exponents(ops.sa)
    sb_p = scale_exponents(ops.sb)
    if cfg.scale_block and cfg.scale_apply == "product":
        K = ops.a.shape[1]
        sa_k = np.repeat(sa_p, cfg.scale_block, axis=1)[:, :K]
        sb_k = np.repeat(sb_p, cfg.scale_block, axis=0)[:K, :]
        a_e = a_e + np.where(sa_k == NAN_SCALE, 0, sa_k)
        b_e = b_e + np.where(sb_k == NAN_SCALE, 0, sb_k)
        a_c = np.where(sa_k == NAN_SCALE, CLS_NAN, a_c).astype(np.uint8)
        b_c = np.where(sb_k == NAN_SCALE, CLS_NAN, b_c).astype(np.uint8)
    return (a_m, a_s, a_e.astype(np.int32), a_c, b_m, b_s, b_e.astype(np.int32), b_c, sa_p, sb_p)


def values(m, s, e, f) -> np.ndarray:
    """Exact float64 values of decoded finite operands, product-time scales included
    (signed magnitudes; NaN/Inf operands, whose m is 0, give 0)."""
    return np.ldexp(np.where(s == 1, -m, m), e - f.mbits)


def finish(out: np.ndarray) -> np.ndarray:
    """float64 results -> float32, NaN as the fp32 canonical NaN 0x7FFFFFFF."""
    d = out.astype(np.float32)
    d.view(np.uint32)[np.isnan(d)] = FP32_NAN_BITS
    return d


def fast_params(cfg, prm, K: int, a_e_nz, b_e_nz):
    """The parameter vector for the fast kernel, or None when it does not apply.

    Its step sums are exact in float64 when every cut term is below
    2**(align_bits + 2) and a step adds at most fused + 1 of them:
    align_bits + 2 + bitlen(fused + 1) <= 52.  ``align_bits = "exact"`` maps onto it
    too when the data allow: with a window A as wide as the products' whole span
    (largest e_a + e_b minus smallest last place), nothing is ever cut, and with c
    outside the alignment (exactly the same sum when nothing is cut) the step is
    the exact sum rounded once.  a_e_nz/b_e_nz: exponents of the non-zero operands.
    """
    steps = (K if cfg.fused == "k" else cfg.fused) + 1
    p = prm.copy()
    if cfg.align_bits == "exact":
        frac = int(prm[P_FRAC])
        if a_e_nz.size == 0 or b_e_nz.size == 0:
            span = 0
        else:
            span = (
                int(a_e_nz.max()) + int(b_e_nz.max()) + frac - int(a_e_nz.min()) - int(b_e_nz.min())
            )
        p[P_ALIGN], p[P_CIN], p[P_ALIGN_RNE] = span, 0, 0
    return p if int(p[P_ALIGN]) + 2 + int(steps).bit_length() <= 52 else None


def is_fma_chain(cfg, K: int) -> bool:
    """One product per step, exact alignment, into fp32 rne with subnormals, no
    scales, no promotion (the fp32-seq preset)."""
    return (
        cfg.align_bits == "exact"
        and not cfg.scale_block
        and not cfg.promote_every
        and (cfg.fused == 1 or K <= 1)
        and cfg.acc_format == "fp32"
        and cfg.acc_round == "rne"
        and cfg.acc_subnormals
    )


def is_single_step(cfg, K: int) -> bool:
    """The whole of K in one exactly aligned step, scales (if any) on the products,
    no promotion (the exact preset)."""
    return (
        cfg.align_bits == "exact"
        and not cfg.promote_every
        and K >= 1
        and (not cfg.scale_block or cfg.scale_apply == "product")
        and (cfg.fused == "k" or cfg.fused >= K)
    )


def run(ops, general_only: bool = False) -> np.ndarray:
    """D for checked operands (emu.numerics.operands.Operands) as float32.  general_only
    sends every element to the general kernel (tests use it to check each path)."""
    M, N, K = ops.shape
    cfg = ops.config
    a_m, a_s, a_e, a_c, b_m, b_s, b_e, b_c, sa_p, sb_p = decode_operands(ops)
    prm = params(cfg, K)
    work = M * N * K
    out = np.zeros((M, N), dtype=np.float64)
    rows = (a_c == CLS_NUM).all(axis=1)
    cols = (b_c == CLS_NUM).all(axis=0)
    mask = ~(rows[:, None] & cols[None, :] & np.isfinite(ops.c))
    fa, fb = get_format(cfg.a_format), get_format(cfg.b_format)
    if general_only:
        mask[:] = True
    elif is_fma_chain(cfg, K):
        a_f = np.where(a_c == CLS_NUM, decode(fa, ops.a), 0.0)
        b_f = np.where(b_c == CLS_NUM, decode(fb, ops.b), 0.0).astype(np.float32)  # exact
        rows_in_parallel(fma_chain_fp32, M, work, a_f, b_f, ops.c, rows, out, block=ROWS)
    elif is_single_step(cfg, K):
        a_val, b_val = values(a_m, a_s, a_e, fa), values(b_m, b_s, b_e, fb)
        if exact_step_fits(a_val, b_val, (a_e - fa.mbits)[a_m != 0], (b_e - fb.mbits)[b_m != 0], K):
            redo = np.zeros((M, N), dtype=np.bool_)
            rows_in_parallel(
                finish_exact,
                M,
                64 * M * N,
                a_val @ b_val,
                ops.c,
                prm[[P_AEB, P_AMB, P_AMODE, P_ASUB]],
                out,
                redo,
            )
            mask |= redo
        else:
            mask[:] = True
    elif (fprm := fast_params(cfg, prm, K, a_e[a_m != 0], b_e[b_m != 0])) is not None:
        a_val, b_val = values(a_m, a_s, a_e, fa), values(b_m, b_s, b_e, fb)
        with np.errstate(over="ignore"):
            b_val32 = b_val.astype(np.float32)
        if np.array_equal(b_val32, b_val):  # half the memory traffic when exact
            b_val = b_val32
        b_ef = np.where(b_m == 0, ZERO_EXP, b_e).astype(np.int16)
        redo = np.zeros((M, N), dtype=np.bool_)
        rows_in_parallel(
            gemm_fast,
            M,
            work,
            a_val,
            a_e,
            b_val,
            b_ef,
            ops.c,
            sa_p,
            sb_p,
            fprm,
            rows,
            out,
            redo,
            block=ROWS,
        )
        mask |= redo
    else:
        mask[:] = True
    if mask.any():
        rows_in_parallel(
            gemm_general,
            M,
            int(mask.sum()) * K,
            a_m,
            a_s,
            a_e,
            a_c,
            b_m,
            b_s,
            b_e,
            b_c,
            ops.c,
            sa_p,
            sb_p,
            prm,
            mask,
            out,
        )
    return finish(out)
