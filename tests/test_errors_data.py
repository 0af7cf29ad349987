"""Data: every command that reads arrays or configs (gemm, quantize, run --in/--out,
compare, validate, vectors, sweep) on bad files, dtypes, ranks, shapes, configs and
output paths: one line ``fp8emu: error: <option> <file>: what``, exit status 2, no
output written.  Layouts that are not errors (Fortran order, big-endian, float8 arrays
saved by np.save) give the same bits as the plain array; NaN codes give the result
the spec defines (2.2: canonical NaN), not an error.

Single gemm/quantize cases already pinned in test_cli_core.py are not repeated."""

import re

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import emu
from tests.helpers import ROOT, assert_bits_equal, cli, console, one_error_line, temp_files

FIELDS = r"\(fields: a_format, b_format, fused, .*, norm_round\)"
PROG = """
    .data
    .buffer X, f32, 2, 3
    .buffer Q, e4m3, 2, 2
    .buffer Y, f32, 2, 3
    .text
    li x1, X
    li x3, 12                  ; row stride: 3 fp32
    ald acc0, x1, x3, 2, 3
    li x2, Y
    ast acc0, x2, x3
    halt
"""


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    """A directory of good and bad inputs (tests chdir here and use bare names)."""
    p = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(7)
    A = rng.integers(0, 0x70, (4, 64)).astype(np.uint8)
    B = rng.integers(0, 0x70, (64, 3)).astype(np.uint8)
    save = lambda name, arr: np.save(p / name, arr)  # noqa: E731
    save("A.npy", A)
    save("B.npy", B)
    save("X.npy", rng.standard_normal((4, 64)).astype(np.float32))
    save("Y.npy", rng.standard_normal((64, 3)).astype(np.float32))
    save("C.npy", rng.standard_normal((4, 3)).astype(np.float32))
    save("x23.npy", np.arange(6, dtype=np.float32).reshape(2, 3))
    # bad files
    (p / "dir.npy").mkdir()
    (p / "empty.npy").write_bytes(b"")
    (p / "text.npy").write_text("hello\n")
    raw = (p / "A.npy").read_bytes()
    (p / "trunc.npy").write_bytes(raw[: len(raw) // 2])
    np.savez(p / "arch.npz", a=A)
    np.save(p / "obj.npy", np.array([{}], dtype=object), allow_pickle=True)
    # wrong dtypes, ranks, shapes
    save("f64.npy", A.astype(np.float64))
    save("bool.npy", A > 9)
    save("i8.npy", A.astype(np.int8))
    save("u16be.npy", A.astype(">u2"))
    save("str.npy", np.full((4, 64), "a"))
    save("rank0.npy", np.uint8(3))
    save("rank1.npy", A[0])
    save("rank3.npy", A[None])
    save("B63.npy", B[:63])
    save("A0.npy", A[:0])
    save("C64.npy", np.zeros((4, 3)))
    save("C1.npy", np.zeros(3, np.float32))
    save("SAf.npy", np.ones((4, 1), np.float32))
    save("SA2.npy", np.full((4, 2), 127, np.uint8))
    save("SB13.npy", np.full((1, 3), 127, np.uint8))
    save("Xi.npy", np.zeros((4, 64), np.int32))
    save("x3.npy", np.zeros(3, np.float32))
    save("x23f64.npy", np.zeros((2, 3)))
    # layouts that are not errors
    save("A_fortran.npy", np.asfortranarray(A))
    save("A_e4m3.npy", A.view(ml_dtypes.float8_e4m3fn))  # written as |V1
    save("A_e5m2.npy", A.view(ml_dtypes.float8_e5m2))  # written as <f1
    save("C_be.npy", np.load(p / "C.npy").astype(">f4"))
    save("X_be.npy", np.load(p / "X.npy").astype(">f4"))
    save("x23_be.npy", np.arange(6, dtype=">f4").reshape(2, 3))
    save("x23_fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    save("SA_e8m0.npy", np.full((4, 1), 126, np.uint8).view(ml_dtypes.float8_e8m0fnu))
    save("SA.npy", np.full((4, 1), 126, np.uint8))
    # configs
    (p / "bad.toml").write_text("fused = = 1\n")
    (p / "unk.toml").write_text("nosuch = 1\n")
    (p / "val.toml").write_text("acc_round = 'up'\n")
    (p / "type.toml").write_text("fused = [1, 2]\n")
    (p / "nested.toml").write_text("[mac]\nfused = 1\n")
    (p / "preset.toml").write_text("preset = 'h200'\n")
    (p / "combo.toml").write_text("scale_apply = 'promotion'\n")
    (p / "bin.toml").write_bytes(b"fused = 1\n\xff\n")
    (p / "prog.s").write_text(PROG)
    (p / "file").write_text("a plain file\n")
    return p


def bad(d, *args, pattern, outputs=("OUT.npy", "Q.npy", "S.npy", "r.json", "v", "s.csv")):
    """Run a command that must fail: one error line matching pattern, status 2,
    none of the outputs created, no temporary files left."""
    code, out, err = cli(*args, cwd=d)
    text = one_error_line(code, err, pattern)
    for name in outputs:
        assert not (d / name).exists(), name
    assert temp_files(d) == []
    return text


# ------------------------------------------------------------------ unreadable files
BAD_FILES = [
    ("missing.npy", r"no such file"),
    ("dir.npy", r"is a directory"),
    ("empty.npy", r"not a readable \.npy file \(No data left in file\)"),
    ("text.npy", r"not a readable \.npy file \(.+\)"),
    ("trunc.npy", r"not a readable \.npy file \(Failed to read all data for array\..*\)"),
    ("arch.npz", r"is an \.npz archive, expected a single \.npy array"),
    (
        "obj.npy",
        r"not a readable \.npy file \(Object arrays cannot be loaded when "
        r"allow_pickle=False\)",
    ),
]
SLOTS = [
    (["gemm", "--a", "{F}", "--b", "B.npy", "--out", "OUT.npy"], "--a"),
    (["gemm", "--a", "A.npy", "--b", "B.npy", "--c", "{F}", "--out", "OUT.npy"], "--c"),
    (["gemm", "--a", "A.npy", "--b", "B.npy", "--sb", "{F}", "--out", "OUT.npy"], "--sb"),
    (["quantize", "--x", "{F}", "--out", "Q.npy", "--scales", "S.npy"], "--x"),
    (["run", "prog.s", "--in", "X={F}", "--out", "Y=OUT.npy"], "--in X"),
    (["compare", "--a", "{F}", "--b", "Y.npy", "--json", "r.json"], "--a"),
    (["compare", "--a", "X.npy", "--b", "Y.npy", "--c", "{F}", "--json", "r.json"], "--c"),
]


@pytest.mark.parametrize("name, msg", BAD_FILES, ids=[n for n, _ in BAD_FILES])
@pytest.mark.parametrize("args, opt", SLOTS, ids=[f"{a[0]} {o}" for a, o in SLOTS])
def test_unreadable_npy_files_name_the_option_and_file(d, args, opt, name, msg):
    argv = [a.replace("{F}", name) for a in args]
    bad(d, *argv, pattern=rf"{opt}: {re.escape(name)}: {msg}")


def test_validate_unreadable_files(d, tmp_path):
    bad(d, "validate", "--npz", "missing.npz", pattern=r"--npz: missing\.npz: no such file")
    bad(d, "validate", "--npz", "dir.npy", pattern=r"--npz: dir\.npy: is a directory")
    bad(
        d,
        "validate",
        "--npz",
        "A.npy",
        pattern=r"--npz: A\.npy: is a single \.npy array, expected an \.npz archive",
    )
    bad(
        d,
        "validate",
        "--npz",
        "empty.npy",
        pattern=r"--npz: empty\.npy: not a readable \.npz archive \(.+\)",
    )
    bad(
        d, "validate", "--npz", "arch.npz", pattern=r"--npz: arch\.npz: missing array 'b' \(has a\)"
    )
    zdata = (d / "arch.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(zdata[: len(zdata) - 30])
    code, _, err = cli("validate", "--npz", tmp_path / "cut.npz")
    one_error_line(
        code,
        err,
        rf"--npz: {re.escape(str(tmp_path))}/cut\.npz: not a readable "
        r"\.npz archive \(.+\)",
    )
    bad(
        d,
        "validate",
        "--a",
        "A.npy",
        "--b",
        "B.npy",
        "--d",
        "X.npy",
        pattern=r"--a: A\.npy: not an ASCII text file \(byte 0\)",
    )
    bad(
        d,
        "validate",
        "--a",
        "dir.npy",
        "--b",
        "B.npy",
        "--d",
        "X.npy",
        pattern=r"--a: dir\.npy: is a directory",
    )
    bad(d, "validate", "--dir", "missing", pattern=r"--dir: missing: no such directory")
    bad(d, "validate", "--dir", "dir.npy", pattern=r"--a: dir\.npy/a\.txt: no such file")


# ------------------------------------------------------------------ dtype, rank, shape
ARRAYS = [
    (
        ["gemm", "--a", "bool.npy", "--b", "B.npy"],
        r"--a bool\.npy: expected uint8 codes or float8_e4m3fn for e4m3, got dtype bool",
    ),
    (["gemm", "--a", "i8.npy", "--b", "B.npy"], r"--a i8\.npy: .* got dtype int8"),
    (
        ["gemm", "--a", "A.npy", "--b", "u16be.npy", "--set", "b_format=e5m2"],
        r"--b u16be\.npy: expected uint8 codes or float8_e5m2 for e5m2, got dtype uint16",
    ),
    (["gemm", "--a", "str.npy", "--b", "B.npy"], r"--a str\.npy: .* got dtype <U1"),
    (
        ["gemm", "--a", "rank0.npy", "--b", "B.npy"],
        r"--a rank0\.npy: expected a 2-D \(M, K\) array, got shape \(\)",
    ),
    (
        ["gemm", "--a", "A.npy", "--b", "rank1.npy"],
        r"--b rank1\.npy: expected a 2-D \(K, N\) array, got shape \(64,\)",
    ),
    (
        ["gemm", "--a", "rank3.npy", "--b", "B.npy"],
        r"--a rank3\.npy: expected a 2-D \(M, K\) array, got shape \(1, 4, 64\)",
    ),
    (
        ["gemm", "--a", "A.npy", "--b", "B.npy", "--c", "C1.npy"],
        r"--c C1\.npy: expected shape \(4, 3\), got \(3,\)",
    ),
    (
        ["gemm", "--a", "A.npy", "--b", "B.npy", "--sa", "SAf.npy"],
        r"--sa SAf\.npy: expected uint8 UE8M0 codes or float8_e8m0fnu, got dtype float32",
    ),
    (
        ["gemm", "--a", "A.npy", "--b", "B.npy", "--sa", "rank1.npy"],
        r"--sa rank1\.npy: expected a 2-D array, got shape \(64,\)",
    ),
    (
        ["gemm", "--a", "A.npy", "--b", "B.npy", "--sb", "SA2.npy"],
        r"--sb SA2\.npy: expected shape \(1, 3\) \(ceil\(K/128\) x N\), got \(4, 2\)",
    ),
    (
        ["gemm", "--a", "A.npy", "--b", "B.npy", "--sb", "SB13.npy", "--preset", "deepseek-v3"],
        r"--sb SB13\.npy: expected shape \(1, 1\) \(ceil\(K/128\) x ceil\(N/128\) tiles\), "
        r"got \(1, 3\)",
    ),
    (
        ["quantize", "--x", "rank3.npy"],
        r"--x rank3\.npy: expected a 2-D array, got shape "
        r"\(1, 4, 64\)",
    ),
    (["quantize", "--x", "A.npy"], r"--x A\.npy: expected float32 data, got dtype uint8"),
    (
        ["run", "prog.s", "--in", "X=x23f64.npy"],
        r"--in X=x23f64\.npy: buffer X expects a 2x3 f32 array \(float32\), got float64 with "
        r"shape 2x3",
    ),
    (
        ["run", "prog.s", "--in", "X=x3.npy"],
        r"--in X=x3\.npy: buffer X expects a 2x3 f32 array \(float32\), got float32 with "
        r"shape 3",
    ),
    (
        ["run", "prog.s", "--in", "Q=rank0.npy"],
        r"--in Q=rank0\.npy: buffer Q expects a 2x2 e4m3 array \(uint8 or float8_e4m3fn\), got "
        r"uint8 with shape \(\)",
    ),
    (
        ["run", "prog.s", "--in", "Z=x3.npy"],
        r"--in Z=x3\.npy: the program has no buffer 'Z' \(buffers: X, Q, Y\)",
    ),
    (["run", "prog.s", "--in", "X"], r"--in 'X': expected NAME=FILE\.npy"),
    (
        ["compare", "--a", "rank1.npy", "--b", "Y.npy"],
        r"--a rank1\.npy: expected a 2-D \(K, N\) array, got shape \(64,\)|"
        r"--a/--b: expected both float data or both uint8 codes, got uint8 and float32",
    ),
    (
        ["compare", "--a", "X.npy", "--b", "X.npy"],
        r"--b X\.npy: shape \(4, 64\) does not fit --a X\.npy \(4, 64\): expected \(64, N\)",
    ),
    (
        ["compare", "--a", "A.npy", "--b", "B63.npy"],
        r"--b B63\.npy: shape \(63, 3\) does not fit a \(4, 64\): expected \(64, N\)",
    ),
    (
        ["compare", "--a", "A0.npy", "--b", "B.npy"],
        r"--a A0\.npy: expected a non-empty array, got shape \(0, 64\)",
    ),
    (
        ["compare", "--a", "X.npy", "--b", "Y.npy", "--c", "C64.npy"],
        r"--c C64\.npy: expected float32, got dtype float64",
    ),
    (
        ["compare", "--a", "X.npy", "--b", "Y.npy", "--c", "C1.npy"],
        r"--c C1\.npy: expected shape \(4, 3\), got \(3,\)",
    ),
    (
        ["compare", "--k", "64", "--m", "4", "--n", "3", "--c", "C1.npy"],
        r"--c C1\.npy: expected shape \(4, 3\), got \(3,\)",
    ),
    (
        ["compare", "--a", "A.npy", "--b", "B.npy", "--sa", "SA2.npy"],
        r"--sa SA2\.npy: expected shape \(4, 1\) \(M x ceil\(K/128\)\), got \(4, 2\)",
    ),
    (
        [
            "compare",
            "--a",
            "A.npy",
            "--b",
            "B.npy",
            "--sa",
            "SA.npy",
            "--preset",
            "h100",
            "--preset",
            "default",
        ],
        r"--sa/--sb: scales given but the config has scale_block = 0 \(config h100\)",
    ),
    (
        ["compare", "--a", "X.npy", "--b", "Y.npy", "--sa", "SA.npy"],
        r"--sa/--sb go with uint8 code inputs, not float data",
    ),
    (
        ["compare", "--a", "A.npy", "--b", "Y.npy"],
        r"--a/--b: expected both float data or both uint8 codes, got uint8 and float32",
    ),
]


@pytest.mark.parametrize("args, pattern", ARRAYS, ids=[" ".join(a) for a, _ in ARRAYS])
def test_array_dtype_rank_and_shape_errors_name_the_option_and_file(d, args, pattern):
    extra = {
        "gemm": ["--out", "OUT.npy"],
        "quantize": ["--out", "Q.npy", "--scales", "S.npy"],
        "run": ["--out", "Y=OUT.npy"],
        "compare": ["--json", "r.json"],
    }[args[0]]
    bad(d, *args, *extra, pattern=pattern)


def test_validate_npz_contents(d, tmp_path):
    """Every error about an --npz archive names it, whatever part finds the problem."""
    A, B = np.load(d / "A.npy"), np.load(d / "B.npy")
    z = tmp_path / "z.npz"
    cases = [
        (
            dict(a=A, b=B[:, :1].T, d=np.zeros(4, np.uint32)),
            r"a \(4, 64\) and b \(1, 64\): expected the same \(cases, K\)",
        ),
        (
            dict(a=A, b=A, d=np.zeros(4, np.float64)),
            r"d: expected uint32 fp32 words or float32, got dtype float64",
        ),
        (
            dict(a=A.astype(np.int16), b=A, d=np.zeros(4, np.uint32)),
            r"a: expected uint32 fp32 words, float32 or uint8 codes, got dtype int16",
        ),
        (
            dict(a=A[None], b=A, d=np.zeros(4, np.uint32)),
            r"a: expected a 2-D \(cases, K\) array, got shape \(1, 4, 64\)",
        ),
        (
            dict(a=A, b=A, d=np.zeros(4, np.uint32), sa=np.zeros((4, 1), np.uint8)),
            r"sa: scales given but the config has scale_block = 0",
        ),
        (
            dict(a=A, b=B, d=np.zeros((4, 3), np.uint32), sa=np.zeros((4, 5), np.uint8)),
            r"sa/sb: scales given but the config has scale_block = 0",
        ),
        (
            dict(a=A, b=B, d=np.zeros((4, 3), np.float64)),
            r"d: expected uint32 fp32 words or float32 of shape \(4, 3\), got float64 "
            r"\(4, 3\)",
        ),
        (
            dict(a=np.array([{}], dtype=object), b=A, d=A),
            r"array 'a' is not readable \(Object arrays cannot be loaded when "
            r"allow_pickle=False\)",
        ),
    ]
    for arrays, pattern in cases:
        np.savez(z, **arrays)
        code, _, err = cli("validate", "--npz", z, "--preset", "h100")
        one_error_line(code, err, rf"--npz: {re.escape(str(z))}: {pattern}")
    np.savez(z, a=A, b=B, d=np.zeros((4, 3), np.uint32), sa=np.zeros((4, 5), np.uint8))
    code, _, err = cli("validate", "--npz", z, "--preset", "default")
    one_error_line(
        code,
        err,
        rf"--npz: {re.escape(str(z))}: sa: expected shape \(4, 1\) "
        r"\(M x ceil\(K/128\)\), got \(4, 5\)",
    )


# ------------------------------------------------------------------ configs
CONFIGS = [
    ("bad.toml", r"bad\.toml: malformed TOML: Invalid value \(at line 1, column 9\)"),
    ("unk.toml", rf"unk\.toml: unknown config field 'nosuch' {FIELDS}"),
    ("val.toml", r"val\.toml: acc_round must be one of rz, rne, ru, rd, rna, got 'up'"),
    ("type.toml", r"type\.toml: fused: expected an integer or 'k', got \[1, 2\]"),
    ("nested.toml", rf"nested\.toml: unknown config field 'mac' {FIELDS}"),
    ("preset.toml", r"preset\.toml: unknown preset 'h200' \(presets: default, .*\)"),
    (
        "combo.toml",
        r"combo\.toml: scale_apply = 'promotion' requires promote_every == "
        r"scale_block \(0 != 128\)",
    ),
    ("bin.toml", r"bin\.toml: malformed TOML: not UTF-8 text \(byte 10\)"),
    ("missing.toml", r"missing\.toml: cannot read config: No such file or directory"),
]
CONFIG_COMMANDS = {
    "gemm": ["gemm", "--a", "A.npy", "--b", "B.npy", "--out", "OUT.npy"],
    "run": ["run", "prog.s", "--out", "Y=OUT.npy"],
    "compare": ["compare", "--k", "64", "--m", "2", "--n", "2", "--json", "r.json"],
    "validate": ["validate", "--npz", "arch.npz"],
    "vectors": ["vectors", "--out", "v"],
    "sweep": ["sweep", "--vary", "align_bits=8,9", "--k", "64", "--csv", "s.csv"],
}


@pytest.mark.parametrize("name, pattern", CONFIGS, ids=[n for n, _ in CONFIGS])
@pytest.mark.parametrize("cmd", sorted(CONFIG_COMMANDS))
def test_config_file_errors_in_every_command(d, cmd, name, pattern):
    bad(d, *CONFIG_COMMANDS[cmd], "--config", name, pattern=pattern)


SETS = [
    (["--set", "nosuch=1"], rf"--set 'nosuch=1': unknown field 'nosuch' {FIELDS}"),
    (["--set", "fused"], r"--set 'fused': expected field=value"),
    (["--set", "fused=x"], r"--set 'fused=x': fused: expected an integer or 'k', got 'x'"),
    (["--set", "acc_format=e9m99"], r"--set acc_format=e9m99: unknown format 'e9m99' .*"),
    (
        ["--set", "scale_b_tile=64"],
        r"--set scale_b_tile=64: scale_b_tile must be 0 or 128, "
        r"got 64",
    ),
    (
        ["--set", "fused=3"],
        r"--set fused=3: scale_block \(128\) must be a multiple of fused "
        r"\(3\) or divide it",
    ),
    (["--preset", "h200"], r"unknown preset 'h200' \(presets: default, .*\)"),
    (["--preset", "h100", "--config", "unk.toml"], r"give --preset or --config, not both"),
    (
        ["--config", "dir.npy"],
        r"fp8emu \w+: Invalid value for '--config': File 'dir\.npy' "
        r"is a directory\.",
    ),
]


@pytest.mark.parametrize("opts, pattern", SETS, ids=[" ".join(o) for o, _ in SETS])
@pytest.mark.parametrize("cmd", ["run", "validate", "vectors", "sweep"])
def test_set_and_preset_errors_in_every_command(d, cmd, opts, pattern):
    bad(d, *CONFIG_COMMANDS[cmd], *opts, pattern=pattern)


def test_compare_config_errors(d):
    """compare takes several configs: --set applies to each, errors name the file."""
    base = CONFIG_COMMANDS["compare"]
    bad(
        d,
        *base,
        "--config",
        "unk.toml",
        pattern=rf"unk\.toml: unknown config field 'nosuch' "
        rf"{FIELDS}",
    )
    bad(
        d,
        *base,
        "--preset",
        "h100",
        "--set",
        "scale_b_tile=128",
        pattern=r"--set scale_b_tile=128: scale_b_tile = 128 requires scale_block = 128, "
        r"got 0",
    )
    bad(d, *base, "--preset", "nope", pattern=r"unknown preset 'nope' .*")


# ------------------------------------------------------------------ output paths
OUTPUTS = [
    (["gemm", "--a", "A.npy", "--b", "B.npy", "--out", "{O}"], "--out"),
    (["quantize", "--x", "X.npy", "--out", "Q.npy", "--scales", "{O}"], "--scales"),
    (["asm", "prog.s", "-o", "{O}"], "-o"),
    (["run", "prog.s", "--out", "Y={O}"], "--out Y"),
    (["compare", "--k", "64", "--m", "2", "--n", "2", "--json", "{O}"], "--json"),
    (["validate", "--npz", "arch.npz", "--json", "{O}"], "--json"),
    (["sweep", "--vary", "align_bits=8", "--k", "64", "--plot", "{O}"], "--plot"),
]
OUT_PATHS = [
    ("nodir/o.x", r"{opt} nodir/o\.x: directory {d}/nodir does not exist"),
    ("file/o.x", r"{opt} file/o\.x: {d}/file is not a directory"),
    ("dir.npy", r"{opt} dir\.npy: is a directory"),
]


@pytest.mark.parametrize("path, pattern", OUT_PATHS, ids=["nodir", "parent-file", "dir"])
@pytest.mark.parametrize("args, opt", OUTPUTS, ids=[f"{a[0]} {o}" for a, o in OUTPUTS])
def test_unwritable_output_paths_fail_before_any_work(d, args, opt, path, pattern):
    argv = [a.replace("{O}", path) for a in args]
    bad(d, *argv, pattern=pattern.format(opt=re.escape(opt), d=re.escape(str(d))))


EMPTY = [
    ["gemm", "--a", "", "--b", "B.npy", "--out", "OUT.npy"],
    ["gemm", "--a", "A.npy", "--b", "B.npy", "--c", "", "--out", "OUT.npy"],
    ["gemm", "--a", "A.npy", "--b", "B.npy", "--sa", "", "--out", "OUT.npy"],
    ["gemm", "--a", "A.npy", "--b", "B.npy", "--config", "", "--out", "OUT.npy"],
    ["gemm", "--a", "A.npy", "--b", "B.npy", "--out", ""],
    ["quantize", "--x", "X.npy", "--out", "Q.npy", "--scales", ""],
    ["asm", "", "-o", "OUT.npy"],
    ["asm", "prog.s", "-o", ""],
    ["disasm", "prog.s", "-o", ""],
    ["run", ""],
    ["compare", "--a", "", "--b", "", "--json", "r.json"],
    ["compare", "--json", ""],
    ["compare", "--config", "unk.toml", "--config", ""],
    ["validate", "--npz", ""],
    ["validate", "--dir", ""],
    ["validate", "--npz", "arch.npz", "--json", ""],
    ["vectors", "--out", ""],
    ["sweep", "--vary", "k=8", "--csv", ""],
    ["sweep", "--vary", "k=8", "--plot", ""],
]


@pytest.mark.parametrize("args", EMPTY, ids=[" ".join(a) for a in EMPTY])
def test_an_empty_file_name_is_an_error_not_a_missing_option(d, args):
    """`--json ""` (an unset shell variable) once meant "no JSON"; now it is an error
    naming the option, in every command, for inputs and outputs alike."""
    opt = args[args.index("") - 1] if args.index("") > 1 else "PROG.s|PROG.bin"
    if opt == "-o":
        opt = "-o' / '--output"
    if args[:2] == ["asm", ""]:
        opt = "PROG.s"
    bad(
        d,
        *args,
        pattern=rf"fp8emu {args[0]}: Invalid value for '{re.escape(opt)}': "
        r"empty file name",
    )


def test_vectors_and_sweep_and_run_output_errors(d):
    bad(d, "run", "prog.s", "--out", "Y=", pattern=r"--out 'Y=': expected NAME=FILE\.npy")
    bad(d, "vectors", "--out", "file", pattern=r"--out file: exists and is not a directory")
    bad(
        d,
        "vectors",
        "--out",
        "nodir/v",
        pattern=rf"--out nodir/v: directory {re.escape(str(d))}/nodir does not exist",
    )
    bad(
        d,
        "sweep",
        "--vary",
        "align_bits=8",
        "--csv",
        "s.csv",
        "--plot",
        "./s.csv",
        pattern=r"--csv and --plot are the same file \(\./s\.csv\)",
    )
    bad(
        d,
        "run",
        "prog.s",
        "--out",
        "X=OUT.npy",
        "--out",
        "Y=./OUT.npy",
        pattern=r"--out: two buffers would be written to the same file \./OUT\.npy",
    )
    bad(d, "run", "prog.s", "--out", "Y=a.npy", "--out", "Y=b.npy", pattern=r"--out Y: given twice")


# ------------------------------------------------------------------ option values
VALUES = [
    (
        ["compare", "--seed", "-1"],
        r"fp8emu compare: Invalid value for '--seed': -1 is not in "
        r"the range x>=0\.",
    ),
    (["compare", "--m", "0"], r"--m must be >= 1, got 0"),
    (
        ["compare", "--fail-above", "max_rel=nan"],
        r"--fail-above 'max_rel=nan': expected "
        r"METRIC=NUMBER",
    ),
    (
        ["compare", "--m", "99999999999", "--n", "99999999999", "--k", "99999999999"],
        r"--m 99999999999 x --k 99999999999: the generated A would have \d+ values, "
        r"at most 16777216",
    ),
    (
        ["vectors", "--out", "v", "--seed", "-1"],
        r"fp8emu vectors: Invalid value for "
        r"'--seed': -1 is not in the range x>=0\.",
    ),
    (["vectors", "--out", "v", "--k", "0"], r"--k must be >= 1, got 0"),
    (["vectors", "--out", "v", "--random", "-1"], r"--random must be >= 0, got -1"),
    (
        ["validate", "--npz", "arch.npz", "--show", "-1"],
        r"fp8emu validate: Invalid value for '--show': -1 is not in the range x>=0\.",
    ),
    (
        ["sweep", "--vary", "seed=0,-1", "--k", "64"],
        r"sweep point seed=-1: seed must be >= 0, got -1",
    ),
    (["sweep", "--vary", "k=64,0"], r"sweep point k=0: k must be >= 1, got 0"),
    (
        ["sweep", "--vary", "scale_mode=floor,up"],
        r"sweep point scale_mode=up: scale_mode must be one of floor, ceil, rceil, even, "
        r"got 'up'",
    ),
    (
        ["sweep", "--vary", "align_bits=1:99999999"],
        r"--vary 'align_bits=1:99999999': 99999999 values, at most 100000",
    ),
    (
        ["sweep", "--vary", "align_bits=1:400", "--vary", "k=1:400"],
        r"--vary: 160000 points, at most 100000",
    ),
    (
        ["sweep", "--vary", "fused=1,3"],
        r"sweep point fused=3: scale_block \(128\) must be a "
        r"multiple of fused \(3\) or divide it",
    ),
    (
        ["run", "prog.s", "--mem-size", "0"],
        r"--mem-size '0': expected a size from 1 byte to "
        r"16G",
    ),
    (
        ["run", "prog.s", "--mem-size", "64"],
        r"prog\.s: buffer Q \(0x40 \+ 4 bytes\) does not fit the machine's 64 bytes of memory "
        r"\(see --mem-size\)",
    ),
    (["run", "prog.s", "-D", "N=1"], r"-D N: prog\.s declares no \.param N"),
    (
        ["quantize", "--x", "X.npy", "--out", "Q.npy", "--scales", "S.npy", "--block", "1x0"],
        r"--block '1x0': block sizes must be >= 1",
    ),
]


@pytest.mark.parametrize("args, pattern", VALUES, ids=[" ".join(a) for a, _ in VALUES])
def test_option_values(d, args, pattern):
    bad(d, *args, pattern=pattern)


# ------------------------------------------------------------------ not errors
def _gemm(d, a="A.npy", c="C.npy", sa="SA.npy", *extra):
    out = d / "D_out.npy"
    code, _, err = cli(
        "gemm", "--a", a, "--b", "B.npy", "--c", c, "--sa", sa, *extra, "--out", out.name, cwd=d
    )
    assert code == 0 and err == "", err
    got = np.load(out)
    out.unlink()
    return got


def test_fortran_big_endian_and_float8_files_give_the_same_bits(d):
    """Non-contiguous (Fortran-order), big-endian and ml_dtypes-float8 .npy files are
    read as the arrays they hold: the same bits as the plain uint8 / float32 file."""
    want = _gemm(d)
    A, B = np.load(d / "A.npy"), np.load(d / "B.npy")
    ref = emu.gemm(
        A, B, c=np.load(d / "C.npy"), sa=np.load(d / "SA.npy"), config=emu.preset("default")
    )
    assert_bits_equal(want, ref)
    for a, c, sa in [
        ("A_fortran.npy", "C.npy", "SA.npy"),
        ("A_e4m3.npy", "C_be.npy", "SA.npy"),
        ("A.npy", "C.npy", "SA_e8m0.npy"),
    ]:
        assert_bits_equal(_gemm(d, a, c, sa), want, f"{a} {c} {sa}")
    # an e5m2 array saved by np.save is '<f1', which numpy itself cannot load
    e5 = emu.gemm(
        A,
        B,
        c=np.load(d / "C.npy"),
        sa=np.load(d / "SA.npy"),
        config=emu.preset("default").replace(a_format="e5m2"),
    )
    assert_bits_equal(_gemm(d, "A_e5m2.npy", "C.npy", "SA.npy", "--set", "a_format=e5m2"), e5)


def test_run_and_quantize_read_big_endian_and_fortran_arrays(d):
    for name in ("x23.npy", "x23_be.npy", "x23_fortran.npy"):
        code, _, err = cli("run", "prog.s", "--in", f"X={name}", "--out", "Y=y_out.npy", cwd=d)
        assert code == 0 and err == ""
        y = np.load(d / "y_out.npy")
        assert y.dtype == np.float32 and y.tolist() == [[0, 1, 2], [3, 4, 5]], name
    (d / "y_out.npy").unlink()
    outs = []
    for name in ("X.npy", "X_be.npy"):
        code, _, err = cli(
            "quantize",
            "--x",
            name,
            "--out",
            "q_out.npy",
            "--scales",
            "s_out.npy",
            "--block",
            "1x32",
            cwd=d,
        )
        assert code == 0 and err == ""
        outs.append((np.load(d / "q_out.npy"), np.load(d / "s_out.npy")))
    assert all(np.array_equal(x, y) for x, y in zip(*outs))
    codes, scales = emu.quantize(np.load(d / "X.npy"), "e4m3", block=(1, 32))
    assert np.array_equal(outs[0][0], codes) and np.array_equal(outs[0][1], scales)
    for p in ("q_out.npy", "s_out.npy"):
        (d / p).unlink()


def test_nan_codes_give_the_spec_result_not_an_error(d, tmp_path):
    """Spec 2.2: a NaN operand (e4m3 0x7F/0xFF) or a NaN scale (0xFF) makes the dot
    products it enters NaN, written as the canonical 0x7FFFFFFF; e5m2 Inf x 0 is NaN
    and Inf alone stays Inf.  Every command accepts such inputs."""
    A, B = np.load(d / "A.npy"), np.load(d / "B.npy")
    A[0, 5] = 0x7F
    A[2, 9] = 0xFF
    sa = np.full((4, 1), 127, np.uint8)
    sa[1, 0] = 0xFF
    np.save(tmp_path / "An.npy", A)
    np.save(tmp_path / "B.npy", B)
    np.save(tmp_path / "SAn.npy", sa)
    code, _, err = cli(
        "gemm", "--a", "An.npy", "--b", "B.npy", "--sa", "SAn.npy", "--out", "D.npy", cwd=tmp_path
    )
    assert code == 0 and err == ""
    D = np.load(tmp_path / "D.npy").view(np.uint32)
    assert (D[:3] == 0x7FFFFFFF).all()
    assert np.isfinite(np.load(tmp_path / "D.npy")[3]).all()
    # e5m2: +Inf x 0 -> NaN; +Inf x positive -> +Inf; -Inf x positive -> -Inf
    a5 = np.zeros((3, 2), np.uint8)
    b5 = np.zeros((2, 1), np.uint8)
    a5[:, 0] = [0x7C, 0x7C, 0xFC]
    b5[0, 0] = 0x3C  # 1.0
    a5[0, 1], b5[1, 0] = 0x7C, 0x00  # row 0 also has Inf x 0
    np.save(tmp_path / "a5.npy", a5)
    np.save(tmp_path / "b5.npy", b5)
    code, _, err = cli(
        "gemm",
        "--a",
        "a5.npy",
        "--b",
        "b5.npy",
        "--preset",
        "h100",
        "--set",
        "a_format=e5m2",
        "--set",
        "b_format=e5m2",
        "--out",
        "D5.npy",
        cwd=tmp_path,
    )
    assert code == 0 and err == ""
    D5 = np.load(tmp_path / "D5.npy")
    assert D5.view(np.uint32)[0, 0] == 0x7FFFFFFF and D5[1, 0] == np.inf and D5[2, 0] == -np.inf
    # compare and validate take the same inputs without an error
    code, out, err = cli(
        "compare",
        "--a",
        "An.npy",
        "--b",
        "B.npy",
        "--sa",
        "SAn.npy",
        "--reference",
        "exact",
        cwd=tmp_path,
    )
    assert code == 0 and err == "" and "default" in out
    np.savez(tmp_path / "n.npz", a=A, b=B, sa=sa, d=np.load(tmp_path / "D.npy"))
    code, out, err = cli("validate", "--npz", tmp_path / "n.npz", "--preset", "default")
    assert code == 0 and err == "", out
    # quantize: a NaN in a block gives scale 0xFF and NaN elements (spec 2.5)
    x = np.load(d / "X.npy")
    x[1, 40] = np.nan
    np.save(tmp_path / "xn.npy", x)
    code, _, err = cli(
        "quantize",
        "--x",
        "xn.npy",
        "--block",
        "1x32",
        "--out",
        "q.npy",
        "--scales",
        "s.npy",
        cwd=tmp_path,
    )
    assert code == 0 and err == ""
    q, s = np.load(tmp_path / "q.npy"), np.load(tmp_path / "s.npy")
    assert s[1, 1] == 0xFF and ((q[1, 32:] & 0x7F) == 0x7F).all()
    assert (s[[0, 2, 3]] != 0xFF).all() and s[1, 0] != 0xFF
    # run: an MMA over NaN codes writes NaN, status 0
    prog = tmp_path / "nan.s"
    prog.write_text(
        ".data\n.buffer T, e4m3, 1, 4\n.buffer R, f32, 1, 1\n.text\n"
        "li x1, T\ntld t0, x1, x0, 1, 4\nli x2, 4\ntld t1, x1, x2, 4, 1\n"
        "azero acc0, 1, 1\nmma acc0, t0, t1\nli x3, R\nast acc0, x3, x0\nhalt\n"
    )
    np.save(tmp_path / "t.npy", np.array([[0x38, 0x7F, 0x38, 0x38]], np.uint8))
    code, _, err = cli(
        "run", prog, "--in", f"T={tmp_path / 't.npy'}", "--out", f"R={tmp_path / 'r.npy'}"
    )
    assert code == 0 and err == ""
    assert np.load(tmp_path / "r.npy").view(np.uint32)[0, 0] == 0x7FFFFFFF


def test_data_errors_through_the_console_entry_point(d):
    """The real entry point: errors that once were tracebacks (a negative seed, a
    NaN limit) are one line, status 2."""
    code, out, err = console("compare", "--seed", "-1", "--fail-above", "max_rel=1", cwd=d)
    assert (
        out == ""
        and one_error_line(code, err)
        == "fp8emu compare: Invalid value for '--seed': -1 is not in the range x>=0."
    )
    code, out, err = console("gemm", "--a", "rank0.npy", "--b", "B.npy", "--out", "OUT.npy", cwd=d)
    assert one_error_line(code, err) == "--a rank0.npy: expected a 2-D (M, K) array, got shape ()"
    assert not (d / "OUT.npy").exists()


def test_internal_errors_are_one_line_with_status_3(d, monkeypatch):
    """A bug (an exception nobody expected) still prints one line, not a traceback,
    with its own status 3; FP8EMU_TRACEBACK=1 shows the traceback."""
    import emu.toolkit.compare as C

    def broken(*a, **k):
        raise KeyError("boom")

    monkeypatch.setattr(C, "compare", broken)
    code, out, err = cli("compare", "--k", "8", "--m", "1", "--n", "1", cwd=d)
    assert code == 3 and out == "" and "Traceback" not in err
    assert (
        err == "fp8emu: error: internal error: KeyError: 'boom' (a bug in fp8emu; please "
        "report it with the command line; FP8EMU_TRACEBACK=1 shows the traceback)\n"
    )
    monkeypatch.setenv("FP8EMU_TRACEBACK", "1")
    with pytest.raises(KeyError):
        cli("compare", "--k", "8", "--m", "1", "--n", "1", cwd=d)


def test_readme_error_examples_are_what_the_commands_print(tmp_path):
    """The README's table of error shapes shows real output."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Errors and exit status") :]
    (block,) = re.findall(r"```text\n(.*?)```", section, re.S)[:1]
    want = block.splitlines()
    (tmp_path / "prog.s").write_text("\n" * 13 + "tld x1, x1, x2, 1, 1\n")
    (tmp_path / "prog.bin").write_bytes(emu_asm("halt\nhalt\n")[:44])
    np.save(tmp_path / "A.npy", np.zeros((4, 64), np.uint8))
    np.save(tmp_path / "B.npy", np.zeros((63, 3), np.uint8))
    (tmp_path / "my_mac.toml").write_text("fusd = 32\n")
    (tmp_path / "p.s").write_text("li x1, 1\nlw x2, x1, 0\nhalt\n")
    got = []
    for args in (
        ["asm", "prog.s", "-o", "o.bin"],
        ["disasm", "prog.bin"],
        ["gemm", "--a", "A.npy", "--b", "B.npy", "--out", "D.npy"],
        ["gemm", "--a", "A.npy", "--b", "B.npy", "--config", "my_mac.toml", "--out", "D.npy"],
        ["run", "p.s"],
    ):
        code, _, err = cli(*args, cwd=tmp_path)
        assert code == 2
        got.append(err.rstrip("\n"))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g == w or (w.endswith("...)") and g.startswith(w[:-4])), (g, w)


def emu_asm(src):
    from isa import assemble

    return assemble(src, "x.s").to_bytes()


def test_usage_errors_of_the_command_line_itself():
    code, out, err = cli()
    assert one_error_line(code, err) == "no command given (see fp8emu --help)"
    assert out.startswith("Usage: fp8emu [OPTIONS] COMMAND [ARGS]...") and "Exit status" in out
    code, out, err = cli("gemm")
    assert one_error_line(code, err) == "fp8emu gemm: Missing option '--a'." and out == ""
    code, out, err = cli("frobnicate")
    assert one_error_line(code, err) == "fp8emu: No such command 'frobnicate'."
    code, out, err = cli("run", "p.s", "--trace=yes")
    assert one_error_line(code, err) == "fp8emu run: Option '--trace' does not take a value."


# ------------------------------------------------------------------ random command lines
OPTIONS = {
    "gemm": ["--a", "--b", "--c", "--sa", "--sb", "--out", "--preset", "--config", "--set"],
    "quantize": ["--x", "--format", "--block", "--scale-mode", "--out", "--scales"],
    "run": ["--in", "--out", "--max-steps", "-D", "--mem-size", "--tile-rows", "--preset", "--set"],
    "compare": [
        "--a",
        "--b",
        "--c",
        "--sa",
        "--sb",
        "--dist",
        "--seed",
        "--mean",
        "--scale-mode",
        "--preset",
        "--config",
        "--set",
        "--reference",
        "--json",
        "--fail-above",
    ],
    "validate": [
        "--a",
        "--b",
        "--d",
        "--sa",
        "--npz",
        "--dir",
        "--format",
        "--show",
        "--json",
        "--preset",
        "--set",
    ],
    "vectors": ["--out", "--seed", "--preset", "--set", "--config"],
    "sweep": [
        "--vary",
        "--dist",
        "--seed",
        "--mean",
        "--scale-mode",
        "--reference",
        "--csv",
        "--plot",
        "--metric",
        "--preset",
        "--set",
    ],
}
VALUE_WORDS = [
    "0",
    "-1",
    "3",
    "64",
    "1x32",
    "h100",
    "deepseek-v3",
    "nope",
    "e5m2",
    "fused=k",
    "fused=3",
    "align_bits=8,12",
    "k=8,16",
    "X=x23.npy",
    "Y=o.npy",
    "Q=A.npy",
    "max_rel=1e-3",
    "nan",
    "inf",
    "floor",
    "rceil",
    "exact-fp32",
    "outliers",
    "1M",
    "o.npy",
    "o.json",
    "o.csv",
    "M=4",
    "",
]
FILE_WORDS = [
    "A.npy",
    "B.npy",
    "X.npy",
    "Y.npy",
    "C.npy",
    "SA.npy",
    "x23.npy",
    "f64.npy",
    "rank1.npy",
    "A_e5m2.npy",
    "trunc.npy",
    "arch.npz",
    "dir.npy",
    "missing.npy",
    "bad.toml",
    "unk.toml",
    "prog.s",
    "file",
]


@st.composite
def command_lines(draw):
    cmd = draw(st.sampled_from(sorted(OPTIONS)))
    argv = [cmd] + (["prog.s"] if cmd == "run" else [])
    for _ in range(draw(st.integers(0, 5))):
        argv += [
            draw(st.sampled_from(OPTIONS[cmd])),
            draw(st.sampled_from(VALUE_WORDS + FILE_WORDS)),
        ]
    if cmd in ("compare", "sweep", "vectors"):  # keep successful runs small
        argv += ["--k", "64"] + (
            ["--m", "3", "--n", "2"] if cmd != "vectors" else ["--random", "2", "--no-directed"]
        )
    return argv


@pytest.fixture(scope="module")
def scratch(d, tmp_path_factory):
    """A copy of the data directory that random command lines may write into."""
    import shutil

    p = tmp_path_factory.mktemp("scratch") / "d"
    shutil.copytree(d, p)
    return p


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=command_lines())
def test_random_command_lines_never_show_a_traceback(scratch, argv):
    """Any mix of the data commands' options and good or bad files: success (0),
    differences (1), or one error line (2); never a traceback or an internal error."""
    code, out, err = cli(*argv, cwd=scratch)
    event(f"{argv[0]} exit {code}")
    assert "Traceback" not in err and code in (0, 1, 2), (code, err)
    if code == 2:
        one_error_line(code, err)
    assert temp_files(scratch) == []  # no temporary files, ever


def test_quantize_block_larger_than_the_array_is_one_block(d, tmp_path):
    code, _, err = cli(
        "quantize",
        "--x",
        d / "X.npy",
        "--block",
        "1000000000x1",
        "--out",
        tmp_path / "q.npy",
        "--scales",
        tmp_path / "s.npy",
    )
    assert code == 0, err
    codes, scales = emu.quantize(np.load(d / "X.npy"), "e4m3", block=(4, 1))
    assert np.array_equal(np.load(tmp_path / "s.npy"), scales)
