"""fp8emu vectors: directed cases hit their targets, files have the documented
layout, and validate reads them back and passes under several presets."""

import json

import numpy as np
import pytest

import emu
from emu.numerics.formats import decode
from emu.toolkit import validate as V
from emu.toolkit import vectors
from emu.toolkit.metrics import result_format
from tests.helpers import cli


def results(preset, **changes):
    cfg = emu.preset(preset).replace(**changes) if changes else emu.preset(preset)
    cases, skipped = vectors.generate(cfg, n_random=0)
    return {n: cases.d[i] for i, n in enumerate(cases.where)}, skipped


def u32(x):
    return int(np.float32(x).view(np.uint32))


def test_directed_cases_under_h100_follow_the_spec_self_checks():
    d, skipped = results("h100")
    assert d["selfcheck_c1_small_product"] == 1.0
    assert d["selfcheck_truncation_toward_zero"] == 1.0
    assert d["selfcheck_c_truncated"] == 1 + 2.0**-13
    assert u32(d["nan_a_first"]) == 0x7FFFFFFF and u32(d["nan_c"]) == 0x7FFFFFFF
    # -0: the IEEE sum of -0s; +0 where the preset says every zero result is +0
    positive = getattr(emu.preset("h100"), "zero_sign", "ieee") == "positive"
    assert u32(d["zero_all_negative"]) == (0 if positive else 0x80000000)
    assert d["max_fp32_c"] == (2 - 2.0**-13) * 2.0**127  # rz into e8m13
    names = {s["name"]: s["reason"] for s in skipped}
    assert names["ue8m0_FF_a"] == "needs block scales (scale_block > 0)"
    assert "inf_a" in names and "selfcheck_c1_small_product" not in names


def test_directed_cases_under_exact_and_default():
    d, _ = results("exact")
    assert d["selfcheck_c1_small_product"] == 1 + 3 * 2.0**-15
    assert d["tie_acc_even_pos"] == 2.0**14  # tie -> even
    assert d["tie_acc_odd_pos"] == 2.0**14 + 2.0**-8  # tie -> up to even
    assert d["tie_acc_odd_down_pos"] == 2.0**14  # tie -> down to even
    assert d["carry_round_up_ulp"] == 2.0**14  # carry into next binade
    d, _ = results("default")
    assert u32(d["ue8m0_FF_a"]) == 0x7FFFFFFF
    assert u32(d["ue8m0_FF_zero_block"]) == 0x7FFFFFFF
    assert d["ue8m0_00_FE"] == 2.5  # 2^-127 * 2^127
    assert d["overflow_scaled"] == np.inf and d["overflow_scaled_neg"] == -np.inf
    assert d["overflow_tie"] == np.inf  # max + half ulp, rne
    assert d["underflow_half_min_sub"] == 0.0  # tie to even zero
    assert u32(d["cancel_products"]) == 0 and u32(d["zero_all_negative"]) == 0x80000000
    d, _ = results("mxfp8")  # rz: overflow saturates (unless the preset says +-Inf)
    inf = getattr(emu.preset("mxfp8"), "overflow", "ieee") == "inf"
    assert d["overflow_scaled"] == (np.inf if inf else np.finfo(np.float32).max)
    d, _ = results("exact", acc_round="rd")  # one fused step
    assert u32(d["cancel_products"]) == 0x80000000  # exact cancellation, rd
    # later steps of +0 products: +0 under the old step 6; IEEE 754 6.3 (zero_sign =
    # ieee, contract 5.2) keeps rd's -0 (mixed-sign zeros give -0 under rd)
    d, _ = results("default", acc_round="rd")
    ieee = hasattr(emu.preset("default"), "zero_sign")
    assert u32(d["cancel_products"]) == (0x80000000 if ieee else 0x00000000)


def test_inf_cases_with_e5m2():
    d, skipped = results("default", a_format="e5m2", b_format="e5m2")
    assert d["inf_a"] == np.inf and d["inf_b_neg"] == -np.inf
    for n in (
        "inf_times_zero",
        "inf_plus_minus_inf",
        "inf_c_minus_inf_product",
        "inf_then_nan_later",
    ):
        assert u32(d[n]) == 0x7FFFFFFF, n
    assert not [s for s in skipped if s["name"].startswith("inf")]


def test_alignment_edges_under_h100():
    """Anchor product 2^16, align_bits 13: quantum q = 2^3."""
    d, _ = results("h100")
    assert d["align_keep_lsb_prod"] == 2.0**16 + 8
    assert d["align_below_lsb_prod"] == 2.0**16  # truncated away
    assert d["align_tie_1.5q_prod"] == 2.0**16 + 8  # rz keeps 1 q
    assert d["align_cut_0.75q_neg_prod"] == 2.0**16  # toward zero
    d, _ = results("h100", align_round="rne", acc_round="rne")
    assert d["align_tie_1.5q_prod"] == 2.0**16 + 16  # tie -> 2 q (even)
    assert d["align_tie_2.5q_prod"] == 2.0**16 + 16  # tie -> 2 q (even)
    assert d["align_cut_0.75q_neg_prod"] == 2.0**16 - 8


def test_file_layout(tmp_path):
    cfg = emu.preset("deepseek-v3")
    cases, skipped = vectors.generate(cfg, n_random=5, seed=3)
    files = vectors.render(cases, cfg, skipped, 3)
    K, n = 256, len(cases)
    a_lines = files["a.hex"].splitlines()
    assert len(a_lines) == n and all(len(line) == 2 * K for line in a_lines)
    for i in (0, n - 1):
        row = bytes.fromhex(a_lines[i])[::-1]  # element 0 = last byte
        assert list(row) == list(cases.a[i])
        assert list(bytes.fromhex(files["sb.hex"].splitlines()[i])[::-1]) == list(cases.sb[i])
        assert int(files["d.hex"].splitlines()[i], 16) == u32(cases.d[i])
        assert int(files["c.txt"].splitlines()[i], 2) == u32(cases.c[i])
    m = json.loads(files["manifest.json"])
    assert m["k"] == K and m["cases"] == n and m["scale_blocks"] == 2
    assert m["result_format"] == "fp32" and m["config"]["promote_every"] == 128
    assert m["files"]["a.hex"]["width_bits"] == 8 * K
    assert len(m["case_names"]) == n and m["case_names"][-1] == "random_quantized_4"
    assert m["readmemh"]["a"] == f"reg [{8 * K - 1}:0] a_mem [0:{n - 1}]"
    (tmp_path / "config.toml").write_text(files["config.toml"])
    assert emu.MacConfig.from_toml(tmp_path / "config.toml") == cfg
    assert emu.MacConfig(**m["config"]) == cfg
    h = emu.preset("h100")
    h100 = vectors.render(vectors.generate(h, n_random=1)[0], h)
    assert "sa.hex" not in h100 and "sa.txt" not in h100


@pytest.mark.parametrize(
    "preset, changes",
    [
        ("h100", {}),
        ("default", {}),
        ("deepseek-v3", {}),
        ("mxfp8", {}),
        ("fp32-seq", {}),
        ("exact", {}),
        (
            "default",
            {
                "a_format": "e5m2",
                "b_format": "e5m2",
                "acc_format": "bf16",
                "acc_round": "ru",
                "acc_subnormals": False,
                "c_in_alignment": False,
            },
        ),
    ],
)
def test_round_trip_through_text_files(tmp_path, preset, changes):
    cfg = emu.preset(preset).replace(**changes) if changes else emu.preset(preset)
    cases, skipped = vectors.generate(cfg, n_random=12, seed=1)
    files = vectors.render(cases, cfg, skipped)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    p = {n: str(tmp_path / f"{n}.txt") for n in ("a", "b", "c", "d", "sa", "sb")}
    back = V.read_text(
        p["a"],
        p["b"],
        p["d"],
        p["c"],
        p["sa"] if cfg.scale_block else None,
        p["sb"] if cfg.scale_block else None,
        a_format=cfg.a_format,
        b_format=cfg.b_format,
        scale_block=cfg.scale_block,
    )
    rep = V.check(back, emu.MacConfig.from_toml(tmp_path / "config.toml"))
    assert rep.ok and rep.n == len(cases) > 60


def test_cli_round_trip_and_planted_difference(tmp_path):
    out = tmp_path / "vec"
    code, text, _ = cli("vectors", "--preset", "h100", "--random", "8", "--out", str(out))
    assert code == 0 and "K = 64" in text and "8 random" in text
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "a.hex",
            "b.hex",
            "c.hex",
            "d.hex",
            "a.txt",
            "b.txt",
            "c.txt",
            "d.txt",
            "testfloat.txt",
            "config.toml",
            "manifest.json",
        ]
    )
    code, text, _ = cli("validate", "--config", str(out / "config.toml"), "--dir", str(out))
    assert code == 0 and text.startswith("PASS")
    lines = (out / "d.txt").read_text().splitlines()
    lines[5] = lines[5][:-1] + ("1" if lines[5][-1] == "0" else "0")
    (tmp_path / "rtl_d.txt").write_text("\n".join(lines) + "\n")
    code, text, _ = cli(
        "validate",
        "--config",
        str(out / "config.toml"),
        "--dir",
        str(out),
        "--d",
        str(tmp_path / "rtl_d.txt"),
    )
    assert code == 1 and "FAIL: 1 of" in text and "a.txt:6" in text
    code, text, err = cli("validate", "--preset", "b200", "--dir", str(out))
    assert code == 1 and "differs in" in err


def test_cli_errors(tmp_path):
    code, _, err = cli("vectors", "--preset", "h100", "--out", str(tmp_path / "no" / "such"))
    assert code == 2 and "does not exist" in err
    code, _, err = cli("vectors", "--no-directed", "--random", "0", "--out", str(tmp_path / "v"))
    assert code == 2 and "no test cases" in err and not (tmp_path / "v").exists()
    code, out, _ = cli("vectors", "--help")
    assert code == 0 and "Examples:" in out and "$readmemh" in out


# ------------------------------------------------------------------ words, options, layouts
EXACT16 = ("exact", {"acc_format": "fp16", "scale_block": 4})


def written(tmp_path, preset, changes, *opts, k="4", n_random="30"):
    """Run `fp8emu vectors` into tmp_path/vec: (the directory, its manifest)."""
    args = ["vectors", "--preset", preset, "--k", k, "--random", n_random]
    for f, v in changes.items():
        args += ["--set", f"{f}={v}"]
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / "vec"
    code, text, err = cli(*args, *opts, "--out", out)
    assert code == 0, err
    return out, json.loads((out / "manifest.json").read_text())


def lines(path):
    return path.read_text().splitlines()


def test_c_and_d_words_have_the_result_formats_width(tmp_path):
    """fp16: C and D as 4 hex digits holding fp16 codes, every C a value of fp16."""
    out, m = written(tmp_path, *EXACT16)
    names = m["case_names"]
    c16, d16 = lines(out / "c.hex"), lines(out / "d.hex")
    assert len(c16) == len(d16) == m["cases"] == len(names)
    assert all(len(w) == 4 for w in c16 + d16)
    case = dict(zip(names, zip(c16, d16)))
    assert case["selfcheck_c1_small_product"] == ("3C00", "3C00")  # 1 + 3*2^-15 -> 1
    assert case["tie_acc_odd_pos"] == ("4001", "4002")  # 2(1 + 2^-10) + 2^-10: tie to even
    assert case["nan_a_first"][1] == "7FFF"  # the canonical NaN result
    assert case["nan_c"] == ("7E00", "7FFF")  # a quiet NaN C (as fp32's 0x7FC00000)
    assert case["subnormal_c_min"] == ("0001", "0001")  # 2^-24
    assert case["max_result_c_plus_one"] == ("7BFF", "7BFF")  # 65504 + 1 rounds back
    # C is exactly the value of c.txt (the fp32-widened layout), so a unit with an
    # fp32 C port receives the same numbers
    widened = V.widen_words(np.array([int(w, 16) for w in c16], np.uint32), "fp16")
    assert np.array_equal(widened.view(np.uint32), [int(w, 2) for w in lines(out / "c.txt")])
    skipped = {s["name"]: s["reason"] for s in m["skipped"]}
    assert skipped["max_fp32_c"] == "c not representable in fp16"
    assert m["result_format"] == m["c_format"] == "fp16" and m["word_bits"] == 16


def test_word_widths_of_other_result_formats(tmp_path):
    for preset, changes, bits in (
        ("h100", {}, 32),  # e8m13: an fp32 container, any fp32 C (Hopper's)
        ("default", {"acc_format": "bf16"}, 16),
        ("deepseek-v3", {"acc_format": "fp16"}, 32),  # promoted into fp32: C is fp32
    ):
        cfg = emu.preset(preset).replace(**changes)
        cases, skipped = vectors.generate(cfg, k=256, n_random=4)
        files = vectors.render(cases, cfg, skipped)
        c, d = files["c.hex"].splitlines(), files["d.hex"].splitlines()
        assert {len(w) for w in c + d} == {bits // 4}, preset
        names = list(cases.where)
        if preset == "h100":
            assert c[names.index("max_fp32_c")] == "7F7FFFFF"
            assert d[names.index("max_fp32_c")] == "7F7FFC00"  # rz into e8m13: low 10 bits cleared
        if bits == 16:
            assert c[names.index("subnormal_c_min")] == "0001"  # bf16's 2^-133
            assert d[names.index("nan_c")] == "7FFF"


def test_c_zero_writes_only_positive_zero_c(tmp_path):
    out, m = written(tmp_path, *EXACT16, "--c-zero")
    assert set(lines(out / "c.hex")) == {"0000"}
    assert set(lines(out / "c.txt")) == {"0" * 32}
    assert set(line.split()[-2] for line in lines(out / "testfloat.txt")) == {"0000"}
    skipped = {s["name"]: s["reason"] for s in m["skipped"]}
    assert skipped["tie_acc_even_pos"] == "C is not +0 (--c-zero)"
    assert skipped["zero_negative_c_positive_products"] == "C is not +0 (--c-zero)"
    assert skipped["nan_c"] == "C is not +0 (--c-zero)"
    assert "tie_acc_in_step_even" in m["case_names"] and m["c_zero"] is True
    assert sum(n.startswith("random_") for n in m["case_names"]) == 30
    code, text, _ = cli("validate", "--config", out / "config.toml", "--dir", out)
    assert code == 0 and text.startswith("PASS")
    out32, _ = written(tmp_path / "x", "h100", {}, "--c-zero", k="64")
    assert set(lines(out32 / "c.hex")) == {"00000000"}


@pytest.mark.parametrize(
    "preset, changes",
    [EXACT16, ("default", {"a_format": "e5m2", "b_format": "e5m2"}), ("h100", {})],
)
def test_no_specials_writes_no_nan_or_inf_anywhere(tmp_path, preset, changes):
    k = "4" if preset == "exact" else "64"
    out, m = written(tmp_path, preset, changes, "--no-specials", k=k, n_random="60")
    cfg = emu.MacConfig.from_toml(out / "config.toml")
    fr = result_format(cfg)
    n = m["cases"]
    for name, f in (("a", cfg.a_format), ("b", cfg.b_format)):
        codes = np.array([list(bytes.fromhex(x)) for x in lines(out / f"{name}.hex")])
        assert codes.shape == (n, int(k)) and np.isfinite(decode(f, codes)).all(), name
    if cfg.scale_block:
        for name in ("sa", "sb"):
            scales = [int(x, 16) for x in lines(out / f"{name}.hex")]
            assert len(scales) == n and 0xFF not in scales, name
    for name in ("c", "d"):
        words = np.array([int(x, 16) for x in lines(out / f"{name}.hex")], np.uint32)
        assert len(words) == n and np.isfinite(V.widen_words(words, fr)).all(), name
    for line in lines(out / "testfloat.txt"):  # the same, in the TestFloat layout
        cols = line.split()
        assert np.isfinite(V.widen_words([int(cols[-1], 16)], fr)).all()
    skipped = {s["name"]: s["reason"] for s in m["skipped"]}
    assert skipped["nan_a_first"] == "NaN or Inf operand (--no-specials)"
    assert skipped["nan_c"] == "C is NaN or Inf (--no-specials)"
    if preset == "exact":  # 4 x 448 x 448 overflows fp16
        assert skipped["max_operands_all_k"] == "the result is Inf (an overflow) (--no-specials)"
    if preset == "default":
        assert skipped["ue8m0_FF_a"] == "NaN scale code 0xFF (--no-specials)"
        assert skipped["overflow_scaled"] == "the result is Inf (an overflow) (--no-specials)"
        assert skipped["inf_a"] == "NaN or Inf operand (--no-specials)"
    assert sum(x.startswith("random_") for x in m["case_names"]) == 60
    assert not any("specials" in x for x in m["case_names"])
    assert m["no_specials"] is True
    code, text, _ = cli("validate", "--config", out / "config.toml", "--dir", out)
    assert code == 0 and text.startswith("PASS")


def test_the_manifest_lists_every_file_with_layout_and_width(tmp_path):
    out, m = written(tmp_path, *EXACT16)
    on_disk = {p.name for p in out.iterdir()}
    assert set(m["files"]) == on_disk
    for name, entry in m["files"].items():
        assert entry["layout"] in ("readmemh hex", "text", "testfloat", "toml", "json"), name
        assert entry["holds"], name
    f = m["files"]
    widths = {n: e.get("width_bits") for n, e in f.items()}
    assert widths == {
        "a.hex": 32,
        "b.hex": 32,
        "sa.hex": 8,
        "sb.hex": 8,
        "c.hex": 16,
        "d.hex": 16,
        "a.txt": 32,
        "b.txt": 32,
        "c.txt": 32,
        "d.txt": 32,
        "sa.txt": 8,
        "sb.txt": 8,
        "testfloat.txt": None,  # per column, below
        "config.toml": None,
        "manifest.json": None,
    }
    assert f["c.hex"]["format"] == "fp16" and f["c.hex"]["hex_digits"] == 4
    assert f["d.hex"]["nan"] == "0x7FFF" and f["a.txt"]["words_per_line"] == 4
    tf = f["testfloat.txt"]
    assert [(c["name"], c["count"], c["width_bits"]) for c in tf["columns"]] == [
        ("a", 4, 8),
        ("b", 4, 8),
        ("sa", 1, 8),
        ("sb", 1, 8),
        ("c", 1, 16),
        ("d", 1, 16),
    ]
    assert (
        tf["words_per_line"] == 12
        and tf["order"] == "a[0] .. a[3] b[0] .. b[3] sa[0] .. sa[0] sb[0] .. sb[0] c d"
    )
    n = m["cases"]
    assert m["readmemh"] == {
        "a": f"reg [31:0] a_mem [0:{n - 1}]",
        "b": f"reg [31:0] b_mem [0:{n - 1}]",
        "sa": f"reg [7:0] sa_mem [0:{n - 1}]",
        "sb": f"reg [7:0] sb_mem [0:{n - 1}]",
        "c": f"reg [15:0] c_mem [0:{n - 1}]",
        "d": f"reg [15:0] d_mem [0:{n - 1}]",
    }
    assert m["readmemh_load"]["sb"] == '$readmemh("sb.hex", sb_mem);'
    h100, mh = written(tmp_path / "h", "h100", {}, k="64")  # no scales: no sa/sb anywhere
    assert set(mh["files"]) == {p.name for p in h100.iterdir()}
    assert "sa.hex" not in mh["files"] and set(mh["readmemh"]) == {"a", "b", "c", "d"}
    assert mh["files"]["c.hex"]["width_bits"] == 32


def test_the_testfloat_layout_parses_back_to_the_same_cases(tmp_path):
    for preset, changes, k in (EXACT16 + (4,), ("deepseek-v3", {}, 256), ("h100", {}, 64)):
        cfg = emu.preset(preset).replace(**changes)
        cases, skipped = vectors.generate(cfg, k=k, n_random=20, seed=2)
        files = vectors.render(cases, cfg, skipped)
        path = tmp_path / f"{preset}.txt"
        path.write_text(files["testfloat.txt"])
        fr = result_format(cfg)
        back = V.read_testfloat(path, k=k, scale_block=cfg.scale_block, result_format=fr.name)
        assert len(back) == len(cases)
        for i in range(len(cases)):
            assert list(back.a[i]) == list(cases.a[i]) and list(back.b[i]) == list(cases.b[i])
            if cfg.scale_block:
                assert list(back.sa[i]) == list(cases.sa[i])
                assert list(back.sb[i]) == list(cases.sb[i])
        assert np.array_equal(back.c_words, V.to_words(cases.c, fr))
        assert np.array_equal(back.d_words, V.to_words(cases.d, fr))
        assert back.d_bits == V.word_bits(fr) and V.check(back, cfg).ok
    first = files["testfloat.txt"].splitlines()[0].split()  # h100, selfcheck_c1_small_product
    assert len(first) == 2 * 64 + 2 and first[0] == "06" and first[64] == "04"
    assert first[-2:] == ["3F800000", "3F800000"]
    cfg = emu.preset("exact").replace(**EXACT16[1])
    tf16 = vectors.render(vectors.generate(cfg, k=4)[0], cfg)["testfloat.txt"]
    assert tf16.splitlines()[0] == "06 00 00 00 04 00 00 00 7F 7F 3C00 3C00"
