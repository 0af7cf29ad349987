"""Formats (spec section 1): decoding, encoding, rounding; scalar path == array path ==
ml_dtypes / numpy, on every code, every fp16/bf16 pattern and a million fp32 patterns."""

import math

import ml_dtypes
import numpy as np
import pytest

from emu import reference
from emu.errors import UsageError
from emu.numerics.formats import (
    ROUND_MODES,
    canonical_nan,
    decode,
    decode_scalar,
    encode,
    encode_scalar,
    exact_to_float,
    get_format,
    round_array,
    round_exact,
)

ML = {
    "e4m3": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
    "ue8m0": ml_dtypes.float8_e8m0fnu,
    "e2m1": ml_dtypes.float4_e2m1fn,
    "e2m3": ml_dtypes.float6_e2m3fn,
    "e3m2": ml_dtypes.float6_e3m2fn,
    "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
}
NARROW = ["e2m1", "e2m3", "e3m2", "e4m3fnuz", "e5m2fnuz"]  # contract section 5.1
CODES = np.arange(256, dtype=np.uint8)


def same(got, want):
    """float64 arrays equal bit for bit, except that any NaN equals any NaN."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    gn, wn = np.isnan(got), np.isnan(want)
    assert np.array_equal(gn, wn), f"NaN positions differ at {np.argwhere(gn != wn)[:5]}"
    g, w = got[~gn].view(np.uint64), want[~wn].view(np.uint64)
    bad = np.flatnonzero(g != w)
    assert bad.size == 0, (
        f"{bad.size} differences, e.g. got {got[~gn][bad[0]]!r} want {want[~wn][bad[0]]!r}"
    )


def ref_value(t):
    """emu.numerics.reference.decode's tuple as a float."""
    if t[0] == "nan":
        return math.nan
    if t[0] == "inf":
        return -math.inf if t[1] else math.inf
    _, s, m, e, M = t
    v = m * 2.0 ** (e - M)
    return -v if s else v


# ------------------------------------------------------------------ decoding
@pytest.mark.parametrize("name", ["e4m3", "e5m2", "ue8m0", *NARROW])
def test_every_code_decodes_like_ml_dtypes(name):
    codes = CODES[: 1 << get_format(name).bits]  # FP4/FP6: one code in the low bits
    want = codes.view(ML[name]).astype(np.float64)
    same(decode(name, codes), want)  # table path
    same([decode_scalar(name, c) for c in codes], want)  # scalar path
    if name == "ue8m0":  # the reference reads scales as exponents
        got = [
            math.nan if reference.scale_exp_of(c) is None else 2.0 ** reference.scale_exp_of(c)
            for c in range(256)
        ]
    else:
        got = [ref_value(reference.decode(name, c)) for c in codes]
    same(got, want)


def test_narrow_and_fnuz_formats_by_hand():
    """Contract 5.1: limits, specials and a few codes of each new format."""
    want = {  # name: (bits, max finite, min subnormal, NaN codes)
        "e2m1": (4, 6.0, 0.5, []),
        "e2m3": (6, 7.5, 0.125, []),
        "e3m2": (6, 28.0, 0.0625, []),
        "e4m3fnuz": (8, 240.0, 2.0**-10, [0x80]),
        "e5m2fnuz": (8, 57344.0, 2.0**-17, [0x80]),
    }
    for name, (bits, mx, sub, nans) in want.items():
        f = get_format(name)
        v = decode(name, np.arange(1 << bits, dtype=np.uint8))
        assert (f.bits, f.max_finite, f.min_subnormal) == (bits, mx, sub)
        assert np.flatnonzero(np.isnan(v)).tolist() == nans and not np.isinf(v).any()
        assert np.nanmax(v) == mx and np.nanmin(v) == -mx
    assert decode("e2m1", np.arange(8, dtype=np.uint8)).tolist() == [0, 0.5, 1, 1.5, 2, 3, 4, 6]
    assert decode("e4m3fnuz", np.array([0x00, 0x7F, 0x40, 0x08], np.uint8)).tolist() == [
        0.0,
        240.0,
        1.0,
        2.0**-7,
    ]
    # UE4M3 (NVFP4 scales): an E4M3 code with its sign bit ignored
    u = decode("ue4m3", CODES)
    same(u[:128], decode("e4m3", CODES[:128]))
    same(u[128:], u[:128])
    assert np.flatnonzero(np.isnan(u)).tolist() == [0x7F, 0xFF] and np.nanmin(u) == 0


def test_narrow_and_fnuz_encoding_rules():
    """Our rules where the formats lack codes: FP4/FP6 saturate (no Inf, no NaN; a NaN
    becomes +0, decision 22), fnuz has no -0 (a negative zero result is +0) and one
    NaN (0x80) for NaN, Inf and nonsat overflow."""
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, 1e9, -1e9, -0.0, -1e-30])
    for ov in ("sat", "nonsat"):
        assert encode("e2m1", x, overflow=ov).tolist() == [0, 0, 7, 15, 7, 15, 8, 8]
    assert encode("e4m3fnuz", x, overflow="nonsat").tolist() == [0x80] * 6 + [0, 0]
    assert encode("e4m3fnuz", x, overflow="sat").tolist() == [0x80, 0x80] + [0x7F, 0xFF] * 2 + [
        0,
        0,
    ]
    assert encode_scalar("e5m2fnuz", -0.0) == 0 and encode_scalar("e5m2fnuz", -1e-30) == 0


def test_decode_spot_values():
    """Hand-checked codes of spec section 1's table."""
    e4 = decode(
        "e4m3",
        np.array([0x00, 0x80, 0x01, 0x07, 0x08, 0x38, 0x7E, 0xFE, 0x7F, 0xFF, 0x78], np.uint8),
    )
    assert e4[0] == 0 and not np.signbit(e4[0]) and e4[1] == 0 and np.signbit(e4[1])
    assert e4[2] == 2.0**-9  # min subnormal: m=1, e=1-7, M=3
    assert e4[3] == 7 * 2.0**-9  # max subnormal
    assert e4[4] == 2.0**-6  # min normal
    assert e4[5] == 1.0 and e4[6] == 448.0 and e4[7] == -448.0
    assert np.isnan(e4[8]) and np.isnan(e4[9])  # S.1111.111 only
    assert e4[10] == 256.0  # S.1111.000 is a number in E4M3
    e5 = decode(
        "e5m2", np.array([0x01, 0x04, 0x3C, 0x7B, 0x7C, 0xFC, 0x7D, 0x7E, 0x7F, 0xFD], np.uint8)
    )
    assert e5[0] == 2.0**-16 and e5[1] == 2.0**-14 and e5[2] == 1.0
    assert e5[3] == 57344.0 and e5[4] == math.inf and e5[5] == -math.inf
    assert np.isnan(e5[6:]).all()
    s = decode("ue8m0", np.array([0x00, 0x7F, 0x80, 0xFE, 0xFF], np.uint8))
    assert list(s[:4]) == [2.0**-127, 1.0, 2.0, 2.0**127] and np.isnan(s[4])


def test_decode_rejects_bad_codes():
    with pytest.raises(UsageError):
        decode("e4m3", np.array([256]))
    with pytest.raises(UsageError):
        decode("e4m3", np.array([-1]))
    with pytest.raises(UsageError):
        decode("fp32", np.array([0], np.uint8))
    assert decode("e4m3", np.array([0x38, 0x40], np.int64)).tolist() == [1.0, 2.0]
    for bad in (256, -1):
        with pytest.raises(UsageError):
            decode_scalar("e5m2", bad)
    assert decode_scalar("fp16", 0x3C00) == 1.0 and decode_scalar("bf16", 0xFF80) == -math.inf


def test_format_limits():
    e4, e5, s = get_format("e4m3"), get_format("e5m2"), get_format("ue8m0")
    assert (e4.bias, e4.mbits, e4.emin, e4.emax) == (7, 3, -6, 8)
    assert e4.max_finite == 448.0 and e4.min_subnormal == 2.0**-9
    assert (e5.bias, e5.mbits, e5.emin, e5.emax) == (15, 2, -14, 15)
    assert e5.max_finite == 57344.0 and e5.min_subnormal == 2.0**-16
    assert s.bias == 127 and not s.signed and s.bits == 8
    assert s.max_finite == 2.0**127 and s.min_subnormal == 2.0**-127
    assert decode_scalar("ue8m0", 0xFE) == s.max_finite
    assert decode_scalar("ue8m0", 0x00) == s.min_subnormal
    f32, e813 = get_format("fp32"), get_format("e8m13")
    assert f32.max_finite == float(np.finfo(np.float32).max)
    assert f32.min_subnormal == 2.0**-149 and f32.emin == -126
    assert e813.max_finite == (2 - 2.0**-13) * 2.0**127 and e813.fits_fp32
    assert e813.min_subnormal == 2.0**-139
    assert get_format("fp16").max_finite == 65504.0
    assert get_format("bf16").max_finite == float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)
    assert get_format("E8M13") is get_format("e8m13")  # names are case-insensitive
    assert get_format("e8m23") == f32 and get_format("e8m0") == s
    for bad in ["fp64", "e1m2", "e4m", "", None, ["e4m3"]]:
        with pytest.raises(UsageError):
            get_format(bad)


# ------------------------------------------------------------------ encoding vs ml_dtypes
def fp16_patterns():
    return np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32)


def bf16_patterns():
    return np.arange(65536, dtype=np.uint16).view(ml_dtypes.bfloat16).astype(np.float32)


def fp32_patterns(n=1_000_000):
    rng = np.random.default_rng(2024)
    return rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)


@pytest.mark.parametrize("name", ["e4m3", "e5m2", *NARROW])
@pytest.mark.parametrize("source", ["fp16", "bf16", "fp32"])
def test_nonsat_equals_ml_dtypes(name, source):
    """Bit for bit wherever both define the code: every input whose result is not a
    NaN.  Where the result is a NaN (a NaN input, an e4m3 overflow) both must give a
    NaN code; which NaN is our own rule (the input's sign, test below).  A format
    without NaN (FP4/FP6) has no code for a NaN input: each library has its own rule
    there (ours: +0, test below), so those inputs are left out."""
    x = {"fp16": fp16_patterns, "bf16": bf16_patterns, "fp32": fp32_patterns}[source]()
    if not get_format(name).has_nan:
        x = x[~np.isnan(x)]
    with np.errstate(invalid="ignore", over="ignore"):
        want = x.astype(ML[name]).view(np.uint8)
    got = encode(name, x, overflow="nonsat")
    fmt = get_format(name)
    got_nan, want_nan = np.isnan(decode(fmt, got)), np.isnan(decode(fmt, want))
    assert np.array_equal(got_nan, want_nan)
    bad = np.flatnonzero((got != want) & ~got_nan)
    assert bad.size == 0, (
        f"{bad.size} codes differ, e.g. x={x[bad[0]]!r} "
        f"got {got[bad[0]]:#04x} want {want[bad[0]]:#04x}"
    )
    # the scalar path agrees too (every 7th pattern: keeps the test fast)
    sub = x[::7] if source != "fp32" else x[:20000]
    want_sub = got[::7] if source != "fp32" else got[:20000]
    got_sub = [encode_scalar(name, float(v), "rne", "nonsat") for v in sub]
    assert got_sub == want_sub.tolist()


def test_nan_keeps_its_sign():
    """Our rule (docs/numerics-decisions.md): a NaN input, and an e4m3 nonsat
    overflow, encode to the NaN code with the input's sign."""
    nans = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFFFFFFF], np.uint32)
    x = nans.view(np.float32)
    for ov in ("sat", "nonsat"):
        assert encode("e4m3", x, overflow=ov).tolist() == [0x7F, 0xFF, 0x7F, 0xFF]
        assert encode("e5m2", x, overflow=ov).tolist() == [0x7E, 0xFE, 0x7E, 0xFE]
    assert encode("e4m3", np.array([1e6, -1e6]), overflow="nonsat").tolist() == [0x7F, 0xFF]
    assert canonical_nan("e4m3") == 0x7F and canonical_nan("e5m2") == 0x7E
    assert canonical_nan("ue8m0") == 0xFF and canonical_nan("fp32") == 0x7FC00000


# ------------------------------------------------------------------ sat / nonsat
E4 = [
    (448, 0x7E, 0x7E),
    (463.99, 0x7E, 0x7E),
    (464, 0x7E, 0x7E),  # 464: tie -> even 448
    (464.0001, 0x7E, 0x7F),
    (465, 0x7E, 0x7F),
    (480, 0x7E, 0x7F),
    (1e30, 0x7E, 0x7F),
    (-465, 0xFE, 0xFF),
    (math.inf, 0x7E, 0x7F),
    (-math.inf, 0xFE, 0xFF),
    (math.nan, 0x7F, 0x7F),
    (-0.0, 0x80, 0x80),
    (2.0**-10, 0x00, 0x00),
    (-(2.0**-10) * 1.0001, 0x81, 0x81),
]
# e5m2: max 57344 = 1.75 * 2**15; half an ulp above it is 61440 (tie -> even = Inf)
E5 = [
    (57344, 0x7B, 0x7B),
    (61439, 0x7B, 0x7B),
    (61440, 0x7B, 0x7C),
    (1e9, 0x7B, 0x7C),
    (-61440, 0xFB, 0xFC),
    (math.inf, 0x7B, 0x7C),
    (-math.inf, 0xFB, 0xFC),
    (math.nan, 0x7E, 0x7E),
    (2.0**-17, 0x00, 0x00),
    (3 * 2.0**-17, 0x02, 0x02),
]


@pytest.mark.parametrize("name,table", [("e4m3", E4), ("e5m2", E5)])
def test_sat_and_nonsat_overflow(name, table):
    x = np.array([t[0] for t in table])
    assert encode(name, x, overflow="sat").tolist() == [t[1] for t in table]
    assert encode(name, x, overflow="nonsat").tolist() == [t[2] for t in table]
    assert [encode_scalar(name, v, "rne", "sat") for v in x] == [t[1] for t in table]
    assert [encode_scalar(name, v, "rne", "nonsat") for v in x] == [t[2] for t in table]


def test_sat_values_spec_section_1():
    v = decode("e4m3", encode("e4m3", np.array([464, 465, np.inf, -np.inf]), "sat"))
    assert v.tolist() == [448, 448, 448, -448]
    v = decode("e4m3", encode("e4m3", np.array([464, 465]), "nonsat"))
    assert v[0] == 448 and np.isnan(v[1])
    v = decode("e5m2", encode("e5m2", np.array([1e6, -1e6, np.inf]), "sat"))
    assert v.tolist() == [57344, -57344, 57344]
    v = decode("e5m2", encode("e5m2", np.array([1e6, -1e6, np.nan]), "nonsat"))
    assert v[:2].tolist() == [np.inf, -np.inf] and np.isnan(v[2])


# ------------------------------------------------------------------ scalar path == array path
FORMATS = ["fp32", "fp16", "bf16", "e8m13", "e5m2", "e4m3", *NARROW]


def probe_values(f, rng, n=700):
    """Random values around every interesting spot of format f: all binades from below
    the subnormals to above max finite, exact ties, values next to max finite."""
    f = get_format(f)
    lo, hi = f.emin - f.mbits - 3, f.emax + 3
    e = rng.integers(lo, hi, n)
    wide = np.ldexp(1 + rng.random(n), e)
    k = rng.integers(1, 1 << (f.mbits + 1), n).astype(np.float64)
    ties = np.ldexp(k + 0.5, rng.integers(lo, hi, n) - f.mbits)  # exactly halfway
    near = f.max_finite * (1 + rng.uniform(-(2.0**-f.mbits), 2.0**-f.mbits, 50))
    tiny = np.ldexp(rng.integers(1, 8, 50).astype(np.float64), f.emin - f.mbits - 2)
    special = [
        0.0,
        f.max_finite,
        f.min_subnormal,
        f.min_subnormal / 2,
        f.min_subnormal * 1.5,
        2.0**f.emin,
        2.0**f.emin * (1 - 2.0**-30),
        f.max_finite + 2.0 ** (f.emax - f.mbits - 1),
    ]
    x = np.concatenate([wide, ties, near, tiny, special])
    return x * rng.choice([-1.0, 1.0], x.size)


@pytest.mark.parametrize("name", FORMATS)
def test_round_exact_equals_round_array(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    x = probe_values(name, rng)
    for mode in ROUND_MODES:
        for sub in (True, False):
            for ov in ("ieee", "sat", "nonsat"):
                arr = round_array(x, name, mode, subnormals=sub, overflow=ov)
                sc = []
                for v in x:
                    n, d = float(v).as_integer_ratio()
                    r = exact_to_float(
                        round_exact(
                            n, -(d.bit_length() - 1), name, mode, subnormals=sub, overflow=ov
                        )
                    )
                    if r == 0 and get_format(name).has_negzero:
                        r = math.copysign(r, v)  # zero keeps x's sign
                    sc.append(r)
                same(sc, arr)


@pytest.mark.parametrize("name", ["e4m3", "e5m2", "fp16", "bf16", "fp32", *NARROW])
def test_encode_scalar_equals_encode(name):
    rng = np.random.default_rng(7 + len(name))
    x = np.concatenate([probe_values(name, rng, 400), [np.inf, -np.inf, np.nan, -np.nan, -0.0]])
    view = {16: np.uint16, 32: np.uint32}.get(get_format(name).bits, np.uint8)
    for mode in ROUND_MODES:
        for ov in ("sat", "nonsat"):
            arr = np.asarray(encode(name, x, overflow=ov, mode=mode)).view(view)
            assert [encode_scalar(name, v, mode, ov) for v in x] == arr.tolist(), (mode, ov)


def test_directed_rounding_by_hand():
    """fp16: ulp(1) = 2**-10; x = 1 + 2**-11 is a tie, y = 1 + 3 * 2**-12 is above it."""
    x, y = 1 + 2.0**-11, 1 + 3 * 2.0**-12
    up = 1 + 2.0**-10
    want = {"rne": (1, up), "rz": (1, 1), "ru": (up, up), "rd": (1, 1)}
    for mode, (wx, wy) in want.items():
        assert round_array([x, y], "fp16", mode).tolist() == [wx, wy]
        assert round_array([-x, -y], "fp16", mode).tolist() == [
            -{"ru": 1, "rd": up}.get(mode, wx),
            -{"ru": 1, "rd": up}.get(mode, wy),
        ]
    # overflow: 65520 is halfway between 65504 (max) and 65536
    ov = {
        "rne": (math.inf, -math.inf),
        "rz": (65504, -65504),
        "ru": (math.inf, -65504),
        "rd": (65504, -math.inf),
    }
    for mode, w in ov.items():
        assert round_array([65520, -65520], "fp16", mode).tolist() == list(w)
    assert round_array([65520, -1e9], "fp16", "rne", overflow="sat").tolist() == [65504, -65504]
    # e8m13 rz of an fp32 value == clearing its low 10 fraction bits (spec section 1)
    rng = np.random.default_rng(5)
    v = rng.integers(0, 2**32, 100000, dtype=np.uint64).astype(np.uint32)
    v = v[(v & 0x7F800000) != 0x7F800000]  # finite fp32 values
    got = round_array(v.view(np.float32), "e8m13", "rz").astype(np.float32)
    assert np.array_equal(got.view(np.uint32), v & np.uint32(0xFFFFFC00))


def test_subnormal_flush_is_after_rounding():
    """subnormals=False flushes a result whose *rounded* magnitude is below 2**emin
    (tininess after rounding), to a zero of its own sign."""
    tiny = 2.0**-14  # fp16 min normal
    assert round_array([2.0**-15, -(2.0**-15)], "fp16", subnormals=False).tolist() == [0.0, -0.0]
    assert np.signbit(round_array([-(2.0**-15)], "fp16", subnormals=False))[0]
    just_below = tiny * (1 - 2.0**-12)  # rounds up to 2**-14 under rne
    assert round_array([just_below], "fp16", "rne", subnormals=False)[0] == tiny
    assert round_array([just_below], "fp16", "rz", subnormals=False)[0] == 0.0
    assert round_array([just_below], "fp16", "rz", subnormals=True)[0] == tiny - 2.0**-24


# ------------------------------------------------------------------ round_array vs numpy
def wide_float64(rng, n=300_000):
    e = rng.integers(-1100, 1030, n)  # float64 subnormal .. overflow
    with np.errstate(over="ignore"):
        x = np.ldexp(1 + rng.random(n), e)
    bits = rng.integers(0, 2**63, n, dtype=np.uint64).view(np.float64)
    x = np.concatenate([x, bits[np.isfinite(bits)]])
    return x * rng.choice([-1.0, 1.0], x.size)


@pytest.mark.parametrize("name,dtype", [("fp32", np.float32), ("fp16", np.float16)])
def test_round_array_equals_numpy_cast(name, dtype):
    x = wide_float64(np.random.default_rng(11))
    with np.errstate(over="ignore"):
        want = x.astype(dtype).astype(np.float64)
    same(round_array(x, name, "rne"), want)


def test_round_array_bf16_equals_ml_dtypes():
    """On float32 inputs (where a cast to bfloat16 is one rounding in every library)
    round_array(x, 'bf16') is ml_dtypes' cast.  From float64 we round once, which
    the exact scalar path confirms (ml_dtypes releases differ here: see
    docs/numerics.md)."""
    rng = np.random.default_rng(12)
    with np.errstate(over="ignore"):
        x = wide_float64(rng).astype(np.float32)
    x = np.concatenate([x, bf16_patterns(), fp32_patterns(200_000)])
    x = x[~np.isnan(x)]
    same(round_array(x, "bf16", "rne"), x.astype(ml_dtypes.bfloat16).astype(np.float64))
    d = np.array([1 + 2.0**-8 + 2.0**-30])  # just above a bf16 tie
    assert round_array(d, "bf16")[0] == 1 + 2.0**-7
    assert exact_to_float(round_exact((1 << 30) + (1 << 22) + 1, -30, "bf16", "rne")) == 1 + 2.0**-7


def test_bad_mode_and_policy():
    for call in (
        lambda: round_array([1.0], "fp32", "rn"),
        lambda: round_exact(1, 0, "fp32", "rn"),  # even when exact
        lambda: round_array([1.0], "fp32", overflow="clamp"),
        lambda: encode_scalar("e4m3", 1.0, "up"),
        lambda: encode("e4m3", [1.0], overflow="saturate"),
        lambda: encode_scalar("ue8m0", 1.0),
    ):
        with pytest.raises(UsageError):
            call()


def test_e4m3ieee_is_fpnew_fp8alt():
    """IEEE-style E4M3: Inf at S.1111.000, NaN at the other S.1111.xxx, max 240
    (0x77); the OCP E4M3 reads 0x78..0x7E as 256..448 instead."""
    v = decode("e4m3ieee", CODES)
    assert v[0x77] == 240.0 and v[0x78] == np.inf and v[0xF8] == -np.inf
    assert np.flatnonzero(np.isnan(v)).tolist() == [*range(0x79, 0x80), *range(0xF9, 0x100)]
    same(v[:0x78], decode("e4m3", CODES[:0x78]))
    assert encode("e4m3ieee", np.array([240.0, 248.0, 1e9]), overflow="nonsat").tolist() == [
        0x77,
        0x78,
        0x78,
    ]
    assert encode("e4m3ieee", np.array([1e9, -np.inf]), overflow="sat").tolist() == [0x77, 0xF7]


def test_rna_ties_away_from_zero():
    """rna (FPnew RMM): nearest, ties away from zero; not a tie: as rne."""
    u = 2.0**-10  # fp16 ulp at 1
    assert exact_to_float(round_exact(2049, -11, "fp16", "rna")) == 1 + u  # 1 + u/2
    assert exact_to_float(round_exact(-2049, -11, "fp16", "rna")) == -(1 + u)
    assert exact_to_float(round_exact(2049, -11, "fp16", "rne")) == 1.0
    x = np.array([1 + u / 2, -(1 + u / 2), 1 + 1.5 * u, 1 + u / 4, 65520.0])  # 65520: max + u/2
    assert round_array(x, "fp16", "rna").tolist() == [1 + u, -(1 + u), 1 + 2 * u, 1.0, np.inf]
    assert encode("e4m3", np.array([464.0]), mode="rna", overflow="nonsat").tolist() == [0x7F]
