"""fp8emu compare: metrics, ULP distances, the exact references, the command line."""

import json
import math

import numpy as np
import pytest

import emu
from emu.errors import UsageError
from emu.numerics.formats import encode
from emu.toolkit.compare import (
    References,
    compare,
    from_codes,
    generate,
    quantize_for,
    run_emulator,
)
from emu.toolkit.metrics import (
    error_metrics,
    result_format,
    ulp_distance,
    ulp_histogram,
    ulp_ordinal,
)
from tests.helpers import bits, cli


def e4m3(*vals):
    return encode("e4m3", np.array(vals, dtype=np.float64))


# ------------------------------------------------------------------ ULP distance
def test_ulp_ordinal_of_fp32_is_its_bit_pattern(rng):
    w = rng.integers(0, 0x7F800000, 2000, dtype=np.uint32)
    x = w.view(np.float32)
    assert np.array_equal(ulp_ordinal(x, "fp32"), w.astype(np.float64))
    assert np.array_equal(ulp_ordinal(-x, "fp32"), -w.astype(np.float64))


def test_ulp_ordinal_of_e5m2_is_its_code():
    codes = np.arange(0x7D, dtype=np.uint8)  # +0 ... +Inf (0x7C)
    vals = emu.numerics.formats.decode("e5m2", codes)
    assert np.array_equal(ulp_ordinal(vals, "e5m2"), codes.astype(np.float64))


def test_ulp_distance_special_values():
    f = "e8m13"
    assert ulp_distance(0.0, -0.0, f) == 0
    assert ulp_distance(np.nan, np.nan, f) == 0
    assert ulp_distance(np.nan, 1.0, f) == math.inf
    big = (2 - 2.0**-13) * 2.0**127  # e8m13 max finite
    assert ulp_distance(np.inf, big, f) == 1
    assert ulp_distance(1.0, 1 + 2.0**-13, f) == 1
    assert ulp_distance(1.0, 1 + 2.0**-15, f) == 0.25  # off the grid
    assert ulp_distance(-(2.0**-139), 2.0**-139, f) == 2  # smallest subnormals
    h = ulp_histogram(np.array([0, 0, 1, 2.5, 3, 300, np.inf]))
    assert h["0"] == 2 and h["1"] == 1 and h["3-4"] == 2 and h["257-4096"] == 1
    assert h["nan"] == 1


def test_result_format():
    assert result_format(emu.preset("h100")).name == "e8m13"
    assert result_format(emu.preset("deepseek-v3")).name == "fp32"


# ------------------------------------------------------------------ exact references
def test_exact_reference_equals_exact_preset(rng):
    """The fsum-based exact result rounded once equals emu.preset('exact') bit for bit,
    for e4m3 and e5m2 operands, with and without block scales, specials included."""
    for fa, fb, bs in (("e4m3", "e4m3", 32), ("e5m2", "e5m2", 0), ("e4m3", "e5m2", 32)):
        cfg = emu.preset("exact").replace(a_format=fa, b_format=fb, scale_block=bs)
        M, N, K = 5, 4, 64
        a = rng.integers(0, 256, (M, K)).astype(np.uint8)
        b = rng.integers(0, 256, (K, N)).astype(np.uint8)
        a[1:] = np.where(np.isfinite(emu.numerics.formats.decode(fa, a[1:])), a[1:], 0x38)
        b[:, 1:] = np.where(np.isfinite(emu.numerics.formats.decode(fb, b[:, 1:])), b[:, 1:], 0x38)
        sa = sb = None
        if bs:
            sa = rng.integers(90, 170, (M, K // bs)).astype(np.uint8)
            sb = rng.integers(90, 170, (K // bs, N)).astype(np.uint8)
        c = rng.standard_normal((M, N)).astype(np.float32)
        refs = References(from_codes(cfg, a, b, sa, sb), c)
        d = emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg)
        want = refs.on_grid("exact", "fp32").astype(np.float32)
        assert np.array_equal(bits(d)[~np.isnan(d)], bits(want)[~np.isnan(d)])
        assert np.array_equal(np.isnan(d), np.isnan(want))
        d2 = emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg.replace(acc_format="bf16"))
        assert np.all(ulp_distance(d2, refs.on_grid("exact", "bf16"), "bf16") == 0)


def test_exact_reference_breaks_fp64_midpoints_by_the_residual():
    """c = 1, products 2**-24 (block 0) and +-2**-80 (block 1): the float64 sum is the
    fp32 midpoint 1 + 2**-24; the residual decides, as the exact preset does."""
    cfg = emu.preset("exact").replace(scale_block=32)
    for sign, want in ((1, 1 + 2.0**-23), (-1, 1.0)):
        a = np.zeros((1, 64), np.uint8)
        b = np.zeros((64, 1), np.uint8)
        a[0, 0] = b[0, 0] = a[0, 32] = 0x38
        b[32, 0] = 0x38 if sign > 0 else 0xB8
        sa = np.array([[127 - 12, 127 - 40]], np.uint8)
        sb = np.array([[127 - 12], [127 - 40]], np.uint8)
        c = np.ones((1, 1), np.float32)
        refs = References(from_codes(cfg, a, b, sa, sb), c)
        assert refs.value("exact")[0, 0] == 1 + 2.0**-24
        assert refs.value("exact-fp32")[0, 0] == want
        assert emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg)[0, 0] == want


def test_exact_reference_specials():
    cfg = emu.preset("exact").replace(a_format="e5m2", b_format="e5m2")
    inf, ninf, one, zero = 0x7C, 0xFC, 0x3C, 0x00
    a = np.array([[inf, one], [inf, zero], [inf, ninf], [one, one]], np.uint8)
    b = np.array([[one], [one]], np.uint8)
    b2 = np.array([[zero], [one]], np.uint8)
    refs = References(from_codes(cfg, a, np.hstack([b, b2])), None)
    v = refs.value("exact")
    assert v[0, 0] == np.inf and np.isnan(v[0, 1])  # Inf * 0 -> NaN
    assert v[1, 0] == np.inf and np.isnan(v[1, 1])
    assert np.isnan(v[2, 0])  # +Inf + -Inf
    assert v[3, 0] == 2 and v[3, 1] == 1


# ------------------------------------------------------------------ metrics
def test_error_metrics_hand_checked():
    e = 3 * 2.0**-15
    d = np.array([1.0, 1.0])
    r = np.array([1 + e, 1.0])
    m = error_metrics(d, r, "e8m13")
    assert m["max_abs"] == e
    assert m["max_rel"] == e / (1 + e)
    assert m["median_rel"] == e / (1 + e) / 2
    assert m["normwise"] == pytest.approx(e / math.hypot(1 + e, 1), rel=1e-15)
    assert m["bit_exact"] == 1 and m["max_ulp"] == 1
    assert m["ulp_hist"]["0"] == 1 and m["ulp_hist"]["1"] == 1
    z = error_metrics(np.array([0.0, 1.0, np.nan]), np.array([0.0, 0.0, 1.0]), "fp32")
    assert z["max_rel"] == math.inf and z["special_mismatch"] == 1
    assert z["ulp_hist"]["nan"] == 1


# ------------------------------------------------------------------ inputs
def test_generate_distributions():
    x, y = generate("normal", 3, 5, 7, seed=1)
    assert x.shape == (3, 7) and y.shape == (7, 5) and x.dtype == np.float32
    x2, _ = generate("normal", 3, 5, 7, seed=1)
    assert np.array_equal(x, x2)
    u, _ = generate("uniform", 50, 1, 40, mean=2.0)
    assert u.min() >= 1.0 and u.max() <= 3.0
    ln, _ = generate("lognormal", 20, 1, 50)
    assert ln.min() > 0
    o, _ = generate("outliers", 100, 1, 1000, seed=3)
    assert np.abs(o).max() > 50
    with pytest.raises(UsageError):
        generate("cauchy", 1, 1, 1)


def test_quantized_layouts_are_exact_against_the_exact_preset():
    """Under exact numerics the emulator equals the exact-fp32 reference for both the
    per-tensor layout (scale_block = 0) and 1x32 / 32x1 block scales."""
    x, y = generate("lognormal", 6, 5, 96, seed=2)
    c = np.full((6, 5), 0.5, np.float32)
    cfgs = [("pt", emu.preset("exact")), ("blk", emu.preset("exact").replace(scale_block=32))]
    rows = compare(cfgs, x=x, y=y, c=c, scale_mode="ceil", references=("exact-fp32",))
    for r in rows:
        assert r["bit_exact"] == 30 and r["max_abs"] == 0.0
    q = quantize_for(emu.preset("h100"), x, y, "floor")
    assert q.sa is None and q.post_exp != 0
    d = run_emulator(emu.preset("exact"), q)
    R = References(q)
    assert np.array_equal(d.astype(np.float64), R.value("exact-fp32"))


# ------------------------------------------------------------------ command line
def _hand_case(tmp_path):
    """A = [1, 1.5*2^-7], B = [[1, 1], [2^-7, 0]]: D = [1 + 3*2^-15, 1] exactly."""
    a = e4m3(1.0, 1.5 * 2**-7).reshape(1, 2)
    b = e4m3(1.0, 1.0, 2**-7, 0.0).reshape(2, 2)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    return str(tmp_path / "a.npy"), str(tmp_path / "b.npy")


def test_cli_hand_checked_case(tmp_path):
    a, b = _hand_case(tmp_path)
    out = str(tmp_path / "r.json")
    code, text, _ = cli(
        "compare",
        "--a",
        a,
        "--b",
        b,
        "--preset",
        "h100",
        "--preset",
        "exact",
        "--json",
        out,
    )
    assert code == 0
    assert "h100" in text and "exact-fp32" in text and "numpy-fp32" in text
    doc = json.loads((tmp_path / "r.json").read_text())
    rows = {(r["config"], r["reference"]): r for r in doc["results"]}
    e = 3 * 2.0**-15
    for ref in ("exact", "exact-fp32", "numpy-fp32"):
        h = rows[("h100", ref)]  # h100 truncates the small product: D = [1, 1]
        assert h["result_format"] == "e8m13"
        assert h["max_abs"] == e
        assert h["max_rel"] == e / (1 + e)
        assert h["median_rel"] == e / (1 + e) / 2
        assert h["normwise"] == pytest.approx(e / math.hypot(1 + e, 1), rel=1e-15)
        assert h["bit_exact"] == 1 and h["n"] == 2
        assert h["ulp_hist"]["0"] == 1 and h["ulp_hist"]["1"] == 1
        x = rows[("exact", ref)]
        assert x["max_abs"] == 0 and x["bit_exact"] == 2 and x["ulp_hist"]["0"] == 2
    assert doc["inputs"]["kind"] == "codes"
    assert doc["configs"]["h100"]["align_bits"] == 13


def test_cli_generated_runs_and_writes_strict_json(tmp_path):
    out = tmp_path / "r.json"
    code, text, _ = cli(
        "compare",
        "--m",
        "4",
        "--n",
        "3",
        "--k",
        "64",
        "--preset",
        "default",
        "--set",
        "align_bits=8",
        "--reference",
        "exact",
        "--json",
        str(out),
    )
    assert code == 0 and "default[align_bits=8]" in text
    doc = json.loads(out.read_text())  # strict JSON (no NaN / Infinity)
    assert len(doc["results"]) == 1 and doc["results"][0]["n"] == 12
    assert doc["inputs"]["k"] == 64


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--a", "x.npy"], "give both --a and --b"),
        (["--preset", "nope", "--k", "8"], "unknown preset"),
        (["--sa", "s.npy"], "--sa/--sb need"),
        (["--k", "0"], "--k must be >= 1"),
        (["--json", "/nonexistent/dir/r.json"], "does not exist"),
    ],
)
def test_cli_usage_errors(args, msg):
    code, _, err = cli("compare", "--m", "2", "--n", "2", *args)
    assert code == 2 and msg in err and err.startswith("fp8emu: error:")


def test_cli_help_has_examples():
    code, text, _ = cli("compare", "--help")
    assert code == 0 and "Examples:" in text and "fp8emu compare --preset h100" in text


def test_code_inputs_with_128x128_tiles(rng):
    """Codes with DeepSeek-style B tiles: the exact preset with the same layout equals
    the exact-fp32 reference; deepseek-v3 is close to it but not exact."""
    M, N, K = 3, 130, 256
    a = rng.integers(0, 0x7F, (M, K)).astype(np.uint8)
    b = rng.integers(0, 0x7F, (K, N)).astype(np.uint8)
    sa = rng.integers(120, 135, (M, 2)).astype(np.uint8)
    sb = rng.integers(120, 135, (2, 2)).astype(np.uint8)
    ex = emu.preset("exact").replace(scale_block=128, scale_b_tile=128)
    rows = compare(
        [("ex", ex), ("ds", emu.preset("deepseek-v3"))],
        codes=(a, b, sa, sb),
        references=("exact-fp32",),
    )
    assert rows[0]["bit_exact"] == M * N and rows[0]["max_abs"] == 0
    assert rows[1]["bit_exact"] < M * N and 0 < rows[1]["max_rel"] < 1e-2


def test_cli_fail_above_limits():
    """--fail-above: h100 at K=1024 with mean-1 data exceeds 1e-3 max rel error against
    the exact result (exit 1, the offending metric named); deepseek-v3 stays below."""
    common = ["--m", "8", "--n", "8", "--k", "1024", "--mean", "1", "--reference", "exact"]
    code, out, err = cli("compare", "--preset", "h100", *common, "--fail-above", "max_rel=1e-3")
    assert code == 1
    assert "h100: max_rel" in err and "> 1.000e-03" in err
    code, out, err = cli(
        "compare", "--preset", "deepseek-v3", *common, "--fail-above", "max_rel=1e-3"
    )
    assert code == 0
    code, out, err = cli("compare", "--preset", "h100", *common, "--fail-above", "max_rel")
    assert code == 2 and "expected METRIC=NUMBER" in err


def test_cli_generation_options_do_not_go_with_files(tmp_path):
    a = e4m3(1.0, 2.0).reshape(1, 2)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", a.reshape(2, 1))
    code, out, err = cli(
        "compare",
        "--a",
        str(tmp_path / "a.npy"),
        "--b",
        str(tmp_path / "b.npy"),
        "--k",
        "64",
        "--seed",
        "3",
    )
    assert code == 2
    assert err.strip() == (
        "fp8emu: error: --k/--seed describe generated inputs; they do not go with --a/--b"
    )
