"""fp8emu validate: text / npz formats, bit-exact checking, exit status, errors."""

import json

import numpy as np
import pytest

import emu
from emu.errors import UsageError
from emu.toolkit import validate as V
from tests.helpers import cli

H = 1.5 * 2**-7
Q = 2.0**-7


def hexw(*vals):
    return " ".join(f"{int(np.float32(v).view(np.uint32)):08X}" for v in vals)


def binw(v):
    return format(int(np.float32(v).view(np.uint32)), "032b")


def write_case_files(tmp_path, d_values, c_values=(1.0, 0.0, 3 * 2.0**-14)):
    """The three spec section 4 self-checks as text cases (h100: 1, 1, 1 + 2^-13)."""
    (tmp_path / "a.txt").write_text(
        "# spec section 4 self-checks\n"
        f"{hexw(H, 0.0)}\n\n"
        f"{hexw(1.0, -H)}   // second case\n"
        f"{hexw(1.0, 0.0)}\n"
    )
    (tmp_path / "b.txt").write_text(f"{hexw(Q, 0.0)}\n{hexw(1.0, Q)}\n{hexw(1.0, 0.0)}\n")
    (tmp_path / "c.txt").write_text("".join(binw(v) + "\n" for v in c_values))
    (tmp_path / "d.txt").write_text("".join(binw(v) + "\n" for v in d_values))
    return [str(tmp_path / n) for n in ("a.txt", "b.txt", "c.txt", "d.txt")]


H100_SELF_CHECKS = (1.0, 1.0, 1 + 2.0**-13)


def test_self_checks_pass_under_h100(tmp_path):
    a, b, c, d = write_case_files(tmp_path, H100_SELF_CHECKS)
    code, out, _ = cli("validate", "--preset", "h100", "--a", a, "--b", b, "--c", c, "--d", d)
    assert code == 0
    assert out.strip() == "PASS: all 3 cases match (result format e8m13)"


def test_planted_one_bit_difference_exits_1(tmp_path):
    d_vals = list(H100_SELF_CHECKS)
    d_vals[2] = np.float32(1 + 2.0**-13).view(np.uint32) ^ np.uint32(1 << 10)
    d_vals[2] = float(np.uint32(d_vals[2]).view(np.float32))  # flip one bit
    a, b, c, d = write_case_files(tmp_path, d_vals)
    rep = tmp_path / "rep.json"
    code, out, _ = cli(
        "validate",
        "--preset",
        "h100",
        "--a",
        a,
        "--b",
        b,
        "--c",
        c,
        "--d",
        d,
        "--json",
        str(rep),
    )
    assert code == 1
    assert out.startswith("FAIL: 1 of 3 cases differ, 2 pass")
    line = out.splitlines()[2]
    assert line.split()[:3] == ["2", "a.txt:5", "0x3F800400"]
    assert "0x3F800000 (1)" in line and line.rstrip().endswith("1")  # 1 ulp in e8m13
    doc = json.loads(rep.read_text())
    assert doc["passed"] == 2 and doc["mismatches"][0]["expected"] == "0x3F800400"
    assert doc["mismatches"][0]["got"] == "0x3F800000" and doc["mismatches"][0]["ulp"] == 1


def test_exact_dump_against_h100_reports_off_grid_distance(tmp_path):
    """A dump with the exact results: 1 + 3*2^-15 is 0.75 e8m13 ulp from h100's 1.0."""
    a, b, c, d = write_case_files(tmp_path, (1 + 3 * 2.0**-15, 1 - 3 * 2.0**-15, 1 + 3 * 2.0**-14))
    code, out, _ = cli("validate", "--preset", "h100", "--a", a, "--b", b, "--c", c, "--d", d)
    assert code == 1 and "FAIL: 3 of 3" in out
    assert "0.75 (off grid)" in out.splitlines()[2]
    code, out, _ = cli("validate", "--preset", "exact", "--a", a, "--b", b, "--c", c, "--d", d)
    assert code == 0


def test_signed_zero_and_nan_payload(tmp_path):
    (tmp_path / "a.txt").write_text(f"{hexw(1.0, -1.0)}\n{hexw(float('nan'), 1.0)}\n")
    (tmp_path / "b.txt").write_text(f"{hexw(1.0, 1.0)}\n{hexw(1.0, 1.0)}\n")
    (tmp_path / "d.txt").write_text(binw(-0.0) + "\n" + "0" + "1" * 9 + "0" * 22 + "\n")
    args = [
        "validate",
        "--preset",
        "default",
        "--a",
        str(tmp_path / "a.txt"),
        "--b",
        str(tmp_path / "b.txt"),
        "--d",
        str(tmp_path / "d.txt"),
    ]
    code, out, _ = cli(*args)
    assert code == 1 and "FAIL: 2 of 2" in out
    assert "0 (sign of zero or NaN payload)" in out.splitlines()[2]  # -0 vs +0
    assert "0x7FC00000" in out.splitlines()[3]
    (tmp_path / "d.txt").write_text(binw(0.0) + "\n" + "0" + "1" * 9 + "0" * 22 + "\n")
    code, out, _ = cli(*args, "--any-nan")
    assert code == 0


def test_scales_text_and_format_option(tmp_path):
    """e5m2 operands with UE8M0 scales: 2 * 2^(3 - 1) + 1 * 2^(-2 + 0) = 8.25."""
    cfg = ["--preset", "default", "--set", "scale_block=32", "--format", "e5m2"]
    (tmp_path / "a.txt").write_text(hexw(2.0, *[0.0] * 31, 1.0, *[0.0] * 31) + "\n")
    (tmp_path / "b.txt").write_text(hexw(1.0, *[0.0] * 31, 1.0, *[0.0] * 31) + "\n")
    (tmp_path / "sa.txt").write_text("82 7D\n")
    (tmp_path / "sb.txt").write_text("7E 7F\n")
    (tmp_path / "d.txt").write_text(binw(8.25) + "\n")
    files = [f"--{n}={tmp_path / (n + '.txt')}" for n in ("a", "b", "sa", "sb", "d")]
    code, out, _ = cli("validate", *cfg, *files)
    assert code == 0, out
    (tmp_path / "sb.txt").write_text("7E\n")
    code, _, err = cli("validate", *cfg, *files)
    assert code == 2 and "sb.txt:1: 1 scale codes, expected 2" in err
    code, _, err = cli("validate", "--preset", "h100", *files)
    assert code == 2 and "scale_block = 0" in err


@pytest.mark.parametrize(
    "a_text, b_text, msg",
    [
        (
            "3F880000 00000000\n",
            "3F800000 00000000\n",
            "a.txt:1: word 1 0x3F880000: 1.0625 is not exactly a value of e4m3",
        ),
        (
            "7F800000 00000000\n",
            "3F800000 00000000\n",
            "a.txt:1: word 1 0x7F800000: Inf is not a value of e4m3",
        ),
        ("43E80000 00000000\n", "3F800000 00000000\n", "464 is not exactly a value of e4m3"),
        ("3F80000 00000000\n", "3F800000 00000000\n", "a.txt:1: word 1 '3F80000': expected 8 hex"),
        ("3F800000 00000000\n", "3F800000\n", "b.txt:1: 1 words, but"),
        ("3F800000 00000000\n3F800000 00000000\n", "3F800000 00000000\n", "b.txt: 1 test cases"),
    ],
)
def test_bad_text_input_exits_2(tmp_path, a_text, b_text, msg):
    (tmp_path / "a.txt").write_text(a_text)
    (tmp_path / "b.txt").write_text(b_text)
    (tmp_path / "d.txt").write_text(binw(1.0) + "\n")
    code, out, err = cli(
        "validate",
        "--preset",
        "h100",
        "--a",
        str(tmp_path / "a.txt"),
        "--b",
        str(tmp_path / "b.txt"),
        "--d",
        str(tmp_path / "d.txt"),
    )
    assert code == 2 and msg in err and out == ""


def test_bad_binary_word_and_missing_file(tmp_path):
    a, b, c, d = write_case_files(tmp_path, H100_SELF_CHECKS)
    (tmp_path / "d.txt").write_text(binw(1.0) + "\n" + "2" * 32 + "\n" + binw(1.0) + "\n")
    code, _, err = cli("validate", "--preset", "h100", "--a", a, "--b", b, "--d", d)
    assert code == 2 and "d.txt:2: word 1" in err and "32 binary digits" in err
    code, _, err = cli(
        "validate",
        "--preset",
        "h100",
        "--a",
        a,
        "--b",
        b,
        "--d",
        str(tmp_path / "nope.txt"),
    )
    assert code == 2 and "no such file" in err


def test_npz_words_codes_and_planted_difference(tmp_path):
    a = np.array([[H, 0.0], [1.0, -H], [1.0, 0.0]], np.float32)
    b = np.array([[Q, 0.0], [1.0, Q], [1.0, 0.0]], np.float32)
    c = np.array([1.0, 0.0, 3 * 2.0**-14], np.float32)
    d = np.array(H100_SELF_CHECKS, np.float32)
    p = tmp_path / "cases.npz"
    np.savez(p, a=a.view(np.uint32), b=b, c=c.view(np.uint32), d=d)
    code, out, _ = cli("validate", "--preset", "h100", "--npz", str(p))
    assert code == 0 and "PASS: all 3" in out
    codes_a = emu.numerics.formats.encode("e4m3", a.astype(np.float64))
    d2 = d.copy()
    d2.view(np.uint32)[0] ^= 1
    np.savez(p, a=codes_a, b=b, c=c, d=d2)
    code, out, _ = cli("validate", "--preset", "h100", "--npz", str(p))
    assert code == 1 and "cases.npz[0]" in out
    np.savez(p, a=a, b=b)
    code, _, err = cli("validate", "--preset", "h100", "--npz", str(p))
    assert code == 2 and "missing array 'd'" in err


def test_batched_emulation_equals_per_case_gemm(rng):
    """Cases of different K, scales, C: emulate() equals one emu.gemm per case."""
    cfg = emu.preset("deepseek-v3")
    Ks = [128, 256, 128, 200, 256, 128]
    a = [rng.integers(0, 0x7F, k).astype(np.uint8) for k in Ks]
    b = [rng.integers(0, 0x7F, k).astype(np.uint8) for k in Ks]
    sa = [rng.integers(120, 135, -(-k // 128)).astype(np.uint8) for k in Ks]
    sb = [rng.integers(120, 135, -(-k // 128)).astype(np.uint8) for k in Ks]
    c = rng.standard_normal(len(Ks)).astype(np.float32)
    cases = V.Cases(a, b, c, None, sa, sb, [])
    got = V.emulate(cases, cfg)
    for i in range(len(Ks)):
        want = emu.gemm(
            a[i][None],
            b[i][:, None],
            c=c[i : i + 1, None],
            sa=sa[i][None],
            sb=sb[i][:, None],
            config=cfg,
        )[0, 0]
        assert got.view(np.uint32)[i] == np.float32(want).view(np.uint32)
    assert V.batch_size(64) == 62 and V.batch_size(1 << 20) == 1


def test_widened_to_codes():
    f = np.array([0.0, -0.0, 448.0, -(2.0**-9), float("nan")], np.float32).view(np.uint32)
    assert list(V.widened_to_codes(f, "e4m3", "x")) == [0x00, 0x80, 0x7E, 0x81, 0x7F]
    inf = np.array([np.inf, -np.inf], np.float32).view(np.uint32)
    assert list(V.widened_to_codes(inf, "e5m2", "x")) == [0x7C, 0xFC]
    with pytest.raises(UsageError, match="x: word 1 0x477FE000: 65504 is not exactly"):
        V.widened_to_codes(np.array([65504.0], np.float32).view(np.uint32), "e5m2", "x")


def test_help_has_examples():
    code, out, _ = cli("validate", "--help")
    assert code == 0 and "Examples:" in out and "fp8emu validate --preset h100" in out


def test_npz_whole_gemm_dump(tmp_path, rng):
    """A (M, K) x (K, N) dump, as silicon would produce: D from emu.gemm passes; one
    flipped bit is reported at its (row, column)."""
    cfg = emu.preset("mxfp8")
    a = rng.integers(0, 0x7F, (4, 64)).astype(np.uint8)
    b = rng.integers(0, 0x7F, (64, 3)).astype(np.uint8)
    sa = rng.integers(120, 135, (4, 2)).astype(np.uint8)
    sb = rng.integers(120, 135, (2, 3)).astype(np.uint8)
    c = rng.standard_normal((4, 3)).astype(np.float32)
    d = emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg)
    p = tmp_path / "gemm.npz"
    widened = V.widen(a, "e4m3").view(np.uint32)
    np.savez(p, a=widened, b=b, c=c, d=d.view(np.uint32), sa=sa, sb=sb)
    code, out, _ = cli("validate", "--preset", "mxfp8", "--npz", str(p))
    assert code == 0 and out.startswith("PASS: all 12 cases")
    d.view(np.uint32)[2, 1] ^= 1 << 31
    np.savez(p, a=a, b=b, c=c, d=d, sa=sa, sb=sb)
    code, out, _ = cli("validate", "--preset", "mxfp8", "--npz", str(p))
    assert code == 1 and "FAIL: 1 of 12" in out and "d[2,1]" in out
    np.savez(p, a=a, b=b, d=d, sa=sa[:, :1], sb=sb)
    code, _, err = cli("validate", "--preset", "mxfp8", "--npz", str(p))
    assert code == 2 and "sa: expected shape (4, 2)" in err
