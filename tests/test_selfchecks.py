"""Self-checks the numbers must pass (spec section 4), each run on the exact reference
(emu.numerics.reference.gemm) and on the kernels (emu.gemm): the three spec checks, the Fasi et
al. probes ("Numerical behavior of NVIDIA tensor cores", PeerJ CS 2021) adapted to FP8
operands and the h100 preset, and one hand-checked value per preset.

Notation: h100 = 32 products per fused step, every term cut (truncated) to a multiple
of q = 2**(e_max - 13), the exact sum of the cut terms rounded toward zero to e8m13
(14 significant bits: in [2**E, 2**(E+1)) the unit is 2**(E-13)).  A product's
exponent is e_a + e_b, the sum of the hardware exponents (e4m3: max(E, 1) - 7), not
renormalised.  e4m3 codes used: 1 = 0x38, 2**-6 = 0x08 (min normal), 2**-7 = 0x04 and
2**-9 = 0x01 (subnormal, hardware exponent -6).
"""

import math

import numpy as np
import pytest

import emu
from emu import reference
from emu.numerics.formats import decode_scalar, encode_scalar
from tests.helpers import random_scales

# The h100 datapath of spec section 3 with the section-2 zero and overflow rules (the
# preset adds the NVIDIA conventions of section 5.3, checked in test_nvidia_*).
H100 = emu.preset("h100").replace(zero_exp="drop", overflow="ieee", zero_sign="ieee")
EXACT = emu.preset("exact")


@pytest.fixture(params=["reference", "kernel", "kernel-general"])
def engine(request):
    """The exact reference, emu.gemm as dispatched, and emu.gemm forced onto its
    general element kernel (the fast-path predicates switched off)."""
    if request.param == "reference":
        return reference.gemm
    if request.param == "kernel-general":
        from emu.kernels import run
        from emu.numerics.operands import check

        def general(a, b, *, c=None, sa=None, sb=None, config=None):
            return run(check(a, b, c, sa, sb, config), general_only=True)

        return general
    return emu.gemm


def codes(fmt, values):
    out = []
    for v in values:
        c = encode_scalar(fmt, v, "rne", "nonsat")  # nonsat: +-Inf stays Inf
        d = decode_scalar(fmt, c)
        assert d == v or (d != d and v != v), f"{v!r} is not an exact {fmt} value"
        out.append(c)
    return np.array(out, dtype=np.uint8)


def dot(engine, cfg, pairs, c=0.0, K=None, sa=None, sb=None):
    """C + sum a*b over pairs placed at k = 0, 1, ... (or at the keys of a dict
    {k: (a, b)}), zeros elsewhere; returns the single float32 result."""
    if isinstance(pairs, dict):
        K = K or max(pairs) + 1
        a_vals, b_vals = [0.0] * K, [0.0] * K
        for k, (x, y) in pairs.items():
            a_vals[k], b_vals[k] = x, y
    else:
        K = K or len(pairs)
        a_vals = [p[0] for p in pairs] + [0.0] * (K - len(pairs))
        b_vals = [p[1] for p in pairs] + [0.0] * (K - len(pairs))
    A = codes(cfg.a_format, a_vals).reshape(1, K)
    B = codes(cfg.b_format, b_vals).reshape(K, 1)
    C = np.array([[c]], dtype=np.float32)
    assert float(C[0, 0]) == c or c != c, "c must be an fp32 value"
    if sa is not None:
        sa = np.array(sa, dtype=np.uint8)
        sb = np.array(sb, dtype=np.uint8)
    d = engine(A, B, c=C, sa=sa, sb=sb, config=cfg)
    assert d.shape == (1, 1) and d.dtype == np.float32
    return d[0, 0]


def assert_value(got, want):
    """Bit-exact: same float32 bits (so +0 and -0 differ)."""
    w = np.float32(want)
    assert float(w) == want, f"expected value {want!r} is not an fp32 value"
    assert np.float32(got).view(np.uint32) == w.view(np.uint32), (
        f"got {float(got)!r} ({np.float32(got).view(np.uint32):#010x}), "
        f"want {want!r} ({w.view(np.uint32):#010x})"
    )


P = 1.5 * 2.0**-7  # e4m3 subnormal 0x06 (m = 6, e = -6)
Q = 2.0**-7  # e4m3 subnormal 0x04 (m = 4, e = -6)
T13 = (2.0**-6, 2.0**-7)  # a product of value 2**-13 (exponent -12)
T14 = (2.0**-7, 2.0**-7)  # a product of value 2**-14 (exponent -12)


# ================================================================== spec section 4
def test_spec_check_1_small_product_under_c(engine):
    # c = 1 (exponent 0) and one product 1.5*2**-7 * 2**-7 = 3 * 2**-15 = 0.75 * 2**-13.
    # h100: e_max = 0, q = 2**-13, the product truncates to 0 -> 1.0.
    # exact: 1 + 3 * 2**-15 is an fp32 value (needs 15 fraction bits).
    assert_value(dot(engine, H100, [(P, Q)], c=1.0), 1.0)
    assert_value(dot(engine, EXACT, [(P, Q)], c=1.0), 1 + 3 * 2.0**-15)
    # the same values as normal e5m2 operands (1.5*2**-7 = 0x22, 2**-7 = 0x20)
    h5 = H100.replace(a_format="e5m2", b_format="e5m2")
    assert_value(dot(engine, h5, [(P, Q)], c=1.0), 1.0)


def test_spec_check_2_truncation_toward_zero(engine):
    # c = 0; products 1*1 and -(1.5*2**-7 * 2**-7) = -0.75 * 2**-13.  e_max = 0; the
    # negative term truncates toward zero, to -0 -> 1.0 (rounding it to nearest would
    # give -2**-13 and 1 - 2**-13).  exact: 1 - 3 * 2**-15.
    pairs = [(1.0, 1.0), (-P, Q)]
    assert_value(dot(engine, H100, pairs), 1.0)
    assert_value(dot(engine, EXACT, pairs), 1 - 3 * 2.0**-15)
    assert_value(dot(engine, H100.replace(align_round="rne"), pairs), 1 - 2.0**-13)


def test_spec_check_3_c_is_truncated(engine):
    # c = 3 * 2**-14 = 1.5 * 2**-13 and product 1*1: e_max = 0, q = 2**-13, c cut to
    # 2**-13 -> 1 + 2**-13 (an e8m13 value).  exact: 1 + 3 * 2**-14.
    assert_value(dot(engine, H100, [(1.0, 1.0)], c=3 * 2.0**-14), 1 + 2.0**-13)
    assert_value(dot(engine, EXACT, [(1.0, 1.0)], c=3 * 2.0**-14), 1 + 3 * 2.0**-14)


# ================================================================== Fasi et al. probes
def test_fasi_exact_products(engine):
    # 1.875 * 1.875 = 225/64 = 3.515625 needs all 2M = 6 fraction bits (225 is odd).
    # c = -3.5 (exponent 1) is the largest term: q = 2**-12, the product (lsb 2**-6)
    # is kept whole: -3.5 + 3.515625 = 2**-6.  A product rounded to e4m3 (3.5) would
    # give 0.
    assert_value(dot(engine, H100, [(1.875, 1.875)], c=-3.5), 2.0**-6)
    # e5m2: 1.75 * 1.75 = 49/16 (2M = 4 fraction bits): -3 + 3.0625 = 2**-4
    h5 = H100.replace(a_format="e5m2", b_format="e5m2")
    assert_value(dot(engine, h5, [(1.75, 1.75)], c=-3.0), 2.0**-4)
    # mixed: e4m3 1.875 * e5m2 1.75 = 105/32 (3 + 2 = 5 fraction bits): 2**-5 above 3.25
    hm = H100.replace(b_format="e5m2")
    assert_value(dot(engine, hm, [(1.875, 1.75)], c=-3.25), 2.0**-5)
    # subnormal * subnormal: 7*2**-9 * 7*2**-9 = 49 * 2**-18 kept exactly when it is
    # the largest term (e_max = -12, q = 2**-25)
    assert_value(dot(engine, H100, [(7 * 2.0**-9, 7 * 2.0**-9)]), 49 * 2.0**-18)


def test_fasi_alignment_to_largest_term(engine):
    # c = 1; products 16*1, -16*1 and 2**-5 * 2**-5 = 2**-10.  The largest term is a
    # product (exponent 4), so q = 2**(4-13) = 2**-9 and 2**-10 is cut to 0 although it
    # is only 10 bits below c: result 1.0.  Without the +-16 pair e_max = 0 (c), q =
    # 2**-13 and 2**-10 survives: 1 + 2**-10.  exact keeps it in both.
    big = [(16.0, 1.0), (-16.0, 1.0), (2.0**-5, 2.0**-5)]
    assert_value(dot(engine, H100, big, c=1.0), 1.0)
    assert_value(dot(engine, H100, [(2.0**-5, 2.0**-5)], c=1.0), 1 + 2.0**-10)
    assert_value(dot(engine, EXACT, big, c=1.0), 1 + 2.0**-10)
    # the largest term may be c: c = 16, products -16*1... cannot cancel c here, so
    # put c = 16 and a 2**-10 product: q = 2**-9 -> 16.0 (16 + 2**-10 would need 15 bits)
    assert_value(dot(engine, H100, [(2.0**-5, 2.0**-5)], c=16.0), 16.0)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_fasi_truncation(engine, sign):
    # four products 1*1 and one 1.5*2**-6 * 2**-6 = 3 * 2**-13: e_max = 0, everything
    # is a multiple of q = 2**-13 and kept: exact sum 4 + 3 * 2**-13.  In e8m13 the
    # unit in [4, 8) is 2**-11, and 3 * 2**-13 = 0.75 units: the neighbours are 4 and
    # 4 + 2**-11; rz goes toward zero: 4 (or -4 for the negated sum).  Nearest would
    # give 4 + 2**-11.  exact (fp32): 4 + 3 * 2**-13.
    pairs = [(sign, 1.0)] * 4 + [(sign * 1.5 * 2.0**-6, 2.0**-6)]
    assert_value(dot(engine, H100, pairs), sign * 4.0)
    assert_value(dot(engine, H100.replace(acc_round="rne"), pairs), sign * (4 + 2.0**-11))
    away = "ru" if sign > 0 else "rd"
    assert_value(dot(engine, H100.replace(acc_round=away), pairs), sign * (4 + 2.0**-11))
    assert_value(dot(engine, EXACT, pairs), sign * (4 + 3 * 2.0**-13))


def test_fasi_extra_bits_h100(engine):
    # products 1*1, -1*1 (they cancel but set e_max = 0) and a small t:
    #   t = 2**-13 (13 bits below the largest term) survives:          2**-13
    #   t = 2**-14 is cut to 0; the exact cancellation gives +0 (rz):   +0.0
    #   t = 1.5 * 2**-13 keeps only its 2**-13 bit:                    2**-13
    #   t = -2**-13 survives with its sign, -2**-14 is cut to -0 -> +0
    base = [(1.0, 1.0), (-1.0, 1.0)]
    assert_value(dot(engine, H100, base + [T13]), 2.0**-13)
    assert_value(dot(engine, H100, base + [T14]), 0.0)
    assert_value(dot(engine, H100, base + [(1.5 * 2.0**-6, 2.0**-7)]), 2.0**-13)
    assert_value(dot(engine, H100, base + [(-(2.0**-6), 2.0**-7)]), -(2.0**-13))
    assert_value(dot(engine, H100, base + [(-(2.0**-7), 2.0**-7)]), 0.0)
    assert_value(dot(engine, EXACT, base + [T14]), 2.0**-14)
    ada = emu.preset("ada")
    assert_value(dot(engine, ada, base + [T13]), 2.0**-13)
    assert_value(dot(engine, ada, base + [T14]), 0.0)


@pytest.mark.parametrize(
    "name,big,bits", [("b200", 128.0, 31), ("default", 16.0, 25), ("mxfp8", 16.0, 25)]
)
def test_fasi_extra_bits_other_presets(engine, name, big, bits):
    # big*big and -big*big set e_max = 2*log2(big) (14 or 8); a term 2**(e_max - bits)
    # survives, 2**(e_max - bits - 1) does not.  b200: e_max 14, q = 2**-17;
    # default/mxfp8: e_max 8, q = 2**-17.  Small products: 2**-8 * 2**-9 = 2**-17,
    # 2**-9 * 2**-9 = 2**-18 (e4m3 subnormals 0x02, 0x01).
    cfg = emu.preset(name)
    e_max = 2 * int(np.log2(big))
    assert e_max - bits == -17
    base = [(big, big), (-big, big)]
    assert_value(dot(engine, cfg, base + [(2.0**-8, 2.0**-9)]), 2.0**-17)
    assert_value(dot(engine, cfg, base + [(2.0**-9, 2.0**-9)]), 0.0)


def test_fasi_no_normalisation_inside_a_step(engine):
    # The same product value 2.25 made two ways:
    #   1.5 * 1.5: significand 2.25 in [2, 4), exponent 0 + 0 = 0 -> q = 2**-13
    #   1.125 * 2: significand 1.125,          exponent 0 + 1 = 1 -> q = 2**-12
    # With its negation and t = 2**-13: the first keeps t (2**-13), the second cuts it
    # (+0).  A unit that renormalised products would give +0 for both.
    t = T13
    assert_value(dot(engine, H100, [(1.5, 1.5), (-1.5, 1.5), t]), 2.0**-13)
    assert_value(dot(engine, H100, [(1.125, 2.0), (-1.125, 2.0), t]), 0.0)
    assert_value(dot(engine, EXACT, [(1.125, 2.0), (-1.125, 2.0), t]), 2.0**-13)
    # largest e4m3 significand product 1.875 * 1.875 = 3.515625 (exponent 0) with
    # c = -3.5: q = 2**-12 is set by c (exponent 1), and t = 2**-13 is cut:
    assert_value(dot(engine, H100, [(1.875, 1.875), t], c=-3.5), 2.0**-6)


def test_fasi_carry_out(engine):
    # 32 products: 16 x (1*1) and 16 x 2**-13.  e_max = 0, q = 2**-13, all kept; the
    # exact sum 16 + 16 * 2**-13 = 16 + 2**-9 carries 4 places past e_max, and the
    # single rounding at the end keeps it: the e8m13 unit in [16, 32) is 2**-9.
    # (Aligning to the carried-out exponent 4 instead would have cut every 2**-13.)
    pairs = [(1.0, 1.0)] * 16 + [T13] * 16
    assert_value(dot(engine, H100, pairs), 16 + 2.0**-9)
    # 15 small terms: 16 + 15 * 2**-13; in units of 2**-9 that is 15/16 of a unit ->
    # rz -> 16.0 (the kept bits reach the final rounding, which drops them)
    pairs = [(1.0, 1.0)] * 16 + [T13] * 15
    assert_value(dot(engine, H100, pairs), 16.0)
    assert_value(dot(engine, EXACT, pairs), 16 + 15 * 2.0**-13)
    # 32 x 1.875 * 1.875 = 32 * 225/64 = 112.5 (carries 6 places; 8 significant bits)
    assert_value(dot(engine, H100, [(1.875, 1.875)] * 32), 112.5)


def test_fasi_non_monotonicity(engine):
    # K = 64, two fused steps.  Step 1: products 2**0, 2**-1, ..., 2**-12 and X.
    # Step 2: 31 products of 2**-13.
    #  X = 2**-13: step 1 sums to 2 - 2**-12 + 2**-13 = 2 - 2**-13 (an e8m13 value,
    #    exponent 0).  Step 2: c = 2 - 2**-13, e_max = 0, q = 2**-13, every 2**-13 is
    #    kept: 2 - 2**-13 + 31 * 2**-13 = 2 + 30 * 2**-13 = 2 + 15 * 2**-12 (e8m13).
    #  X = 2**-12 (larger): step 1 gives exactly 2 (exponent 1).  Step 2: q = 2**-12,
    #    every 2**-13 is cut: 2.0.
    # A larger positive product gives a smaller result.  exact stays monotone.
    powers = {i: (2.0**-i, 1.0) if i <= 6 else (2.0**-6, 2.0 ** -(i - 6)) for i in range(13)}
    step2 = {k: T13 for k in range(32, 63)}
    small = dot(engine, H100, {**powers, 13: T13, **step2}, K=64)
    large = dot(engine, H100, {**powers, 13: (2.0**-6, 2.0**-6), **step2}, K=64)
    assert_value(small, 2 + 15 * 2.0**-12)
    assert_value(large, 2.0)
    assert large < small
    assert_value(dot(engine, EXACT, {**powers, 13: T13, **step2}, K=64), 2 + 30 * 2.0**-13)
    assert_value(
        dot(engine, EXACT, {**powers, 13: (2.0**-6, 2.0**-6), **step2}, K=64), 2 + 31 * 2.0**-13
    )


# ================================================================== one value per preset
def test_preset_exact(engine):
    # c = 2**24 and products 1*1, 1*1: one rounding of 2**24 + 2, an fp32 value.
    assert_value(dot(engine, EXACT, [(1.0, 1.0)] * 2, c=2.0**24), 2.0**24 + 2)


def test_preset_fp32_seq(engine):
    # The same data through a chain of FMAs: 2**24 + 1 is a tie between 2**24 and
    # 2**24 + 2 (fp32 unit 2 there) -> even -> 2**24, twice.
    assert_value(dot(engine, emu.preset("fp32-seq"), [(1.0, 1.0)] * 2, c=2.0**24), 2.0**24)


def test_preset_h100(engine):
    # c = fp32(0.1) = 13421773 * 2**-27 = 0.10000000149..; k = 0: 1*1; k = 32: 1.5*2**-7
    # * 2**-7 = 3 * 2**-15.
    # Step 1: e_max = 0, q = 2**-13: c -> floor(0.1000000015 * 8192) = floor(819.2..)
    #   = 819 units; 1 + 819 * 2**-13 is an e8m13 value.
    # Step 2: c = 1 + 819 * 2**-13 (exponent 0), product 3 * 2**-15 = 0.75 units -> 0:
    #   1 + 819 * 2**-13 = 1.0999755859375.
    c = float(np.float32(0.1))
    assert c == 13421773 * 2.0**-27
    assert_value(dot(engine, H100, {0: (1.0, 1.0), 32: (P, Q)}, c=c), 1 + 819 * 2.0**-13)
    # with k = 32 holding 1.5*2**-6 * 2**-7 = 3 * 2**-14 = 1.5 units instead -> 1 unit:
    assert_value(
        dot(engine, H100, {0: (1.0, 1.0), 32: (1.5 * 2.0**-6, Q)}, c=c), 1 + 820 * 2.0**-13
    )


def test_preset_ada(engine):
    # k = 0..15: sixteen products 1.5*2**-6 * 2**-7 = 3 * 2**-14 (exponent -12); k = 16:
    # 1*1.  ada (16 per step): step 1 has e_max = -12, q = 2**-25, sum exactly
    # 48 * 2**-14 = 3 * 2**-10; step 2: c = 3 * 2**-10 = 24 * 2**-13 and 1*1: q = 2**-13,
    # both kept -> 1 + 3 * 2**-10.
    # h100 (32 per step) sees all 17 in one step: each 3 * 2**-14 = 1.5 * 2**-13 is cut
    # to 2**-13: 1 + 16 * 2**-13 = 1 + 2**-9.
    pairs = [(1.5 * 2.0**-6, Q)] * 16 + [(1.0, 1.0)]
    assert_value(dot(engine, emu.preset("ada"), pairs), 1 + 3 * 2.0**-10)
    assert_value(dot(engine, H100, pairs), 1 + 2.0**-9)


def test_preset_b200(engine):
    # c = 2**14; products -128*128 = -2**14 and 3*2**-9 * 2**-9 = 3 * 2**-18.  e_max = 14,
    # q = 2**(14-31) = 2**-17: 3 * 2**-18 = 1.5 units -> 1 unit; c and -2**14 cancel:
    # 2**-17.  (h100 would cut it to +0; exact keeps 3 * 2**-18.)
    pairs = [(-128.0, 128.0), (3 * 2.0**-9, 2.0**-9)]
    assert_value(dot(engine, emu.preset("b200"), pairs, c=2.0**14), 2.0**-17)
    assert_value(dot(engine, H100, pairs, c=2.0**14), 0.0)
    assert_value(dot(engine, EXACT, pairs, c=2.0**14), 3 * 2.0**-18)


def test_preset_mxfp8(engine):
    # K = 64, two scale blocks of 32.  sa = [2**2, 2**-3] (codes 129, 124), sb = [2**0,
    # 2**1] (codes 127, 128); c = 1 + 3 * 2**-23.
    # k = 0: 1*1 * 2**(2+0) = 4 (exponent 2).  k = 32: 1 * 1.125 * 2**(-3+1) = 0.28125.
    # Step 1: e_max = 2, q = 2**-23: c kept; exact 5 + 3 * 2**-23; fp32 unit in [4, 8)
    #   is 2**-21 and 3 * 2**-23 = 0.75 units -> rz -> 5.
    # Step 2: 5 + 0.28125 = 5.28125 exactly.
    cfg = emu.preset("mxfp8")
    data = {0: (1.0, 1.0), 32: (1.0, 1.125)}
    sa, sb = [[129, 124]], [[127], [128]]
    c = 1 + 3 * 2.0**-23
    assert_value(dot(engine, cfg, data, c=c, K=64, sa=sa, sb=sb), 5.28125)
    # round-to-nearest in step 1 would give 5 + 2**-21 and then 5.28125 + 2**-21
    assert_value(
        dot(engine, cfg.replace(acc_round="rne"), data, c=c, K=64, sa=sa, sb=sb), 5.28125 + 2.0**-21
    )


def test_preset_deepseek_v3(engine):
    # K = 256 (two 128-blocks), N = 1.  sa = [2**1, 2**-1] (codes 128, 126); B tiles
    # sb = [2**2, 2**0] (codes 129, 127); c = 0.25 initialises the outer fp32 o.
    # Block 0: k = 0: 1*1; k = 1: 2**-7 * 2**-7 = 2**-14, cut in the h100 step (q =
    #   2**-13) -> inner p = 1.  o = fp32(0.25 + 1 * 2**(1+2)) = 8.25.
    # Block 1: k = 128: 1.5*1 -> p = 1.5 after the first step; k = 200: 2**-6 * 2**-6 =
    #   2**-12 in the third step with c = 1.5: q = 2**-13, kept: p = 1.5 + 2**-12.
    #   o = fp32(8.25 + (1.5 + 2**-12) * 2**(-1+0)) = 9 + 2**-13 (fp32 unit 2**-20 here).
    cfg = emu.preset("deepseek-v3")
    data = {0: (1.0, 1.0), 1: (Q, Q), 128: (1.5, 1.0), 200: (2.0**-6, 2.0**-6)}
    got = dot(engine, cfg, data, c=0.25, K=256, sa=[[128, 126]], sb=[[129], [127]])
    assert_value(got, 9 + 2.0**-13)


def test_preset_default(engine):
    # K = 130: scale blocks of 128, the second partial (2 values).  sa = [2**10, 2**-10]
    # (codes 137, 117), sb = [1, 1] (127).  k = 0: 1*1 * 2**10 = 1024.
    # k = 128: 1*1 * 2**-10;  k = 129: 2**-9 * 1 * 2**-10 = 2**-19 (exponent -6+0-10).
    # Steps 1-4 give 1024.  Step 5 (k = 128, 129): c = 1024 (exponent 10) -> q =
    # 2**(10-25) = 2**-15: 2**-10 kept, 2**-19 cut -> 1024 + 2**-10, an fp32 value.
    cfg = emu.preset("default")
    data = {0: (1.0, 1.0), 128: (1.0, 1.0), 129: (2.0**-9, 1.0)}
    got = dot(engine, cfg, data, K=130, sa=[[137, 117]], sb=[[127], [127]])
    assert_value(got, 1024 + 2.0**-10)


# ================================================================== zeros, overflow, specials
def test_zero_signs(engine):
    # 2.1 step 6 (zero_sign = ieee): every term zero -> -0 only when c and every
    # product are -0; mixed signs +0, and -0 under rd (IEEE 754 6.3)
    assert_value(dot(engine, H100, [(-0.0, 1.0), (0.0, -1.0)], c=-0.0), -0.0)
    assert_value(dot(engine, H100, [(-0.0, 1.0), (0.0, 1.0)], c=-0.0), 0.0)
    assert_value(dot(engine, H100, [(-0.0, 1.0)], c=0.0), 0.0)
    rd = H100.replace(acc_round="rd")
    assert_value(dot(engine, rd, [(-0.0, 1.0)], c=0.0), -0.0)
    assert_value(dot(engine, rd, [(0.0, 1.0)], c=0.0), 0.0)
    # an exact non-trivial cancellation: +0, and -0 under rd
    assert_value(dot(engine, H100, [(1.0, 1.0), (-1.0, 1.0)], c=-0.0), 0.0)
    assert_value(dot(engine, H100.replace(acc_round="rd"), [(1.0, 1.0), (-1.0, 1.0)]), -0.0)
    assert_value(dot(engine, EXACT, [(1.0, 1.0)], c=-1.0), 0.0)
    # a sum that is zero because the alignment cut every non-zero term to zero is
    # treated like a cancellation (docs/numerics-decisions.md): e4m3 2**-9 * -1 has
    # significand 1/8 at exponent -6; with align_bits = 0, q = 2**-6 -> cut to 0
    cut0 = H100.replace(align_bits=0)
    assert_value(dot(engine, cut0, [(-(2.0**-9), 1.0)]), 0.0)
    assert_value(dot(engine, cut0.replace(acc_round="rd"), [(2.0**-9, 1.0)]), -0.0)


def test_subnormal_results_and_flush(engine):
    # e4m3 2**-9 * 2**-9 = 2**-18 with c = 0: an fp16 accumulator (emin -14, subnormal
    # unit 2**-24) keeps it; acc_subnormals = false flushes it to a zero of its sign.
    f16 = EXACT.replace(acc_format="fp16")
    assert_value(dot(engine, f16, [(2.0**-9, 2.0**-9)]), 2.0**-18)
    flush = f16.replace(acc_subnormals=False)
    assert_value(dot(engine, flush, [(2.0**-9, 2.0**-9)]), 0.0)
    assert_value(dot(engine, flush, [(-(2.0**-9), 2.0**-9)]), -0.0)
    assert_value(dot(engine, flush, [(2.0**-3, 2.0**-11 * 8)]), 2.0**-11)


def test_overflow(engine):
    # c = max fp32 = (2 - 2**-23) * 2**127.  h100: q = 2**(127-13): c is cut to
    # (2 - 2**-13) * 2**127 (the e8m13 max) and 448*448 to 0 -> e8m13 max, no Inf.
    fmax = float(np.finfo(np.float32).max)
    e813max = (2 - 2.0**-13) * 2.0**127
    assert_value(dot(engine, H100, [(448.0, 448.0)], c=fmax), e813max)
    # fp32 rne: fmax + 200704 rounds back to fmax (the unit there is 2**104)
    assert_value(dot(engine, EXACT, [(448.0, 448.0)], c=fmax), fmax)
    # with UE8M0 scales 2**127 * 2**127 the product 448**2 * 2**254 overflows:
    # rne -> +Inf, rz -> max finite, rd -> max finite, ru -> +Inf; negated: -Inf/-max
    d = emu.preset("default")
    big = dict(K=1, sa=[[254]], sb=[[254]])
    for mode, want in [("rne", np.inf), ("rz", fmax), ("rd", fmax), ("ru", np.inf)]:
        assert_value(dot(engine, d.replace(acc_round=mode), [(448.0, 448.0)], **big), want)
        neg = {"ru": -fmax, "rd": -np.inf}.get(mode, -want)
        assert_value(dot(engine, d.replace(acc_round=mode), [(-448.0, 448.0)], **big), neg)


def test_specials(engine):
    nan = float("nan")
    h5 = H100.replace(a_format="e5m2", b_format="e5m2")
    inf = float("inf")

    def is_canonical_nan(x):
        return np.float32(x).view(np.uint32) == 0x7FFFFFFF

    assert is_canonical_nan(dot(engine, H100, [(nan, 1.0), (1.0, 1.0)]))  # NaN operand
    assert is_canonical_nan(dot(engine, h5, [(inf, 0.0)]))  # Inf * 0
    assert is_canonical_nan(dot(engine, h5, [(inf, 1.0), (-inf, 1.0)]))  # +Inf - Inf
    assert_value(dot(engine, h5, [(inf, 1.0), (57344.0, -57344.0)]), inf)  # Inf wins
    assert_value(dot(engine, h5, [(-inf, 2.0), (1.0, 1.0)], c=2.0**100), -inf)
    # Inf in the first step, -Inf in the second: the accumulator stays Inf, then NaN
    assert is_canonical_nan(dot(engine, h5, {0: (inf, 1.0), 40: (-inf, 1.0)}))
    assert is_canonical_nan(dot(engine, H100, [(1.0, 1.0)], c=nan))  # NaN c
    assert is_canonical_nan(dot(engine, h5, [(inf, 1.0)], c=-inf))  # c = -Inf
    # a NaN scale (0xFF) on a block: NaN even when that block's products are zero
    d = emu.preset("mxfp8")
    assert is_canonical_nan(
        dot(engine, d, {0: (1.0, 1.0)}, K=64, sa=[[127, 0xFF]], sb=[[127], [127]])
    )
    ds = emu.preset("deepseek-v3")
    assert is_canonical_nan(
        dot(engine, ds, {0: (1.0, 1.0)}, K=256, sa=[[127, 127]], sb=[[127], [0xFF]])
    )


# ================================================================== independent models
def _split(fmt, code):
    """(sign, m, e, M) of a finite code, straight from spec section 1."""
    M, bias = (3, 7) if fmt == "e4m3" else (2, 15)
    s, E, f = code >> 7, (code >> M) & ((1 << (7 - M)) - 1), code & ((1 << M) - 1)
    return s, (f if E == 0 else (1 << M) + f), max(E, 1) - bias, M


def _round(x, mbits, mode):
    """Fraction x rounded to a binary float with mbits fraction bits, exponent >= -126
    (fp32 / e8m13 range; no overflow in these tests), rne or rz."""
    from fractions import Fraction

    if x == 0:
        return Fraction(0)
    a = abs(x)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    e = e if Fraction(2) ** e <= a else e - 1  # floor(log2 a)
    unit = Fraction(2) ** (max(e, -126) - mbits)
    n, r = divmod(a, unit)
    if mode == "rne" and (r > unit / 2 or (r == unit / 2 and n % 2)):
        n += 1
    return (n * unit) if x > 0 else -(n * unit)


def _random_finite(rng, shape):
    c = rng.integers(0, 256, shape).astype(np.uint8)
    c[(c & 0x7F) >= 0x78] &= 0xF7  # E < 15: never NaN
    c[rng.random(shape) < 0.1] = 0  # some zeros
    return c


def test_exact_fp32seq_h100_equal_independent_models(engine):
    """Small exact models written from the spec text (Fractions), on random data."""
    from fractions import Fraction

    rng = np.random.default_rng(77)
    M, N, K = 3, 4, 70
    a, b = _random_finite(rng, (M, K)), _random_finite(rng, (K, N))
    c = (rng.standard_normal((M, N)) * 2.0 ** rng.integers(-8, 8, (M, N))).astype(np.float32)
    got = {n: engine(a, b, c=c, config=emu.preset(n)) for n in ("exact", "fp32-seq", "h100")}
    for i in range(M):
        for j in range(N):
            prods = []
            for k in range(K):
                sa_, ma, ea, Ma = _split("e4m3", int(a[i, k]))
                sb_, mb, eb, Mb = _split("e4m3", int(b[k, j]))
                prods.append(((-1) ** (sa_ ^ sb_) * ma * mb, ea + eb, Ma + Mb))
            val = [Fraction(n) * Fraction(2) ** (e - f) for n, e, f in prods]
            c0 = Fraction(float(c[i, j]))
            # exact: one rne rounding to fp32 of C + sum
            assert got["exact"][i, j] == float(_round(c0 + sum(val), 23, "rne"))
            # fp32-seq: acc <- fp32_rne(acc + a*b), k in order
            acc = c0
            for v in val:
                acc = _round(acc + v, 23, "rne")
            assert got["fp32-seq"][i, j] == float(acc)
            # h100: steps of 32; terms (c and non-zero products) cut toward zero to
            # multiples of 2**(e_max - 13); the exact sum rounded toward zero to e8m13
            acc = c0
            for k0 in range(0, K, 32):
                terms = [
                    (v, e) for v, (n, e, f) in zip(val[k0 : k0 + 32], prods[k0 : k0 + 32]) if n
                ]
                if acc != 0:
                    ea = abs(acc).numerator.bit_length() - abs(acc).denominator.bit_length()
                    ea = ea if Fraction(2) ** ea <= abs(acc) else ea - 1
                    terms.append((acc, max(ea, -126)))
                if not terms:
                    continue
                q = Fraction(2) ** (max(e for _, e in terms) - 13)
                s = sum((abs(v) // q) * q * (1 if v > 0 else -1) for v, _ in terms)
                acc = _round(s, 13, "rz")
            assert got["h100"][i, j] == float(acc), (i, j)


# ================================================================== knobs by hand
def test_c_in_alignment(engine):
    # c = 3 * 2**-14 = 1.5 * 2**-13 and 1*1, acc rne.  c_in_alignment: c is cut to
    # 2**-13 first -> 1 + 2**-13.  Without: the products alone set e_max, c joins the
    # exact sum at step 5 -> 1 + 1.5 units of 2**-13 -> tie -> even (2 units) -> 1 + 2**-12.
    cfg = H100.replace(acc_round="rne")
    assert_value(dot(engine, cfg, [(1.0, 1.0)], c=3 * 2.0**-14), 1 + 2.0**-13)
    out = cfg.replace(c_in_alignment=False)
    assert_value(dot(engine, out, [(1.0, 1.0)], c=3 * 2.0**-14), 1 + 2.0**-12)
    # c = 1 larger than two products 2**-14: in the alignment they are cut (1.0); out
    # of it e_max = -12 keeps them: 1 + 2**-13 (rz, an e8m13 value)
    assert_value(dot(engine, H100, [T14, T14], c=1.0), 1.0)
    assert_value(dot(engine, H100.replace(c_in_alignment=False), [T14, T14], c=1.0), 1 + 2.0**-13)


def test_fused_whole_k(engine):
    # The non-monotonicity data in one step (fused = 'k'): e_max = 0, q = 2**-13, all
    # 45 terms kept: X = 2**-13: 2 + 30 * 2**-13 -> rz at unit 2**-12 -> 2 + 15 * 2**-12;
    # X = 2**-12: 2 + 31 * 2**-13 -> 2 + 15 * 2**-12 as well.
    cfg = H100.replace(fused="k")
    powers = {i: (2.0**-i, 1.0) if i <= 6 else (2.0**-6, 2.0 ** -(i - 6)) for i in range(13)}
    step2 = {k: T13 for k in range(32, 63)}
    for x in (T13, (2.0**-6, 2.0**-6)):
        assert_value(dot(engine, cfg, {**powers, 13: x, **step2}, K=64), 2 + 15 * 2.0**-12)


def test_promotion_into_bf16(engine):
    # h100 inner steps, promoted every 32 into a bf16 outer accumulator (unit 2**-6 in
    # [2, 4)).  c = 1 starts o.  Block 0: 1*1 and 2**-13 -> p = 1 + 2**-13;
    # o = bf16_rz(1 + 1 + 2**-13) = 2.  Block 1: 1.5*2**-6 * 1 -> p = 3 * 2**-7;
    # o = bf16(2 + 3 * 2**-7) = 2 + 1.5 units: rz -> 2 + 2**-6, rne -> tie -> 2 + 2**-5.
    data = {0: (1.0, 1.0), 1: T13, 32: (1.5 * 2.0**-6, 1.0)}
    cfg = H100.replace(promote_every=32, promote_format="bf16", promote_round="rz")
    assert_value(dot(engine, cfg, data, c=1.0, K=64), 2 + 2.0**-6)
    assert_value(dot(engine, cfg.replace(promote_round="rne"), data, c=1.0, K=64), 2 + 2.0**-5)
    # the inner accumulator starts at +0 each block and c only initialises o: with
    # c = 2**20 the block-0 term 2**-13 survives the inner step (q = 2**-13, not
    # 2**(20-13)) and is dropped only by the fp32 promotion (unit 2**-3 at 2**20);
    # block 1 adds 3 * 2**-7 < half a unit: 2**20 + 1.  Without promotion c = 2**20
    # joins the h100 step: q = 2**7 cuts 1 + 2**-13 to 0: 2**20.
    assert_value(dot(engine, H100.replace(promote_every=32), data, c=2.0**20, K=64), 2.0**20 + 1)
    assert_value(dot(engine, H100, data, c=2.0**20, K=64), 2.0**20)


# ================================================================== a second, independent model
def _model_round(x, fmt, mode, subnormals=True):
    """Fraction x rounded into IEEE-style format fmt (spec 2.1 step 5), as a float."""
    from fractions import Fraction

    from emu.numerics.formats import get_format

    f = get_format(fmt)
    emin, emax, mb = 2 - (1 << (f.ebits - 1)), (1 << (f.ebits - 1)) - 1, f.mbits
    if x == 0:
        return 0.0
    neg, a = x < 0, abs(x)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    e = e if Fraction(2) ** e <= a else e - 1
    unit = Fraction(2) ** (max(e, emin) - mb)
    n, r = divmod(a, unit)
    up = {
        "rz": False,
        "rne": r > unit / 2 or (r == unit / 2 and n % 2 == 1),
        "ru": r > 0 and not neg,
        "rd": r > 0 and neg,
    }[mode]
    v = (n + up) * unit
    top = (2 - Fraction(1, 2**mb)) * Fraction(2) ** emax
    if v > top:
        away = mode == "rne" or (mode == "ru" and not neg) or (mode == "rd" and neg)
        v = float("inf") if away else top
    elif not subnormals and v < Fraction(2) ** emin:
        v = 0
    return -float(v) if neg else float(v)


def _model_dot(cfg, a_row, b_col, c, sa_row, sb_col):
    """D[i, j] from the spec text alone: finite operands, Fractions throughout."""
    from fractions import Fraction

    from emu.numerics.formats import get_format

    K = len(a_row)
    bs, P = cfg.scale_block, cfg.promote_every
    step = K if cfg.fused == "k" else cfg.fused
    acc_emin = get_format(cfg.acc_format).emin

    def prod(k):
        sa_, ma, ea, Ma = _split(cfg.a_format, int(a_row[k]))
        sb_, mb, eb, Mb = _split(cfg.b_format, int(b_col[k]))
        s = 0
        if bs and cfg.scale_apply == "product":
            s = int(sa_row[k // bs]) - 127 + int(sb_col[k // bs]) - 127
        v = Fraction((-1) ** (sa_ ^ sb_) * ma * mb) * Fraction(2) ** (ea + eb + s - Ma - Mb)
        return v, ea + eb + s

    def log2floor(v):
        v = abs(v)
        e = v.numerator.bit_length() - v.denominator.bit_length()
        return e if Fraction(2) ** e <= v else e - 1

    def fused_step(acc, ks):
        if isinstance(acc, float):  # +-Inf stays (no Inf operands here)
            return acc
        terms = [t for t in (prod(k) for k in ks) if t[0] != 0]
        late = Fraction(0)
        if acc != 0:
            if cfg.c_in_alignment:
                terms.append((acc, max(log2floor(acc), acc_emin)))
            else:
                late = acc
        if cfg.align_bits != "exact" and terms:
            q = Fraction(2) ** (max(e for _, e in terms) - cfg.align_bits)
            cut = []
            for v, _ in terms:
                n, r = divmod(abs(v), q)
                if cfg.align_round == "rne" and (r > q / 2 or (r == q / 2 and n % 2)):
                    n += 1
                cut.append(n * q if v > 0 else -n * q)
        else:
            cut = [v for v, _ in terms]
        r = _model_round(sum(cut) + late, cfg.acc_format, cfg.acc_round, cfg.acc_subnormals)
        return r if math.isinf(r) else Fraction(r)

    c = Fraction(float(c))
    if not P:
        acc = c
        for k0 in range(0, K, step):
            acc = fused_step(acc, range(k0, min(k0 + step, K)))
        return float(acc)
    o = c
    for p0 in range(0, K, P):
        inner = Fraction(0)
        for k0 in range(p0, min(p0 + P, K), step):
            inner = fused_step(inner, range(k0, min(k0 + step, K)))
        s = 0
        if bs and cfg.scale_apply == "promotion":
            s = int(sa_row[p0 // bs]) - 127 + int(sb_col[p0 // bs]) - 127
        if isinstance(o, float) or isinstance(inner, float):
            o = o if isinstance(o, float) else inner  # Inf (never both signs here)
            continue
        o = _model_round(o + inner * Fraction(2) ** s, cfg.promote_format, cfg.promote_round)
        o = o if math.isinf(o) else Fraction(o)
    return float(o)


MODEL_CONFIGS = [
    *[(n, {}) for n in ("default", "mxfp8", "deepseek-v3", "b200", "ada", "exact")],
    ("h100", dict(align_round="rne", acc_round="rne", a_format="e5m2")),
    ("h100", dict(c_in_alignment=False, acc_format="bf16", acc_round="ru")),
    (
        "default",
        dict(acc_format="fp16", acc_round="rd", acc_subnormals=False, fused=8, b_format="e5m2"),
    ),
    ("mxfp8", dict(promote_every=64, promote_format="e8m10", promote_round="rz", align_bits=5)),
    ("deepseek-v3", dict(scale_b_tile=0, fused=16, acc_format="e6m9")),
]


@pytest.mark.parametrize(
    "name,changes", MODEL_CONFIGS, ids=[f"{n}-{'-'.join(c) or 'preset'}" for n, c in MODEL_CONFIGS]
)
def test_equal_independent_model(engine, name, changes):
    """Random finite data (scales kept near 2**0 so nothing overflows)."""
    cfg = emu.preset(name).replace(**changes)
    rng = np.random.default_rng(len(name) * 31 + len(changes))
    M, N, K = 2, 2, 200
    a, b = _random_finite(rng, (M, K)), _random_finite(rng, (K, N))
    if cfg.a_format == "e5m2":
        a[(a & 0x7C) == 0x7C] &= 0xFB  # E5M2: E < 31
    if cfg.b_format == "e5m2":
        b[(b & 0x7C) == 0x7C] &= 0xFB
    c = (rng.standard_normal((M, N)) * 2.0 ** rng.integers(-6, 6, (M, N))).astype(np.float32)
    sa, sb = random_scales(rng, cfg, M, N, K, lo=120, hi=135)
    got = engine(a, b, c=c, sa=sa, sb=sb, config=cfg)
    if sb is not None and cfg.scale_b_tile:
        sb = np.repeat(sb, 128, axis=1)[:, :N]
    for i in range(M):
        for j in range(N):
            want = _model_dot(
                cfg,
                a[i],
                b[:, j],
                c[i, j],
                None if sa is None else sa[i],
                None if sb is None else sb[:, j],
            )
            assert float(got[i, j]) == want, (i, j, float(got[i, j]), want)


def test_c_exponent_clamped_at_acc_emin(engine):
    # c = 71362 * 2**-149 (an fp32 subnormal, about 1e-40; floor(log2 c) = -133).  As a
    # term its exponent is clamped to the fp32 emin, -126 (2.1 step 2), so with 13
    # alignment bits q = 2**-139: c is cut to floor(71362 / 1024) = 69 units of 2**-139.
    # (Unclamped, q would be 2**-146 and c would keep 71360 * 2**-149.)  An fp32
    # accumulator shows it; the single zero product adds nothing.
    c = 71362 * 2.0**-149
    cfg = H100.replace(acc_format="fp32")
    assert_value(dot(engine, cfg, [(0.0, 1.0)], c=c), 69 * 2.0**-139)
    assert_value(dot(engine, EXACT, [(0.0, 1.0)], c=c), c)


def test_huge_and_tiny_scaled_products(engine):
    # Products are exact: 448 * 448 * 2**(127+127) and its negation cancel to +0 (no
    # overflow inside the step).  A third, small product 2**-9 * 2**-9 * 2**254 = 2**236
    # is cut: q = 2**(e_max - 25) with e_max = 8 + 8 + 254 = 270 -> 2**245 > 2**236 -> +0.
    d = emu.preset("default")
    big = dict(K=3, sa=[[254]], sb=[[254]])
    assert_value(dot(engine, d, [(448.0, 448.0), (-448.0, 448.0)], **big), 0.0)
    assert_value(dot(engine, d, [(448.0, 448.0), (-448.0, 448.0), (2.0**-9, 2.0**-9)], **big), 0.0)
    # 2**-9 * 2**-9 * 2**(-126-126) = 2**-270 underflows fp32: rne -> a zero of its sign;
    # ru -> the smallest subnormal 2**-149
    tiny = dict(K=1, sa=[[1]], sb=[[1]])
    assert_value(dot(engine, d, [(2.0**-9, 2.0**-9)], **tiny), 0.0)
    assert_value(dot(engine, d, [(-(2.0**-9), 2.0**-9)], **tiny), -0.0)
    assert_value(dot(engine, d.replace(acc_round="ru"), [(2.0**-9, 2.0**-9)], **tiny), 2.0**-149)


# ================================================================== section 5.2 fields
NV = emu.preset("h100")  # with zero_exp -7, overflow inf, zero_sign positive


def test_nvidia_zero_sign_positive(engine):
    # every zero result is +0: all products -0 with c = -0, a cancellation under rd,
    # and a negative sum that underflows (rz) to zero
    assert_value(dot(engine, NV, [(-0.0, 1.0), (0.0, -1.0)], c=-0.0), 0.0)
    assert_value(dot(engine, NV.replace(acc_round="rd"), [(1.0, 1.0), (-1.0, 1.0)]), 0.0)
    tiny = emu.preset("b200-tcgen05").replace(scale_block=32, zero_exp="drop")
    big = dict(K=1, sa=[[0]], sb=[[0]])  # 2**-127 * 2**-127: the product underflows
    assert_value(dot(engine, tiny, [(-(2.0**-9), 1.0)], **big), 0.0)
    assert_value(dot(engine, tiny.replace(zero_sign="ieee"), [(-(2.0**-9), 1.0)], **big), -0.0)


def test_nvidia_overflow_inf(engine):
    # c = max fp32 plus 448*448 under rz: IEEE gives max finite (the H100 check above),
    # overflow = inf gives +Inf once the truncated sum reaches 2**128
    fmax = float(np.finfo(np.float32).max)
    mx = emu.preset("mxfp8")
    big = dict(K=1, sa=[[254]], sb=[[254]])  # 448**2 * 2**254 > max fp32
    assert_value(dot(engine, mx, [(448.0, 448.0)], **big), np.inf)
    assert_value(dot(engine, mx, [(-448.0, 448.0)], **big), -np.inf)
    assert_value(dot(engine, mx.replace(overflow="ieee"), [(448.0, 448.0)], **big), fmax)
    # c = max e8m13 value: no overflow, c survives (the cut keeps it)
    e813max = (2 - 2.0**-13) * 2.0**127
    assert_value(dot(engine, NV, [(1.0, 1.0)], c=e813max), e813max)


def test_zero_exp(engine):
    # mxfp8: a zero product enters e_max at -126 - 7 = -133.  One product 1 * 1 scaled
    # by 2**-127 * 2**-127 has exponent -254; with a zero product beside it the
    # quantum is 2**(-133 - 25) = 2**-158 and the product (2**-254) is cut to 0.
    mx = emu.preset("mxfp8")
    sc = dict(K=2, sa=[[0]], sb=[[0]])
    assert_value(dot(engine, mx, [(1.0, 1.0), (0.0, 1.0)], **sc), 0.0)
    # zero_exp = drop: e_max is the product's own (-254); it survives, then the fp32
    # rounding (rz) underflows it to +0 as well -- so use C to see the difference:
    # c = 2**-149 (the smallest subnormal, exponent clamped at -126): with the zero
    # product, e_max = max(-126, -133) and 2**-149 is kept either way
    sub = 2.0**-149
    assert_value(dot(engine, mx, [(1.0, 1.0), (0.0, 1.0)], c=sub, **sc), sub)
    # an fp16 result (emin -14): zero terms enter at -21.  e5m2 2**-16 * 2**-16 has
    # exponent -28; beside a zero product it is cut at 2**(-21 - 13) and lost
    h5 = NV.replace(a_format="e5m2", b_format="e5m2", acc_format="fp16", acc_round="rne")
    x = 2.0**-16
    assert_value(dot(engine, h5, [(x, x), (0.0, 1.0)], c=2.0**-24), 2.0**-24)
    assert_value(dot(engine, h5.replace(zero_exp="drop"), [(x, 1.0), (0.0, 1.0)]), x)


def test_group_sums_then_scale_exponent(engine):
    # b200-mxf4: 16 e2m1 products summed exactly into one term whose alignment
    # exponent is the scale's (0 here): 6*6 * 16 = 576 at exponent 0 keeps 35 bits
    # below 2**0, so 0.25 products (0.5 * 0.5) survive next to it
    m4 = emu.preset("b200-mxf4")
    pairs = [(6.0, 6.0)] * 15 + [(0.5, 0.5)]
    assert_value(dot(engine, m4, pairs, K=64), 36.0 * 15 + 0.25)
    # the group exponent is the scale exponent: with scales 2**-10 * 2**-10 a group
    # holding 0.25 enters at -20; C = 2**15 (exponent 15) sets e_max, the quantum is
    # 2**(15 - 35) = 2**-20 and 0.25 * 2**-20 = 2**-22 is truncated away
    sc = dict(K=64, sa=[[117, 127]], sb=[[117], [127]])
    assert_value(dot(engine, m4, [(0.5, 0.5)], c=2.0**15, **sc), 2.0**15)
    assert_value(dot(engine, m4, [(0.5, 0.5)], c=1.0, **sc), 1.0 + 2.0**-22)


def test_nvfp4_ue4m3_scales(engine):
    # UE4M3 scale 1.5 (code 0x3C) times 0.5 (0x30): a factor 0.75 on block 0 of 16 k;
    # the sign bit of a scale code is ignored (0xBC == 0x3C); 0x00 is a zero scale
    nv = emu.preset("b200-nvfp4")
    sa = [[0x3C, 0x38, 0x38, 0x38]]
    sb = [[0xB0], [0x38], [0x38], [0x38]]
    assert_value(dot(engine, nv, [(2.0, 3.0)], K=64, sa=sa, sb=sb), 6.0 * 0.75)
    zero = [[0x00, 0x38, 0x38, 0x38]]
    assert_value(dot(engine, nv, [(2.0, 3.0)], K=64, sa=zero, sb=sb, c=1.0), 1.0)


def test_align_round_rd_floors_the_signed_term(engine):
    # align_bits 0 at e_max 0: -(1 + 1/8) floors to -2 (rd), truncates to -1 (rz)
    cfg = EXACT.replace(fused=32, align_bits=0, scale_block=0, acc_round="rz")
    pairs = [(1.0, 1.0), (-1.125, 1.0)]
    assert_value(dot(engine, cfg.replace(align_round="rd"), pairs), -1.0)
    assert_value(dot(engine, cfg.replace(align_round="rz"), pairs), 0.0)


def test_cdna3_lanes_join_and_floor(engine):
    # cdna3: even and odd k are separate lanes, each truncated at 24 bits below its
    # own e_max, then combined by floor at 24 bits below the larger.  Lane 0 holds
    # 128 * 128 = 2**14; lane 1 holds -2**-11 alone (exact in its lane), floored at
    # 2**(14 - 24) = 2**-10 at the combination: -2**-10.  One lane with rz would
    # truncate it to 0.
    cd = emu.preset("cdna3")
    pairs = {0: (128.0, 128.0), 1: (-(2.0**-10), 0.5)}
    assert_value(dot(engine, cd, pairs, K=16), 2.0**14 - 2.0**-10)
    assert_value(dot(engine, cd, {0: (128.0, 128.0), 1: (2.0**-10, 0.5)}, K=16), 2.0**14)
    one_lane = cd.replace(lanes=1)
    assert_value(dot(engine, one_lane, pairs, K=16), 2.0**14)
    # C joins at the larger exponent, floored at 24 bits; more than 25 below it is
    # dropped: -2**-25 floors to -2**-24, -2**-26 is dropped
    assert_value(dot(engine, cd, [(1.0, 1.0)], c=-(2.0**-25), K=16), 1.0 - 2.0**-24)
    assert_value(dot(engine, cd, [(1.0, 1.0)], c=-(2.0**-26), K=16), 1.0)
    assert_value(dot(engine, cd, [(1.0, 1.0)], c=-(2.0**-20), K=16), 1.0 - 2.0**-20)
