"""scripts/crosscheck.py's pure helpers, without torch or mmasim: the operand layouts it
hands MMA-Sim, the code tables, the generated data, the cases it derives from
MMA-Sim's instruction lists, and the classes of difference."""

import importlib.util
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "scripts" / "crosscheck.py"
_spec = importlib.util.spec_from_file_location("crosscheck_script", _PATH)
cc = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = cc  # dataclasses look their module up
_spec.loader.exec_module(cc)

ML = {
    "e4m3": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
    "e3m2": ml_dtypes.float6_e3m2fn,
    "e2m3": ml_dtypes.float6_e2m3fn,
    "e2m1": ml_dtypes.float4_e2m1fn,
    "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
}


def mmasim_unpack_fp4(x):
    """numpy copy of MMA-Sim 2.1.1 helper.unpack_uint8_to_fp4 (codes, not values)."""
    return np.stack([x >> 4, x & 0x0F], axis=-1).reshape(x.shape[:-1] + (-1,))


def mmasim_fp6_fp4_code(x, fmt):
    """numpy copy of the code step of helper.decode_uint8_to_fp6_fp4."""
    E, M = cc.CODES[fmt].ebits, cc.CODES[fmt].mbits
    return (x.astype(np.int64) & 0x3F) >> (5 - E - M)


@pytest.mark.parametrize("fmt", sorted(cc.CODES))
def test_code_tables_match_ml_dtypes(fmt):
    f = cc.CODES[fmt]
    codes = np.arange(2**f.width, dtype=np.uint8)
    ref = codes.view(ML[fmt]).astype(np.float64)
    ours = f.value(codes)
    assert np.array_equal(np.isnan(ours), np.isnan(ref))
    ok = ~np.isnan(ref)
    assert np.array_equal(ours[ok], ref[ok])
    assert np.array_equal(np.signbit(ours[ok]), np.signbit(ref[ok]))
    assert np.array_equal(f.finite(codes), np.isfinite(ref))
    assert f.value(f.one) == 1.0
    assert f.value(f.max_code) == np.nanmax(ref[np.isfinite(ref)])


def test_ue4m3_scale_values():
    codes = np.arange(256)
    v = cc.scale_value(codes, "ue4m3")
    assert np.isnan(v[0x7F]) and np.isnan(v[0xFF])
    assert v[0x00] == v[0x80] == 0.0
    assert v[0x01] == 2.0**-9 and v[0x7E] == 448.0 and v[0x38] == 1.0
    ok = ~np.isnan(v)
    assert np.array_equal(v[:128][ok[:128]], v[128:][ok[128:]])  # the sign bit is ignored
    u = cc.scale_value(codes, "ue8m0")
    assert u[127] == 1.0 and u[0] == 2.0**-127 and u[0xFE] == 2.0**127 and np.isnan(u[0xFF])


def test_pack_fp4_is_what_mmasim_unpacks(rng):
    a = rng.integers(0, 16, (3, 5, 64)).astype(np.uint8)  # (T, m, k)
    b = rng.integers(0, 16, (3, 64, 7)).astype(np.uint8)  # (T, k, n)
    pa = cc.to_mmasim(a, "e2m1", True, -1)
    pb = cc.to_mmasim(b, "e2m1", True, -2)
    assert pa.shape == (3, 5, 32) and pb.shape == (3, 32, 7)
    assert np.array_equal(mmasim_unpack_fp4(pa), a)
    # MMA-Sim unpacks B after B.T: along k
    assert np.array_equal(mmasim_unpack_fp4(pb.transpose(0, 2, 1)), b.transpose(0, 2, 1))
    assert pa[0, 0, 0] == (a[0, 0, 0] << 4) | a[0, 0, 1]


@pytest.mark.parametrize("fmt", ["e2m1", "e2m3", "e3m2"])
def test_fp6_fp4_one_per_byte_is_what_mmasim_decodes(fmt):
    codes = np.arange(2 ** cc.CODES[fmt].width, dtype=np.uint8)
    x = cc.to_mmasim(codes, fmt, False, -1)
    assert np.array_equal(mmasim_fp6_fp4_code(x, fmt), codes)
    assert (x < 64).all()


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz"])
def test_fp8_unchanged(fmt):
    codes = np.arange(256, dtype=np.uint8)
    assert np.array_equal(cc.to_mmasim(codes, fmt, False, -1), codes)


@pytest.mark.parametrize("fmt", sorted(cc.CODES))
@pytest.mark.parametrize("run", ["finite", "tiny", "specials"])
def test_code_vectors(fmt, run, rng):
    f = cc.CODES[fmt]
    codes = cc.code_vectors(rng, fmt, (8, 64, 32), run)
    assert codes.dtype == np.uint8 and (codes < 2**f.width).all()
    finite = f.finite(codes)
    vals = f.value(codes)
    if run == "specials":
        assert finite.all() == (not (f.nans + f.infs))
        assert set(np.unique(codes[~finite])) <= set(f.nans + f.infs)
        if f.nans + f.infs:
            assert set(f.nans + f.infs) <= set(np.unique(codes))
    else:
        assert finite.all()
    e_field = (codes >> f.mbits) & (2**f.ebits - 1)
    frac = codes & (2**f.mbits - 1)
    assert ((e_field == 0) & (frac != 0)).any()  # subnormals
    zeros = vals == 0
    assert zeros.any()
    assert np.signbit(vals[zeros]).any() == f.neg_zero  # -0 where the format has it
    if not f.neg_zero:
        assert not (codes == 0x80).any() or run == "specials"


@pytest.mark.parametrize("fmt", ["ue8m0", "ue4m3"])
@pytest.mark.parametrize("run", ["finite", "tiny", "specials"])
def test_scale_vectors(fmt, run, rng):
    codes = cc.scale_vectors(rng, fmt, (16, 64, 4), run)
    nan = np.isin(codes, cc.SCALES[fmt]["nans"])
    assert nan.any() == (run == "specials")
    if run == "finite":
        if fmt == "ue8m0":
            assert {0x00, 0xFE} <= set(np.unique(codes))
        else:
            low = codes & 0x7F
            assert {0x00, 0x7E} <= set(np.unique(low))
            assert ((low >= 1) & (low <= 7)).any()  # subnormal scales
            assert (codes >= 0x80).any() and (codes < 0x80).any()  # either sign bit


def case(**kw):
    base = dict(
        api="MMABlockScale", arch="RTX Blackwell", form="f", family="f", m=16, n=8, k=32,
        out="f32", a="e4m3", b="e4m3", scale="ue8m0", block=32, packed=False, preset="mxfp8",
    )  # fmt: skip
    return cc.Case(**(base | kw))


@pytest.mark.parametrize(
    "kw",
    [
        dict(a="e2m1", b="e3m2"),
        dict(a="e5m2", b="e2m3", k=16, scale=None, block=0),
        dict(a="e2m1", b="e2m1", k=64, block=16, scale="ue4m3", packed=True),
        dict(a="e4m3fnuz", b="e5m2fnuz", m=32, n=32, k=16, scale=None, block=0),
    ],
)
def test_make_data_shapes_and_every_code(kw, rng):
    c = case(**kw)
    tiles = cc.tiles_for(c, 4096)
    assert tiles["finite"] * c.m * c.n >= 4096
    for run in ("finite", "tiny", "specials", "probes"):
        d = cc.make_data(rng, c, tiles[run] if run != "probes" else 1, run)
        t = d.a.shape[0]
        assert d.a.shape == (t, c.m, c.k) and d.b.shape == (t, c.k, c.n)
        assert d.c.shape == (t, c.m, c.n)
        assert d.c.dtype == (np.float32 if c.out == "f32" else np.float16)
        if c.scale:
            assert d.sa.shape == (t, c.m, c.k // c.block)
            assert d.sb.shape == (t, c.k // c.block, c.n)
        else:
            assert d.sa is None and d.sb is None
        if run == "probes":  # every finite code: rows 4.. of A, columns 2.. of B
            fa, fb = cc.CODES[c.a], cc.CODES[c.b]
            in_a, in_b = set(np.unique(d.a[0, 4:])), set(np.unique(d.b[0, :, 2:]))
            if d.a[0, 4:].size >= len(fa.finite_codes()):
                assert in_a == set(fa.finite_codes())
            if d.b[0, :, 2:].size >= len(fb.finite_codes()):
                assert in_b == set(fb.finite_codes())
            if c.a == c.b:
                assert in_a | in_b == set(fa.finite_codes())
        if run != "specials":
            assert cc.CODES[c.a].finite(d.a).all() and cc.CODES[c.b].finite(d.b).all()


FORMS = [
    ("WGMMA", "Hopper", "m64n8k32.f32.e4m3.e5m2"),
    ("WGMMA", "Hopper", "m64n32k32.f32.e4m3.e5m2"),
    ("WGMMA", "Hopper", "m64n8k16.f32.f16.f16"),
    ("MMA", "Ada Lovelace", "m16n8k32.f16.e5m2.e4m3.f16"),
    ("MMA", "RTX Blackwell", "m16n8k32.f16.e5m2.e4m3.f16"),
    ("MMA", "RTX Blackwell", "m16n8k32.kind::f8f6f4.f32.e2m1.e3m2.f32"),
    ("MMA", "Ampere", "m16n8k16.f32.bf16.bf16.f32"),
    ("TCGen05MMA", "Blackwell", "m128n8k32.kind::f8f6f4.f16.e2m3.e4m3"),
    ("TCGen05MMA", "Blackwell", "m64n16k32.kind::f8f6f4.f16.e2m3.e4m3"),
    ("MMABlockScale", "RTX Blackwell", "m16n8k32.kind::mxf8f6f4.block32.f32.e2m1.e5m2.f32.ue8m0"),
    ("MMABlockScale", "RTX Blackwell", "m16n8k64.kind::mxf4.block32.f32.e2m1.e2m1.f32.ue8m0"),
    ("TCGen05MMABlockScale", "Blackwell", "m128n8k64.kind::mxf4nvf4.block16.f32.e2m1.e2m1.ue4m3"),
    ("TCGen05MMABlockScale", "Blackwell", "m128n8k64.kind::mxf4nvf4.block16.f32.e2m1.e2m1.ue8m0"),
    ("MFMA", "CDNA3", "f32_32x32x16_fp8_bf8"),
    ("MFMA", "CDNA3", "f32_16x16x16_f16"),
]


def test_derive_cases():
    cases, unclaimed = cc.derive_cases(FORMS, 4096)
    got = {(c.api, c.arch, c.preset, c.form, c.a, c.b, c.out, c.scale, c.block, c.packed, c.changes)
           for c in cases}  # fmt: skip
    assert got == {
        ("WGMMA", "Hopper", "h100", "m64n32k32.f32.e4m3.e5m2", "e4m3", "e5m2", "f32", None, 0,
         False, ()),
        ("MMA", "Ada Lovelace", "ada", "m16n8k32.f16.e5m2.e4m3.f16", "e5m2", "e4m3", "f16", None,
         0, False, ()),
        ("MMA", "RTX Blackwell", "b200-tcgen05", "m16n8k32.f16.e5m2.e4m3.f16", "e5m2", "e4m3",
         "f16", None, 0, False, ()),
        ("MMA", "RTX Blackwell", "b200-tcgen05", "m16n8k32.kind::f8f6f4.f32.e2m1.e3m2.f32", "e2m1",
         "e3m2", "f32", None, 0, False, ()),
        ("TCGen05MMA", "Blackwell", "b200-tcgen05", "m64n16k32.kind::f8f6f4.f16.e2m3.e4m3", "e2m3",
         "e4m3", "f16", None, 0, False, ()),
        ("MMABlockScale", "RTX Blackwell", "mxfp8",
         "m16n8k32.kind::mxf8f6f4.block32.f32.e2m1.e5m2.f32.ue8m0", "e2m1", "e5m2", "f32", "ue8m0",
         32, False, ()),
        ("MMABlockScale", "RTX Blackwell", "b200-mxf4",
         "m16n8k64.kind::mxf4.block32.f32.e2m1.e2m1.f32.ue8m0", "e2m1", "e2m1", "f32", "ue8m0", 32,
         True, ()),
        ("TCGen05MMABlockScale", "Blackwell", "b200-nvfp4",
         "m128n8k64.kind::mxf4nvf4.block16.f32.e2m1.e2m1.ue4m3", "e2m1", "e2m1", "f32", "ue4m3", 16,
         True, ()),
        ("TCGen05MMABlockScale", "Blackwell", "b200-mxf4",
         "m128n8k64.kind::mxf4nvf4.block16.f32.e2m1.e2m1.ue8m0", "e2m1", "e2m1", "f32", "ue8m0", 16,
         True, (("scale_block", 16),)),
        ("MFMA", "CDNA3", "cdna3", "f32_32x32x16_fp8_bf8", "e4m3fnuz", "e5m2fnuz", "f32", None, 0,
         False, ()),
    }  # fmt: skip
    fams = {c.family for c in cases}
    assert "mMnNk32.f32.{a}.{b}" in fams and "f32_32x32x16_{a}_{b}" in fams
    assert "m16n8k32.kind::f8f6f4.f32.{a}.{b}.f32" in fams
    assert set(unclaimed) == {
        ("WGMMA", "Hopper", "mMnNk16.f32.f16.f16"),
        ("MMA", "Ampere", "m16n8k16.f32.bf16.bf16.f32"),
        ("MFMA", "CDNA3", "f32_16x16x16_f16"),
    }


def test_classify():
    emu_d = np.array([0.0, 1.0, np.inf, np.nan, 2.0, 5.0, 3.0], np.float32)
    sim_d = np.array([-0.0, 1.0, 3.0, 1.0, np.nextafter(np.float32(2), np.float32(3)), 7.0,
                      np.float32(3.0)], np.float32)  # fmt: skip
    sim_d[6] = emu_d[6]
    diff, cls = cc.classify(emu_d, sim_d, "f32", 3.0, [])
    assert diff.tolist() == [True, False, True, True, True, True, False]
    assert cls[0] == cc.ZERO_SIGN and cls[2] == cc.OVERFLOW_REV and cls[3] == cc.NAN_ONE
    assert cls[4] == cc.LAST_BIT and cls[5] == cc.OTHER
    # a variant that explains element 5
    fixed = emu_d.copy()
    fixed[5] = 7.0
    _, cls = cc.classify(emu_d, sim_d, "f32", 3.0, [("v", lambda: (fixed, sim_d))])
    assert cls[5] == "v"


def test_f16_bits_and_nan():
    x = np.array([1.5, np.float32(np.nan)], np.float32)
    x[1] = np.uint32(0x7FFFFFFF).view(np.float32)
    assert cc.bits(x, "f16").tolist() == [0x3E00, 0x7FFF]
    with pytest.raises(AssertionError):
        cc.bits(np.array([1 + 2.0**-20], np.float32), "f16")
