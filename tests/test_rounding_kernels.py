"""The kernels' rounding helpers equal the exact scalar rounding of emu.numerics.formats on
crafted values: exact ties, representable values, values just above/below them
(the TwoSum tail), every mode, several formats, subnormal and overflow ranges."""

import zlib
from fractions import Fraction

import numpy as np
import pytest

from emu.kernels.core import MODE_CODES, round_f64, round_int
from emu.kernels.fast import _round_vec
from emu.numerics.formats import exact_to_float, get_format, round_exact

FORMATS = ["fp32", "e8m13", "bf16", "fp16", "e5m7"]


def exact_round(x: float, tail: float, f, mode):
    """round(x + tail) with the tail standing for an infinitesimal of its sign."""
    q = Fraction(x) + (Fraction(tail) if tail else 0)
    n, d = q.numerator, q.denominator
    shift = d.bit_length() + 80
    n = (n << shift) // d
    if (q.numerator << shift) % d:  # keep the sticky bit
        n = n * 2 + (1 if n >= 0 else -1)
        shift += 1
    return exact_to_float(round_exact(n, -shift, f, mode))


def crafted(rng, f, n):
    """x values at, around and between the format's grid points, with tails."""
    d = 52 - f.mbits
    e = rng.integers(f.emin - f.mbits - 3, f.emax + 2, n)
    frac = rng.integers(0, 1 << 52, n, dtype=np.int64)
    kind = rng.integers(0, 4, n)
    frac = np.where(kind == 0, frac & ~((1 << d) - 1), frac)  # on the grid
    frac = np.where(kind == 1, (frac & ~((1 << d) - 1)) | (1 << (d - 1)), frac)  # a tie
    frac = np.where(kind == 2, frac | ((1 << d) - 1), frac)  # just below
    x = np.ldexp(1.0 + frac / 2.0**52, e) * np.where(rng.random(n) < 0.5, -1, 1)
    tail = np.where(
        rng.random(n) < 0.5, 0.0, np.ldexp(np.where(rng.random(n) < 0.5, -1.0, 1.0), e - 60)
    )
    return x, tail


@pytest.mark.parametrize("fname", FORMATS)
@pytest.mark.parametrize("mode", ["rz", "rne", "ru", "rd"])
@pytest.mark.parametrize("has_tail", [True, False])
def test_round_vec_and_round_f64_equal_exact(fname, mode, has_tail):
    """_round_vec with tails, and its loops for tails that are all 0."""
    f = get_format(fname)
    rng = np.random.default_rng(zlib.crc32(f"{fname} {mode}".encode()))
    x, tail = crafted(rng, f, 3000)
    # x = 2**emin exactly, with a tail below it: the result lies in the subnormal range
    x[:4] = [2.0**f.emin, -(2.0**f.emin), 2.0**f.emin, -(2.0**f.emin)]
    tail[:4] = [
        -(2.0 ** (f.emin - 60)),
        2.0 ** (f.emin - 60),
        2.0 ** (f.emin - 60),
        -(2.0 ** (f.emin - 60)),
    ]
    if not has_tail:
        tail[:] = 0.0
    out = np.empty_like(x)
    flag = np.empty(x.size, dtype=np.bool_)
    lo = np.int64(1023 + f.emin) << 52
    hi = np.float64(f.max_finite).view(np.int64)
    _round_vec(x, tail, out, flag, x.size, f.mbits, MODE_CODES[mode], lo, hi, has_tail)
    for xi, ti, oi, fl in zip(x, tail, out, flag):
        want = exact_round(float(xi), float(ti), f, mode)
        got = round_f64(xi, ti, f.ebits, f.mbits, MODE_CODES[mode], True)
        assert np.float64(got).view(np.int64) == np.float64(want).view(np.int64), (xi, ti)
        if not fl:
            assert oi.view(np.int64) == np.float64(want).view(np.int64), (xi, ti)
        else:
            assert (
                abs(xi) < 2.0**f.emin
                or abs(want) < 2.0**f.emin
                or abs(want) >= f.max_finite
                or np.isinf(want)
            )


@pytest.mark.parametrize("fname", FORMATS)
@pytest.mark.parametrize("mode", ["rz", "rne", "ru", "rd"])
@pytest.mark.parametrize("subnormals", [True, False])
def test_round_int_equals_round_exact(fname, mode, subnormals):
    f = get_format(fname)
    rng = np.random.default_rng(zlib.crc32(f"{fname} {mode} {subnormals}".encode()))
    for _ in range(2000):
        n = int(rng.integers(1, 2**61))
        n >>= int(rng.integers(0, 60))
        n = max(n, 1)
        e = int(rng.integers(f.emin - f.mbits - 70, f.emax + 5))
        neg = bool(rng.integers(0, 2))
        want = exact_to_float(round_exact(-n if neg else n, e, f, mode, subnormals=subnormals))
        got = round_int(n, e, neg, f.ebits, f.mbits, MODE_CODES[mode], subnormals)
        assert np.float64(got).view(np.int64) == np.float64(want).view(np.int64), (n, e, neg)


def test_rna_in_the_accumulator_and_the_cut():
    """A tie at the accumulator (c = 1, product 2**-14, e8m13 ulp 2**-13) and at the
    cut (align_bits 0, term 1.5): rna goes away from zero where rne goes to even;
    emu.gemm (the general kernel: no fast kernel declares rna) equals the reference."""
    import emu
    from emu.numerics.formats import encode

    def one(cfg, a, b, c):
        A, B = encode("e4m3", np.array([[a]])), encode("e4m3", np.array([[b]]))
        C = np.array([[c]], np.float32)
        got = emu.gemm(A, B, c=C, config=cfg)
        assert got.view(np.uint32) == emu.reference.gemm(A, B, c=C, config=cfg).view(np.uint32)
        return float(got[0, 0])

    h = emu.preset("h100").replace(align_bits="exact")
    assert one(h.replace(acc_round="rna"), 2.0**-7, 2.0**-7, 1.0) == 1 + 2.0**-13
    assert one(h.replace(acc_round="rne"), 2.0**-7, 2.0**-7, 1.0) == 1.0
    # align_bits 1: the quantum is 2**-1 below e_max = 0, so 1.25 is 2.5 quanta
    cut = emu.preset("exact").replace(fused=1, align_bits=1, c_in_alignment=False)
    assert one(cut.replace(align_round="rna"), 1.25, 1.0, 0.0) == 1.5  # 2.5 -> 3 quanta
    assert one(cut.replace(align_round="rne"), 1.25, 1.0, 0.0) == 1.0  # 2.5 -> 2 quanta
    assert one(cut.replace(align_round="rna"), 1.75, 1.0, 0.0) == 2.0  # 3.5 -> 4 both
    assert one(cut.replace(align_round="rne"), 1.75, 1.0, 0.0) == 2.0
