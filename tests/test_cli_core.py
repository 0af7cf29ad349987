"""The core CLI (fp8emu presets / gemm / quantize): outputs equal the Python API bit
for bit; bad input gives exit status 2 and one line `fp8emu: error: ...`, no
traceback, and leaves no output file behind."""

import numpy as np
import pytest

import emu
from emu import reference
from emu.numerics.config import FIELD_NAMES, MacConfig
from emu.numerics.quant import quantize
from tests.helpers import assert_bits_equal, cli, cli_ok, console, random_scales, temp_files


def data(tmp_path, cfg, M=5, N=6, K=70, seed=0):
    """Random finite operands for cfg, saved as .npy; returns (paths, arrays)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (M, K)).astype(np.uint8)
    b = rng.integers(0, 256, (K, N)).astype(np.uint8)
    for x in (a, b):  # no NaN/Inf codes: keep the data finite
        x[(x & 0x7F) >= 0x78] &= 0xF7
    c = (rng.standard_normal((M, N)) * 100).astype(np.float32)
    sa, sb = random_scales(rng, cfg, M, N, K)
    arrays = dict(a=a, b=b, c=c, sa=sa, sb=sb)
    paths = {}
    for k, v in arrays.items():
        if v is not None:
            paths[k] = tmp_path / f"{k}.npy"
            np.save(paths[k], v)
    return paths, arrays


def gemm_args(paths, out):
    args = ["gemm"]
    for k, p in paths.items():
        args += [f"--{k}", p]
    return args + ["--out", out]


# ------------------------------------------------------------------ presets
def test_presets_lists_every_preset_and_field():
    out = cli_ok("presets")
    lines = out.splitlines()
    names = list(emu.presets())
    assert lines[0].split() == ["field", *names]
    for i, fld in enumerate(FIELD_NAMES):
        row = lines[1 + i].split()
        assert row[0] == fld
        want = [
            str(getattr(emu.preset(n), fld)).lower()
            if isinstance(getattr(emu.preset(n), fld), bool)
            else str(getattr(emu.preset(n), fld))
            for n in names
        ]
        assert row[1:] == want, fld
    for name, desc in emu.presets().items():
        assert f"{name}: {desc}" in lines
    assert names[:8] == [  # the first eight keep their cfgp codes; new ones are appended
        "default",
        "exact",
        "fp32-seq",
        "h100",
        "ada",
        "b200",
        "mxfp8",
        "deepseek-v3",
    ]


@pytest.mark.parametrize("name", list(emu.presets()))
def test_presets_toml_round_trips_through_config(name, tmp_path):
    text = cli_ok("presets", "--toml", name)
    assert text == emu.preset(name).to_toml()
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    assert MacConfig.from_toml(p) == emu.preset(name)
    if name in ("h100", "deepseek-v3"):  # and gemm --config == gemm --preset
        paths, _ = data(tmp_path, emu.preset(name), K=300)
        cli_ok(*gemm_args(paths, tmp_path / "d1.npy"), "--config", p)
        cli_ok(*gemm_args(paths, tmp_path / "d2.npy"), "--preset", name)
        assert_bits_equal(np.load(tmp_path / "d1.npy"), np.load(tmp_path / "d2.npy"))


# ------------------------------------------------------------------ gemm
@pytest.mark.parametrize("name", ["default", "h100", "deepseek-v3", "mxfp8", "exact"])
def test_gemm_writes_the_kernel_bits(name, tmp_path):
    cfg = emu.preset(name)
    paths, arr = data(tmp_path, cfg, K=300, seed=len(name))
    out = tmp_path / "d.npy"
    assert cli_ok(*gemm_args(paths, out), "--preset", name) == ""
    d = np.load(out)
    assert d.dtype == np.float32 and d.shape == (5, 6)
    assert_bits_equal(
        d, emu.gemm(arr["a"], arr["b"], c=arr["c"], sa=arr["sa"], sb=arr["sb"], config=cfg)
    )


def test_gemm_default_without_c_and_scales(tmp_path):
    paths, arr = data(tmp_path, emu.preset("h100"), K=64)
    out = tmp_path / "d.npy"
    cli_ok("gemm", "--a", paths["a"], "--b", paths["b"], "--out", out)
    assert_bits_equal(np.load(out), emu.gemm(arr["a"], arr["b"]))  # default machine


def test_gemm_set_overrides(tmp_path):
    cfg = emu.preset("h100")
    paths, arr = data(tmp_path, cfg, K=256, seed=3)
    sets = ["--set", "align_bits=16", "--set", "acc_round=rne", "--set", "fused=16"]
    cli_ok(*gemm_args(paths, tmp_path / "s.npy"), "--preset", "h100", *sets)
    cli_ok(*gemm_args(paths, tmp_path / "h.npy"), "--preset", "h100")
    want = emu.gemm(
        arr["a"], arr["b"], c=arr["c"], config=cfg.replace(align_bits=16, acc_round="rne", fused=16)
    )
    got = np.load(tmp_path / "s.npy")
    assert_bits_equal(got, want)
    assert not np.array_equal(got.view(np.uint32), np.load(tmp_path / "h.npy").view(np.uint32))


@pytest.mark.parametrize("name", ["h100", "deepseek-v3", "fp32-seq"])
def test_gemm_reference_flag_equals_kernel(name, tmp_path):
    cfg = emu.preset(name)
    paths, arr = data(tmp_path, cfg, M=2, N=3, K=140, seed=9)
    cli_ok(*gemm_args(paths, tmp_path / "r.npy"), "--preset", name, "--reference")
    cli_ok(*gemm_args(paths, tmp_path / "k.npy"), "--preset", name)
    r = np.load(tmp_path / "r.npy")
    assert_bits_equal(r, np.load(tmp_path / "k.npy"))
    assert_bits_equal(
        r, reference.gemm(arr["a"], arr["b"], c=arr["c"], sa=arr["sa"], sb=arr["sb"], config=cfg)
    )


def test_gemm_accepts_ml_dtypes_operands(tmp_path):
    # np.save writes an ml_dtypes float8 array as raw bytes ('|V1'); those are codes
    import ml_dtypes

    paths, arr = data(tmp_path, emu.preset("h100"), K=40)
    np.save(paths["a"], arr["a"].view(ml_dtypes.float8_e4m3fn))
    assert np.load(paths["a"]).dtype == np.dtype("V1")
    cli_ok(*gemm_args(paths, tmp_path / "d.npy"), "--preset", "h100")
    assert_bits_equal(
        np.load(tmp_path / "d.npy"),
        emu.gemm(arr["a"], arr["b"], c=arr["c"], config=emu.preset("h100")),
    )


# ------------------------------------------------------------------ quantize
@pytest.mark.parametrize(
    "fmt,block,mode",
    [
        ("e4m3", "1x128", "floor"),
        ("e4m3", "1x32", "ceil"),
        ("e5m2", "128x128", "rceil"),
        ("e4m3", "128x1", "even"),
    ],
)
def test_quantize_writes_codes_and_scales(fmt, block, mode, tmp_path):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((130, 300)) * 2.0 ** rng.integers(-20, 20, (130, 1))).astype(
        np.float32
    )
    x[3, 7] = np.nan
    np.save(tmp_path / "x.npy", x)
    out, sc = tmp_path / "q.npy", tmp_path / "s.npy"
    cli_ok(
        "quantize",
        "--x",
        tmp_path / "x.npy",
        "--format",
        fmt,
        "--block",
        block,
        "--scale-mode",
        mode,
        "--out",
        out,
        "--scales",
        sc,
    )
    br, bc = (int(v) for v in block.split("x"))
    codes, scales = quantize(x, fmt, (br, bc), mode)
    got_c, got_s = np.load(out), np.load(sc)
    assert got_c.dtype == np.uint8 and got_s.dtype == np.uint8
    assert np.array_equal(got_c, codes) and np.array_equal(got_s, scales)
    assert got_s.shape == (-(-130 // br), -(-300 // bc))


def test_version():
    out = cli_ok("--version")
    assert out.strip() == f"fp8emu, version {emu.__version__}"


# ------------------------------------------------------------------ bad input
@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "A.npy", rng.integers(0, 0x70, (4, 64)).astype(np.uint8))
    np.save(tmp_path / "B.npy", rng.integers(0, 0x70, (64, 3)).astype(np.uint8))
    np.save(tmp_path / "B63.npy", np.zeros((63, 3), np.uint8))
    np.save(tmp_path / "F64.npy", np.zeros((4, 64), np.float64))
    np.save(tmp_path / "C64.npy", np.zeros((4, 3), np.float64))
    np.save(tmp_path / "SA.npy", np.full((4, 2), 127, np.uint8))
    np.save(tmp_path / "X.npy", rng.standard_normal((4, 64)).astype(np.float32))
    np.save(tmp_path / "X1.npy", np.zeros(5, np.float32))
    np.save(tmp_path / "Xi.npy", np.zeros((2, 2), np.int32))
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "bad.toml").write_text("fused = = 1\n")
    (tmp_path / "text.npy").write_text("not an array")
    return tmp_path


GEMM_OK = ["gemm", "--a", "A.npy", "--b", "B.npy"]
QUANT_OK = ["quantize", "--x", "X.npy"]
BAD = [
    (GEMM_OK[:2] + ["nope.npy", "--b", "B.npy"], r"--a: .*nope\.npy: no such file"),
    (["gemm", "--a", "F64.npy", "--b", "B.npy"], r"--a F64\.npy: expected uint8 codes"),
    (["gemm", "--a", "text.npy", "--b", "B.npy"], r"--a: .*text\.npy: not a readable"),
    (["gemm", "--a", "A.npy", "--b", "B63.npy"], r"--b B63\.npy: shape \(63, 3\)"),
    (GEMM_OK + ["--c", "C64.npy"], r"--c C64\.npy: expected float32"),
    (GEMM_OK + ["--sa", "SA.npy"], r"--sa SA\.npy: expected shape \(4, 1\)"),
    (GEMM_OK + ["--preset", "h100", "--sa", "SA.npy"], r"scales given but .*scale_block = 0"),
    (GEMM_OK + ["--preset", "h200"], r"unknown preset 'h200'"),
    (GEMM_OK + ["--set", "nosuch=1"], r"--set 'nosuch=1': unknown field"),
    (GEMM_OK + ["--set", "fused=0"], r"--set fused=0: fused must be an integer >= 1"),
    (GEMM_OK + ["--set", "align_bits"], r"--set 'align_bits': expected field=value"),
    (GEMM_OK + ["--set", "acc_subnormals=maybe"], r"expected true or false"),
    (GEMM_OK + ["--config", "bin.toml"], r"bin\.toml: malformed TOML: not UTF-8"),
    (GEMM_OK + ["--config", "bad.toml"], r"bad\.toml: malformed TOML"),
    (GEMM_OK + ["--config", "none.toml"], r"none\.toml: cannot read config"),
    (GEMM_OK + ["--config", "bad.toml", "--preset", "h100"], r"not both"),
    (["gemm", "--a", "A.npy"], r"Missing option '--b'"),
    (GEMM_OK + ["--bogus"], r"No such option.*--bogus"),
    (["frobnicate"], r"No such command 'frobnicate'"),
    (["presets", "--toml", "h200"], r"unknown preset 'h200'"),
    (["quantize", "--x", "none.npy"], r"--x: .*none\.npy: no such file"),
    (["quantize", "--x", "Xi.npy"], r"--x Xi\.npy: expected float32 data, got dtype int32"),
    (["quantize", "--x", "X1.npy"], r"--x X1\.npy: expected a 2-D array"),
    (QUANT_OK + ["--block", "1y32"], r"--block '1y32': expected RxC"),
    (QUANT_OK + ["--block", "0x32"], r"--block '0x32': block sizes must be >= 1"),
    (QUANT_OK + ["--format", "e3m4"], r"Invalid value for '--format'"),
    (QUANT_OK + ["--scale-mode", "round"], r"Invalid value for '--scale-mode'"),
]


@pytest.mark.parametrize("args,match", BAD, ids=[" ".join(a[1:]) for a, _ in BAD])
def test_bad_input_one_line_exit_2_no_output(args, match, files, monkeypatch):
    import re

    monkeypatch.chdir(files)
    extra = (
        ["--out", "OUT.npy", "--scales", "SC.npy"]
        if args[0] == "quantize"
        else ["--out", "OUT.npy"]
        if args[0] == "gemm"
        else []
    )
    code, out, err = cli(*args, *extra)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fp8emu: error: ")
    assert re.search(match, lines[0]), lines[0]
    assert "Traceback" not in err
    assert not (files / "OUT.npy").exists() and not (files / "SC.npy").exists()
    assert not temp_files(files)


def test_quantize_same_output_files(files, monkeypatch):
    monkeypatch.chdir(files)
    code, _, err = cli(*QUANT_OK, "--out", "Q.npy", "--scales", "./Q.npy")
    assert code == 2 and "same file" in err and not (files / "Q.npy").exists()


def test_failed_command_leaves_existing_output_alone(files, monkeypatch):
    monkeypatch.chdir(files)
    (files / "OUT.npy").write_bytes(b"old")
    code, _, _ = cli("gemm", "--a", "A.npy", "--b", "B63.npy", "--out", "OUT.npy")
    assert code == 2 and (files / "OUT.npy").read_bytes() == b"old"
    code, _, _ = cli("gemm", "--a", "A.npy", "--b", "B.npy", "--out", "nodir/OUT.npy")
    assert code == 2


def test_console_entry_point_subprocess(files):
    """The real entry point: one stderr line, status 2, no traceback, no output."""
    code, out, err = console(
        "gemm",
        "--a",
        "A.npy",
        "--b",
        "B.npy",
        "--config",
        "bin.toml",
        "--out",
        "OUT.npy",
        cwd=files,
        timeout=60,
    )
    assert code == 2 and out == ""
    assert err.splitlines() == ["fp8emu: error: bin.toml: malformed TOML: not UTF-8 text (byte 0)"]
    assert not (files / "OUT.npy").exists()
    code, out, err = console(
        "gemm", "--a", "A.npy", "--b", "B.npy", "--preset", "h100", "--out", "OUT.npy", cwd=files
    )
    assert code == 0 and out == "" and err == ""
    a, b = np.load(files / "A.npy"), np.load(files / "B.npy")
    assert_bits_equal(np.load(files / "OUT.npy"), emu.gemm(a, b, config=emu.preset("h100")))
