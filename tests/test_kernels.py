"""The numba kernels equal the exact reference bit for bit: random configurations
(every field varied), random data with specials, and exhaustive single steps."""

import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emu
from emu import reference
from emu.numerics.config import MacConfig
from emu.numerics.formats import encode, formats_with_role
from tests.helpers import assert_bits_equal, console, random_scales

ACC_FORMATS = ["fp32", "e8m13", "bf16", "fp16", "e5m7", "e6m4", "e8m10"]


@st.composite
def configs(draw):
    fused = draw(st.sampled_from([1, 2, 3, 4, 8, 16, 32, "k"]))
    f = 1 if fused == "k" else fused
    kw = dict(
        a_format=draw(st.sampled_from(formats_with_role("element"))),
        b_format=draw(st.sampled_from(formats_with_role("element"))),
        fused=fused,
        align_bits=draw(st.one_of(st.integers(0, 40), st.just("exact"))),
        align_round=draw(st.sampled_from(["rz", "rne", "rna"])),
        acc_format=draw(st.sampled_from(ACC_FORMATS)),
        acc_round=draw(st.sampled_from(["rz", "rne", "ru", "rd", "rna"])),
        acc_subnormals=draw(st.booleans()),
        c_in_alignment=draw(st.booleans()),
        promote_format=draw(st.sampled_from(ACC_FORMATS)),
        promote_round=draw(st.sampled_from(["rz", "rne", "ru", "rd", "rna"])),
    )
    scaled = draw(st.booleans())
    promo = fused != "k" and draw(st.booleans())
    if scaled:
        kw["scale_apply"] = draw(
            st.sampled_from(["product", "promotion"] if promo else ["product"])
        )
        if draw(st.booleans()) and 128 % f == 0:
            kw["scale_block"] = 128
            kw["scale_b_tile"] = draw(st.sampled_from([0, 128]))
        else:
            kw["scale_block"] = f * draw(st.sampled_from([1, 2, 4]))
    else:
        kw["scale_block"] = 0
    if promo:
        if kw.get("scale_apply") == "promotion":
            kw["promote_every"] = kw["scale_block"]
        else:
            kw["promote_every"] = f * draw(st.sampled_from([1, 2, 3, 8]))
    # contract section 5.2
    kw["zero_exp"] = draw(st.one_of(st.just("drop"), st.integers(-200, 0)))
    kw["overflow"] = draw(st.sampled_from(["ieee", "inf"]))
    kw["zero_sign"] = draw(st.sampled_from(["ieee", "positive"]))
    kw["align_round"] = draw(st.sampled_from(["rz", "rne", "rna", "rd"]))
    if kw.get("scale_apply", "product") == "product" and kw["scale_block"]:
        kw["scale_format"] = draw(st.sampled_from(["ue8m0", "ue4m3"]))
        kw["scale_b_tile"] = 0
    datapath = draw(st.sampled_from(["plain", "group", "lanes", "join"]))
    if datapath == "group" and f > 1:
        g = draw(st.sampled_from([d for d in (2, 4, 8, 16) if f % d == 0] or [f]))
        bs = kw["scale_block"]
        if not bs or bs % g == 0:
            kw["group"] = g
            kw["a_format"] = draw(st.sampled_from(["e2m1", "e2m3", "e3m2", "e4m3", "e4m3fnuz"]))
    elif datapath in ("lanes", "join"):
        kw["c_in_alignment"] = False
        kw["align_bits"] = draw(st.integers(0, 30))
        if datapath == "lanes":
            kw["lanes"] = draw(st.integers(2, 4))
            kw["lane_round"] = draw(st.sampled_from(["rz", "rne", "rna", "rd", "ru"]))
        if draw(st.booleans()):
            kw["join_bits"] = draw(st.integers(0, 40))
            kw["join_round"] = draw(st.sampled_from(["rz", "rne", "rna", "rd", "ru"]))
        if draw(st.booleans()):
            kw["norm_bits"] = draw(st.integers(0, 40))
            kw["norm_round"] = draw(st.sampled_from(["rz", "rne", "rna", "rd", "ru"]))
    return MacConfig(**kw)


def fit_codes(c, fmt):
    """Codes of a narrower format: the low bits of c."""
    from emu.numerics.formats import get_format

    return c & np.uint8((1 << get_format(fmt).bits) - 1)


def random_codes(rng, shape, kind):
    """uint8 codes: 'any' (all codes), 'finite' (no NaN/Inf), 'narrow' (exponents
    close together, many cancellations), 'sub' (subnormal-heavy)."""
    c = rng.integers(0, 256, shape).astype(np.uint8)
    if kind == "narrow":
        c = (c & 0x87) | (rng.integers(6, 9, shape).astype(np.uint8) << 3)
    elif kind == "sub":
        c = c & 0x8F
    if kind != "any":
        c[(c & 0x7F) >= 0x78] &= 0xF7  # keep E < all-ones (no NaN/Inf)
    return c


def random_c(rng, shape, kind):
    c = (rng.standard_normal(shape) * 2.0 ** rng.integers(-20, 20, shape)).astype(np.float32)
    if kind == "any":
        pick = rng.random(shape)
        c[pick < 0.05] = np.float32(1e-40)  # subnormal
        c[(pick > 0.05) & (pick < 0.1)] = -0.0
        c[(pick > 0.1) & (pick < 0.12)] = np.inf
        c[(pick > 0.12) & (pick < 0.14)] = np.nan
        c[(pick > 0.14) & (pick < 0.16)] = np.float32(3.0e38)
    return c


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    cfg=configs(),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["any", "finite", "narrow", "sub"]),
    dims=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(0, 200)),
)
def test_kernel_equals_reference_random(cfg, seed, kind, dims):
    rng = np.random.default_rng(seed)
    M, N, K = dims
    a = fit_codes(random_codes(rng, (M, K), kind), cfg.a_format)
    b = fit_codes(random_codes(rng, (K, N), kind), cfg.b_format)
    c = random_c(rng, (M, N), kind)
    lo, hi = (0, 255) if kind == "any" else (100, 150)
    sa, sb = random_scales(rng, cfg, M, N, K, nan_rate=0.02 if kind == "any" else 0, lo=lo, hi=hi)
    want = reference.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg)
    got = emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg)
    assert_bits_equal(got, want, repr(cfg))


@pytest.mark.parametrize("name", list(emu.presets()))
@pytest.mark.parametrize("kind", ["finite", "narrow"])
def test_presets_equal_reference(name, kind):
    cfg = emu.preset(name)
    rng = np.random.default_rng(zlib.crc32(f"{name} {kind}".encode()))
    M, N, K = 5, 7, 300
    a = fit_codes(random_codes(rng, (M, K), kind), cfg.a_format)
    b = fit_codes(random_codes(rng, (K, N), kind), cfg.b_format)
    c = random_c(rng, (M, N), "finite")
    sa, sb = random_scales(rng, cfg, M, N, K)
    assert_bits_equal(
        emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg),
        reference.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg),
        name,
    )


@pytest.mark.slow
@pytest.mark.parametrize("fmts", [("e4m3", "e4m3"), ("e5m2", "e5m2")])
@pytest.mark.parametrize("cfgname", ["h100", "default", "fp32-seq"])
def test_exhaustive_single_products(fmts, cfgname):
    """Every pair of codes as one product in one fused step, with several accumulator
    values: each output element is one fused step (M = 256 rows of A, one code each;
    N = 256 columns of B; K = 1)."""
    cfg = emu.preset(cfgname).replace(a_format=fmts[0], b_format=fmts[1], fused=1, scale_block=0)
    a = np.arange(256, dtype=np.uint8).reshape(256, 1)
    b = np.arange(256, dtype=np.uint8).reshape(1, 256)
    for cval in [-0.0, 1.0, -3.0e-3, 1.5 * 2.0**-20, 1e-40]:
        c = np.full((256, 256), cval, dtype=np.float32)
        assert_bits_equal(
            emu.gemm(a, b, c=c, config=cfg),
            reference.gemm(a, b, c=c, config=cfg),
            f"{cfgname} c={cval}",
        )


# ------------------------------------------------------------------ float64 paths
def test_fma_chain_path_edge_values():
    """fp32-seq (float64 -> fp32 FMA chain): signed zeros, absorption next to the
    fp32 maximum, subnormal C, cancellation -- equal to the reference."""
    cfg = emu.preset("fp32-seq")

    def f(v):
        return encode("e4m3", np.array(v, dtype=np.float64))

    a = f([[448, 448, 0, 1], [-0.0, -0.0, -0.0, -0.0], [2**-9, -(2**-9), 2**-9, 0]])
    b = f([[448, 1], [448, 1], [1, 1], [-0.0, 1]])
    c = np.array([[3.4e38, -0.0], [-0.0, -0.0], [1e-40, -1e-40]], dtype=np.float32)
    want = reference.gemm(a, b, c=c, config=cfg)
    assert_bits_equal(emu.gemm(a, b, c=c, config=cfg), want)
    assert want[0, 0] == np.float32(3.4e38)  # 2 * 448**2 is below half an ulp
    assert want[1, 1] == 0 and np.signbit(want[1, 1])  # all -0 stays -0


def test_exact_step_bound_holds_and_fails():
    """exact_step_fits: E4M3 with K = 2**17 qualifies; K * amax * bmax beyond 2**53
    units of 2**-18 (K > 171196 with 448 * 448 and subnormals present) does not.  When it does not,
    float64 summation really is inexact, and the
    general kernel still equals the reference."""
    from emu.kernels.floatpath import exact_step_fits

    amax = np.array([448.0])
    lsb = np.array([-9])
    # K * 448**2 <= 2**53 * 2**-18  <=>  K <= 2**35 / 200704 = 171196.9
    assert exact_step_fits(amax, amax, lsb, lsb, 2**17)
    assert exact_step_fits(amax, amax, lsb, lsb, 171196)
    assert not exact_step_fits(amax, amax, lsb, lsb, 171197)
    # E5M2: 57344 * 57344 next to 2**-16 * 2**-16 in one dot product
    cfg = emu.preset("exact").replace(a_format="e5m2", b_format="e5m2")

    def e5(v):
        return encode("e5m2", np.array(v, dtype=np.float64))

    a = e5([[57344.0, 2.0**-16, -57344.0]])
    b = e5([[57344.0], [2.0**-16], [57344.0]])
    assert float(np.float64(57344.0**2) + 2.0**-32 - 57344.0**2) == 0.0  # float64 loses it
    got = emu.gemm(a, b, config=cfg)
    assert_bits_equal(got, reference.gemm(a, b, config=cfg))
    assert got[0, 0] == np.float32(2.0**-32)


@pytest.mark.parametrize("name", ["exact", "fp32-seq"])
def test_float_paths_random(name):
    rng = np.random.default_rng(7)
    cfg = emu.preset(name)
    for kind in ["finite", "narrow", "sub", "any"]:
        a, b = random_codes(rng, (6, 150), kind), random_codes(rng, (150, 5), kind)
        c = random_c(rng, (6, 5), kind)
        assert_bits_equal(
            emu.gemm(a, b, c=c, config=cfg), reference.gemm(a, b, c=c, config=cfg), f"{name} {kind}"
        )


@pytest.mark.slow
def test_same_bits_with_one_and_two_threads(tmp_path):
    """Row partitioning never changes results: NUMBA_NUM_THREADS=1 equals the default."""
    rng = np.random.default_rng(3)
    a = random_codes(rng, (37, 256), "finite")
    b = random_codes(rng, (256, 29), "finite")
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    for name in ["h100", "default", "exact", "fp32-seq", "deepseek-v3"]:
        cfg = emu.preset(name)
        sa, sb = random_scales(rng, cfg, 37, 29, 256)
        args = ["--a", str(tmp_path / "a.npy"), "--b", str(tmp_path / "b.npy")]
        for nm, s in (("sa", sa), ("sb", sb)):
            if s is not None:
                np.save(tmp_path / f"{nm}.npy", s)
                args += [f"--{nm}", str(tmp_path / f"{nm}.npy")]
        out = tmp_path / f"d_{name}.npy"
        code, _, err = console(
            "gemm", *args, "--preset", name, "--out", out, env={"NUMBA_NUM_THREADS": "1"}
        )
        assert code == 0, err
        assert_bits_equal(np.load(out), emu.gemm(a, b, sa=sa, sb=sb, config=cfg), name)


@pytest.mark.parametrize("align", [12, 27, 28, 29, 30])
@pytest.mark.parametrize("rne", [False, True])
def test_fast_kernel_large_step_sums(align, rne):
    """Largest products (448 * 448) in every position, all one sign: every cut term
    is close to 2**(align_bits + 2) and a step's sum to 2**(align_bits + 7)."""
    cfg = emu.preset("default").replace(
        align_bits=align, scale_block=0, align_round="rne" if rne else "rz"
    )
    rng = np.random.default_rng(align)
    a = np.full((3, 96), 0x7E, dtype=np.uint8)  # 448
    b = np.full((96, 5), 0x7E, dtype=np.uint8)
    b[rng.random(b.shape) < 0.3] = 0x7D  # 416: not all equal
    a[1] |= 0x80  # a negative row
    assert_bits_equal(emu.gemm(a, b, config=cfg), reference.gemm(a, b, config=cfg))


@pytest.mark.parametrize("name", list(emu.presets()))
def test_general_kernel_alone_equals_reference(name):
    """Every element through the general kernel (no fast path) on preset configs."""
    from emu.kernels import run
    from emu.numerics.operands import check

    cfg = emu.preset(name)
    rng = np.random.default_rng(11)
    a = fit_codes(random_codes(rng, (3, 200), "any"), cfg.a_format)
    b = fit_codes(random_codes(rng, (200, 4), "narrow"), cfg.b_format)
    c = random_c(rng, (3, 4), "any")
    sa, sb = random_scales(rng, cfg, 3, 4, 200, nan_rate=0.05)
    got = run(check(a, b, c, sa, sb, cfg), general_only=True)
    assert_bits_equal(got, reference.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg), name)


@pytest.mark.parametrize("fused", [1, 3, 32])
@pytest.mark.parametrize("acc", ["bf16", "e8m13", "fp16"])
def test_exact_alignment_on_the_fast_kernel(fused, acc):
    """align_bits = "exact" with several steps runs on the fast kernel with a window
    as wide as the data's span; equal to the reference, with C present."""
    from emu.kernels import fast_params, params

    cfg = emu.preset("fp32-seq").replace(fused=fused, acc_format=acc, acc_round="rd")
    rng = np.random.default_rng(fused)
    a, b = random_codes(rng, (4, 96), "finite"), random_codes(rng, (96, 6), "finite")
    c = random_c(rng, (4, 6), "finite")
    assert fast_params(cfg, params(cfg, 96), 96, (-6, 8), (-6, 8)) is not None
    assert_bits_equal(
        emu.gemm(a, b, c=c, config=cfg), reference.gemm(a, b, c=c, config=cfg), repr(cfg)
    )


@pytest.mark.parametrize(
    "cfg",
    [
        emu.preset("deepseek-v3").replace(
            scale_b_tile=0, scale_block=16, promote_every=16, fused=8, promote_round="rd"
        ),
        emu.preset("default").replace(
            scale_block=8, fused=8, c_in_alignment=False, acc_format="bf16", acc_round="ru"
        ),
        emu.preset("h100").replace(fused=16, align_bits="exact", acc_format="e5m7"),
    ],
    ids=["promotion", "c-outside", "exact-window"],
)
@pytest.mark.slow
def test_fast_kernel_across_row_blocks_and_column_tiles(cfg):
    """M = 37 and N = 300 cross the fast kernel's 16-row blocks and 256-column tiles
    (partial ones included); every element still equals the reference."""
    rng = np.random.default_rng(5)
    M, N, K = 37, 300, 40
    a, b = random_codes(rng, (M, K), "narrow"), random_codes(rng, (K, N), "finite")
    c = random_c(rng, (M, N), "finite")
    sa, sb = random_scales(rng, cfg, M, N, K)
    assert_bits_equal(
        emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg),
        reference.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg),
        repr(cfg),
    )


def test_norm_bits_31_rounds_from_every_bit():
    """cdna3 with bf8 x bf8, one 16-k step (a case from make crosscheck): the joined
    sum -5260683007 is floored to 31 bits (-5260683008, exactly between two fp32
    values) and rounded by rne to 0xcf9cc7d4 (MMA-Sim's value).  The Kulisch
    rounding once kept about 30 bits when the top limb held one or two: 0xcf9cc7d3."""
    cfg = emu.preset("cdna3").replace(a_format="e5m2fnuz", b_format="e5m2fnuz")
    a = bytes.fromhex("00000242 96f9c3c5 a8c4bb3c 49bcc4c5".replace(" ", ""))
    b = bytes.fromhex("c248fbbd 6926108d 2b4103c6 413b4b02".replace(" ", ""))
    A = np.frombuffer(a, np.uint8).reshape(1, 16)
    B = np.frombuffer(b, np.uint8).reshape(16, 1)
    C = np.array([[0xCF9CC7D3]], np.uint32).view(np.float32)
    for d in (reference.gemm(A, B, c=C, config=cfg), emu.gemm(A, B, c=C, config=cfg)):
        assert d.view(np.uint32)[0, 0] == 0xCF9CC7D4


@pytest.mark.parametrize("mode", ["rne", "rd", "rz"])
@pytest.mark.parametrize("promote", [0, 64])
def test_all_zero_steps_signs_on_the_fast_kernel(mode, promote):
    """Steps whose products are all zero (zeros of both signs, whole rows and
    columns, C = +-0) get the IEEE sign rule of 2.1 step 6 inside the fast kernel,
    bit-equal to the reference (the kernel selected is the fast one)."""
    from emu.kernels.dispatch import FAST, select

    cfg = emu.preset("default").replace(acc_round=mode, promote_every=promote, scale_block=0)
    assert select(cfg, 256) is FAST
    rng = np.random.default_rng(5)
    a = (rng.integers(0, 2, (6, 256)) << 7).astype(np.uint8)  # +0 and -0 codes
    b = (rng.integers(0, 2, (256, 9)) << 7).astype(np.uint8)
    a[0] = 0x80  # every product of row 0 negative or positive by the sign of b
    b[:, 0] = 0x80
    a[1, 200] = 0x38  # one non-zero product late in row 1
    c = np.where(rng.random((6, 9)) < 0.5, -0.0, 0.0).astype(np.float32)
    assert_bits_equal(
        emu.gemm(a, b, c=c, config=cfg), reference.gemm(a, b, c=c, config=cfg), repr(cfg)
    )


@pytest.mark.parametrize("align", [13, 25, 28, 29, 40, 41])
@pytest.mark.parametrize("rnd", ["rz", "rne"])
def test_float32_cut_at_its_limits(align, rnd):
    """The fast kernel cuts narrow data in float32 (emu/kernels/fast.py _cut_sum32),
    summing the cut terms in int32 (flushed to float64 every (2**31 - 1) >>
    (align_bits + 2) products) while align_bits <= 28: the largest products (448 *
    448, all one sign, so the int32 sums are largest) and the smallest ones beside
    them, at the limits (align 28, 40) and past them (29: float64 sums; 41: the
    float64 cut), equal the reference."""
    cfg = emu.preset("h100").replace(align_bits=align, align_round=rnd, acc_format="fp32")
    a = np.full((3, 96), 0x7E, np.uint8)  # 448
    b = np.full((96, 4), 0x7E, np.uint8)
    a[1, ::3] = 0x01  # 2**-9: products far below the quantum
    b[::5, 2] = 0x81  # -2**-9
    a[2] = 0x39  # 1.125: ties at the cut for rne
    c = np.array([[1e30, -0.0, 3.0, 2.0**-126]] * 3, np.float32)
    assert_bits_equal(
        emu.gemm(a, b, c=c, config=cfg), reference.gemm(a, b, c=c, config=cfg), repr(cfg)
    )


@pytest.mark.parametrize("seed", range(12))
def test_grouped_kernel_equals_reference(seed):
    """Random group configurations the grouped kernel takes (UE8M0 and UE4M3 scales
    with zero and NaN codes, C in or out of the alignment, the NVIDIA conventions or
    IEEE ones, several accumulators and K that leave a short last group): equal to
    the reference bit for bit."""
    from emu.kernels.dispatch import GROUPED, select

    rng = np.random.default_rng(1000 + seed)
    fmt = ["e2m1", "e2m3", "e3m2", "e4m3"][seed % 4]
    fused, group = [(64, 16), (32, 8), (16, 4), (32, 32)][seed % 4]
    block = [2 * group, group, fused, 0][(seed // 4) % 4]  # nests with fused and group
    kw = dict(a_format=fmt, b_format="e2m1" if seed % 3 == 0 else fmt, fused=fused, group=group)
    kw.update(scale_block=block, align_bits=int(rng.integers(0, 21)))
    if block:
        kw["scale_format"] = "ue4m3" if seed % 2 else "ue8m0"
    if seed % 3:
        kw.update(zero_exp=-13, overflow="inf", zero_sign="positive")
    kw.update(
        acc_format=["fp32", "e8m13", "fp16", "bf16"][seed % 4],
        acc_round=["rz", "rne", "ru", "rd"][(seed // 3) % 4],
        c_in_alignment=seed % 5 != 0,
        align_round="rne" if seed % 7 == 0 else "rz",
    )
    cfg = emu.preset("b200-mxf4").replace(**kw)
    K = 3 * fused + 5
    assert select(cfg, K) is GROUPED, GROUPED.refusal(cfg, K)
    a = fit_codes(random_codes(rng, (6, K), "finite"), cfg.a_format)
    b = fit_codes(random_codes(rng, (K, 7), "finite"), cfg.b_format)
    a[0] = 0  # a row of zeros, some of them negative
    a[0, ::3] = np.uint8(1 << (emu.numerics.formats.get_format(fmt).bits - 1))  # -0
    c = random_c(rng, (6, 7), "finite")
    c[1, :] = -0.0
    sa, sb = random_scales(rng, cfg, 6, 7, K, nan_rate=0.05, lo=110, hi=140)
    if sa is not None and cfg.scale_format == "ue4m3":
        sa[2, 0] = 0x00  # a zero scale: its groups are zero terms
    assert_bits_equal(
        emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg),
        reference.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg),
        repr(cfg),
    )


@pytest.mark.parametrize("seed", range(12))
def test_lanes_kernel_equals_reference(seed):
    """Random lanes configurations the lanes kernel takes (2 to 4 lanes, every cut
    mode of lanes, join and normalisation, join and norm widths, fnuz and OCP FP8
    operands, C over a wide range with zeros, subnormals and a short last step):
    equal to the reference bit for bit."""
    from emu.kernels.dispatch import LANES, select

    rng = np.random.default_rng(2000 + seed)
    cuts = ["rz", "rne", "rd", "ru"]
    fa, fb = [("e4m3fnuz", "e5m2fnuz"), ("e5m2fnuz", "e5m2fnuz"), ("e4m3", "e5m2")][seed % 3]
    A = int(rng.integers(4, 31))
    cfg = emu.preset("cdna3").replace(
        a_format=fa,
        b_format=fb,
        fused=[16, 8, 12, 32][seed % 4],
        lanes=2 + seed % 3,
        align_bits=A,
        align_round=["rz", "rne", "rd"][seed % 3],
        lane_round=cuts[seed % 4],
        join_bits=A + int(rng.integers(0, 9)),
        join_round=cuts[(seed // 2) % 4],
        norm_bits=int(rng.integers(10, 40)),
        norm_round=cuts[(seed // 3) % 4],
        acc_format=["fp32", "bf16", "fp16"][seed % 3],
        acc_round=["rne", "rz", "rd", "ru"][(seed // 4) % 4],
        overflow="inf" if seed % 2 else "ieee",
    )
    K = 3 * cfg.fused + 5
    assert select(cfg, K) is LANES, LANES.refusal(cfg, K)
    a = random_codes(rng, (6, K), "finite")
    b = random_codes(rng, (K, 7), "narrow")
    for x in (a, b):
        x[x == 0x80] = 0  # the fnuz NaN code (those rows go to the general kernel)
    a[0, ::2] = 0
    c = random_c(rng, (6, 7), "finite")
    c[1] = [0.0, -0.0, 1e-40, -1e-40, 3e38, -(2.0**-20), 2.0**30]
    assert_bits_equal(
        emu.gemm(a, b, c=c, config=cfg), reference.gemm(a, b, c=c, config=cfg), repr(cfg)
    )
