"""fp8emu vectors: directed cases hit their targets, files have the documented
layout, and validate reads them back and passes under several presets."""

import json

import numpy as np
import pytest

import emu
from emu.toolkit import validate as V
from emu.toolkit import vectors
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
    assert u32(d["zero_all_negative"]) == 0x80000000
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
    d, _ = results("mxfp8")  # rz: overflow saturates
    assert d["overflow_scaled"] == np.finfo(np.float32).max
    d, _ = results("exact", acc_round="rd")  # one fused step
    assert u32(d["cancel_products"]) == 0x80000000  # exact cancellation, rd
    d, _ = results("default", acc_round="rd")  # later steps of +0 products give +0
    assert u32(d["cancel_products"]) == 0x00000000


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
