"""fp8emu validate: text / npz formats, bit-exact checking, exit status, errors."""

import json
import re

import numpy as np
import pytest

import emu
from emu.errors import UsageError
from emu.toolkit import validate as V
from emu.toolkit.metrics import result_format
from tests.helpers import cli, one_error_line

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


# ------------------------------------------------------------------ vectors -> device -> validate
def vectors_dir(tmp_path, preset, changes, k, n_random=20):
    args = ["vectors", "--preset", preset, "--k", k, "--random", n_random, "--out", tmp_path / "v"]
    for f, v in changes.items():
        args += ["--set", f"{f}={v}"]
    code, _, err = cli(*args)
    assert code == 0, err
    return tmp_path / "v"


def device(vec, cfg):
    """A stand-in for the RTL: reads the $readmemh files as a bench would (its own
    parsing, not fp8emu's readers), runs every case through emu.gemm alone and
    returns the result words at the result format's width (fp16: numpy's float16)."""
    rows = lambda name: [  # noqa: E731
        list(bytes.fromhex(x))[::-1] for x in (vec / name).read_text().split()
    ]
    a, b = rows("a.hex"), rows("b.hex")
    sa = rows("sa.hex") if cfg.scale_block else None
    sb = rows("sb.hex") if cfg.scale_block else None
    c_hex = [int(x, 16) for x in (vec / "c.hex").read_text().split()]
    fr = result_format(cfg).name
    if fr == "fp16":
        c = np.array(c_hex, np.uint16).view(np.float16).astype(np.float32)
    else:
        c = np.array(c_hex, np.uint32).view(np.float32)
    out = []
    for i in range(len(a)):
        kw = {}
        if cfg.scale_block:
            kw = dict(sa=np.array([sa[i]], np.uint8), sb=np.array([sb[i]], np.uint8).T)
        with np.errstate(over="ignore"):
            d = emu.gemm(
                np.array([a[i]], np.uint8),
                np.array([b[i]], np.uint8).T,
                c=c[i : i + 1, None],
                config=cfg,
                **kw,
            )[0, 0]
        d = np.float32(d)
        out.append(
            int(d.astype(np.float16).view(np.uint16)) if fr == "fp16" else int(d.view(np.uint32))
        )
    return out


@pytest.mark.parametrize(
    "preset, changes, k, digits",
    [
        ("exact", {"acc_format": "fp16", "scale_block": 4}, "4", 4),
        ("exact", {"scale_block": 4}, "4", 8),
        ("h100", {}, "64", 8),
    ],
)
def test_round_trip_vectors_device_validate(tmp_path, preset, changes, k, digits):
    vec = vectors_dir(tmp_path, preset, changes, k)
    cfg = emu.MacConfig.from_toml(vec / "config.toml")
    words = device(vec, cfg)
    assert [f"{w:0{digits}X}" for w in words] == (vec / "d.hex").read_text().split()
    hex_dump = tmp_path / "d_dev.hex"
    hex_dump.write_text("".join(f"{w:0{digits}X}\n" for w in words))
    bin_dump = tmp_path / "d_dev.txt"
    bin_dump.write_text("".join(f"{w:0{4 * digits}b}\n" for w in words))
    what = "16-bit words" if digits == 4 else None
    for layout in ("hex", "text", "testfloat"):
        for dump in (hex_dump, bin_dump):
            args = ["validate", "--config", vec / "config.toml", "--dir", vec, "--d", dump]
            code, out, err = cli(*args, "--layout", layout)
            assert code == 0 and out.startswith(f"PASS: all {len(words)} cases match"), err
            assert (what in out) if what else ("16-bit" not in out)
    code, out, _ = cli("validate", "--config", vec / "config.toml", "--dir", vec, "--layout", "hex")
    assert code == 0  # the vectors' own d.hex
    words[7] ^= 1  # a planted one-bit difference
    hex_dump.write_text("".join(f"{w:0{digits}X}\n" for w in words))
    code, out, _ = cli(
        "validate",
        "--config",
        vec / "config.toml",
        "--dir",
        vec,
        "--layout",
        "hex",
        "--d",
        hex_dump,
    )
    assert code == 1 and out.startswith(f"FAIL: 1 of {len(words)} cases differ")
    row = out.splitlines()[2].split()
    assert row[:2] == ["7", "a.hex:8"] and row[4] == f"0x{words[7]:0{digits}X}"


def test_fp16_results_nan_policy(tmp_path):
    """fp16 results: 16-bit words must hold the canonical 0x7FFF; 0x7E00 is refused
    without --any-nan and accepted with it; fp32-widened words keep 0x7FFFFFFF."""
    vec = vectors_dir(tmp_path, "exact", {"acc_format": "fp16", "scale_block": 4}, "4")
    m = json.loads((vec / "manifest.json").read_text())
    d16 = (vec / "d.hex").read_text().split()
    nan_cases = [i for i, w in enumerate(d16) if w == "7FFF"]
    assert len(nan_cases) == sum(
        1 for w in d16 if int(w, 16) & 0x7C00 == 0x7C00 and int(w, 16) & 0x3FF
    )
    assert len(nan_cases) >= 5 and m["case_names"][nan_cases[0]] == "nan_a_first"
    base = ["validate", "--config", vec / "config.toml", "--dir", vec, "--d"]
    for quiet, canonical, name in (("7E00", "7FFF", "d16.hex"), ("FE00", "7FFF", "d16n.hex")):
        (tmp_path / name).write_text("".join((quiet if w == canonical else w) + "\n" for w in d16))
        code, out, _ = cli(*base, tmp_path / name)
        assert code == 1 and out.startswith(f"FAIL: {len(nan_cases)} of {len(d16)} cases differ")
        row = out.splitlines()[2]
        assert re.search(
            rf"0x7FFF \(nan\) +0x{quiet} \(nan\) +0 \(sign of zero or NaN payload\)", row
        )
        code, out, _ = cli(*base, tmp_path / name, "--any-nan")
        assert code == 0 and out.startswith("PASS")
    d32 = [format(int(x, 2), "08X") for x in (vec / "d.txt").read_text().split()]
    assert {d32[i] for i in nan_cases} == {"7FFFFFFF"}
    (tmp_path / "d32.txt").write_text("".join(w + "\n" for w in d32))
    assert cli(*base, tmp_path / "d32.txt")[0] == 0  # widened: 0x7FFFFFFF
    (tmp_path / "d32q.txt").write_text(
        "".join(("7FC00000" if w == "7FFFFFFF" else w) + "\n" for w in d32)
    )
    code, out, _ = cli(*base, tmp_path / "d32q.txt")
    assert code == 1 and re.search(r"0x7FFFFFFF \(nan\) +0x7FC00000 \(nan\)", out)  # 0x7E00
    assert cli(*base, tmp_path / "d32q.txt", "--any-nan")[0] == 0


def test_json_all_cases(tmp_path):
    a, b, c, d = write_case_files(tmp_path, (1.0, 1.0, 1.0))  # case 2 should be 1 + 2^-13
    rep = tmp_path / "rep.json"
    code, _, _ = cli(
        "validate", "--preset", "h100", "--a", a, "--b", b, "--c", c, "--d", d,
        "--json", rep, "--all",
    )  # fmt: skip
    assert code == 1
    doc = json.loads(rep.read_text())
    assert doc["cases"] == 3 and doc["passed"] == 2 and doc["word_bits"] == 32
    assert doc["nan_policy"] == "NaN must be the canonical 0x7FFFFFFF, bit exact"
    assert len(doc["mismatches"]) == 1 and len(doc["all_cases"]) == 3
    assert doc["all_cases"][0] == {
        "case": 0,
        "where": "a.txt:2",
        "a": "06 00",
        "b": "04 00",
        "c": "0x3F800000",
        "expected": "0x3F800000",
        "got": "0x3F800000",
        "expected_value": 1.0,
        "got_value": 1.0,
        "ulp": 0.0,
        "match": True,
    }
    last = doc["all_cases"][2]
    assert last["a"] == "38 00" and last["c"] == "0x39400000"  # 1 x 1 + 3 x 2^-14
    assert (last["expected"], last["got"], last["ulp"], last["match"]) == (
        "0x3F800400",
        "0x3F800000",
        1.0,
        False,
    )
    code, _, _ = cli("validate", "--preset", "h100", "--a", a, "--b", b, "--c", c, "--d", d,
                     "--json", rep)  # fmt: skip
    assert "all_cases" not in json.loads(rep.read_text())  # only on request


def test_json_all_cases_of_vectors_have_names_and_scales(tmp_path):
    vec = vectors_dir(tmp_path, "exact", {"acc_format": "fp16", "scale_block": 4}, "4", 5)
    rep = tmp_path / "r.json"
    code, _, _ = cli(
        "validate", "--config", vec / "config.toml", "--dir", vec, "--layout", "hex",
        "--json", rep, "--all",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(rep.read_text())
    m = json.loads((vec / "manifest.json").read_text())
    assert [e["name"] for e in doc["all_cases"]] == m["case_names"]
    e = doc["all_cases"][0]
    assert (e["where"], e["a"], e["b"], e["sa"], e["sb"], e["c"]) == (
        "a.hex:1",
        "06 00 00 00",
        "04 00 00 00",
        "7F",
        "7F",
        "0x3C00",
    )
    assert (e["expected"], e["got"], e["match"], doc["word_bits"]) == ("0x3C00", "0x3C00", True, 16)
    assert doc["nan_policy"] == "NaN must be the canonical 0x7FFF, bit exact"


def test_words_of_16_bit_formats():
    w = np.arange(1 << 16, dtype=np.uint32)
    for f in ("fp16", "bf16"):
        v = V.widen_words(w, f)
        assert np.array_equal(V.to_words(v, f), w), f  # every code, NaN payloads too
    words = [0x3C00, 0x8000, 0x7C00, 0x0001, 0x7FFF, 0x7E00, 0xFFFF]
    got = V.widen_words(np.array(words, np.uint32), "fp16").view(np.uint32)
    assert [f"{x:08X}" for x in got] == [
        "3F800000",
        "80000000",
        "7F800000",
        "33800000",  # 2^-24
        "7FFFFFFF",  # the canonical NaN widens to the canonical NaN
        "7FC00000",
        "FFFFFFFF",
    ]
    assert V.widen_words(np.array([0x3F80, 0x7F80], np.uint32), "bf16").tolist() == [1.0, np.inf]
    assert V.word_bits("fp16") == V.word_bits("bf16") == 16
    assert V.word_bits("fp32") == V.word_bits("e8m13") == 32
    nan32 = np.array([0x7FFFFFFF, 0x7FC00000], np.uint32).view(np.float32)
    assert V.to_words(nan32, "fp32").tolist() == [0x7FFFFFFF, 0x7FC00000]  # as they are
    assert V.to_words(nan32, "fp16").tolist() == [0x7FFF, 0x7E00]  # the top fraction bits


def test_npz_with_16_bit_words(tmp_path):
    cfg = ["--preset", "exact", "--set", "acc_format=fp16"]
    a = np.array([[0x38, 0x00], [0x7F, 0x00]], np.uint8)  # 1 x 1; NaN
    b = np.array([[0x38, 0x00], [0x38, 0x00]], np.uint8)
    p = tmp_path / "z.npz"
    np.savez(
        p, a=a, b=b, c=np.array([0x3C00, 0], np.uint16), d=np.array([0x4000, 0x7FFF], np.uint16)
    )
    code, out, _ = cli("validate", *cfg, "--npz", p)
    assert code == 0 and out.startswith(
        "PASS: all 2 cases match (result format fp16, 16-bit words)"
    )
    np.savez(p, a=a, b=b, d=np.array([0x3C00, 0x7E00], np.uint16))
    code, out, _ = cli("validate", *cfg, "--npz", p)
    assert code == 1 and "FAIL: 1 of 2" in out and re.search(r"0x7FFF \(nan\) +0x7E00", out)
    code, _, err = cli("validate", "--preset", "exact", "--npz", p)
    assert code == 2 and "d: expected uint32 fp32 words or float32, got dtype uint16" in err


def test_word_and_layout_errors(tmp_path):
    vec = vectors_dir(tmp_path, "exact", {"acc_format": "fp16", "scale_block": 4}, "4", 3)
    cfg = ["--config", vec / "config.toml"]
    d = tmp_path / "d.txt"
    d.write_text("3C00\n" + "0011110000000000\n")
    code, _, err = cli("validate", *cfg, "--dir", vec, "--d", d)
    one_error_line(
        code, err, r".*d\.txt:2: word 1 '0011110000000000': expected 4 hex digits like line 1"
    )
    code, _, err = cli(
        "validate", "--preset", "exact", "--set", "scale_block=4", "--dir", vec, "--layout", "hex"
    )
    one_error_line(
        code, err, r".*d\.hex:1: word 1 '3C00': a 16-bit word, but fp32 words have 32 bits .*"
    )
    code, _, err = cli("validate", *cfg, "--layout", "hex")
    one_error_line(code, err, r"--layout hex: reads the files of --dir DIR; give --dir")
    code, _, err = cli("validate", *cfg, "--dir", vec, "--all")
    one_error_line(code, err, r"--all lists every case in the --json report: give --json FILE")
    lines = (vec / "a.hex").read_text().splitlines()
    (tmp_path / "a.hex").write_text("\n".join(lines[:2] + [lines[2][:-2]] + lines[3:]) + "\n")
    code, _, err = cli("validate", *cfg, "--dir", vec, "--layout", "hex", "--a", tmp_path / "a.hex")
    one_error_line(code, err, r".*a\.hex:3: 6 hex digits, but line 1 has 8 .*")
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "a.hex").write_text("00\n")
    code, _, err = cli("validate", *cfg, "--dir", bare, "--layout", "testfloat")
    one_error_line(code, err, r"--dir: --layout testfloat needs .*manifest\.json, .*: no such file")
    tf = (vec / "testfloat.txt").read_text().splitlines()
    (vec / "testfloat.txt").write_text("\n".join([tf[0] + " 00"] + tf[1:]) + "\n")
    code, _, err = cli("validate", *cfg, "--dir", vec, "--layout", "testfloat")
    one_error_line(code, err, r".*testfloat\.txt:1: 13 columns, expected 12 \(K = 4 codes .*")
