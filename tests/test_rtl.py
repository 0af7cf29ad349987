"""The RTL example (examples/rtl): the fp8_dot4 unit equals fp8emu bit for bit in a
cocotb + Icarus Verilog bench, and the bench catches the planted fault.

These tests check the bench's Python side (its golden model, its reading of the
vectors) and need no simulator; the simulator tests are examples/rtl/test_bench.py,
which `make rtl-test` runs after installing Icarus Verilog and cocotb."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import emu

ROOT = Path(__file__).resolve().parents[1]
RTL = ROOT / "examples" / "rtl"
sys.path.insert(0, str(RTL))
import dot4_cases as dc  # noqa: E402
from test_bench import SETUP, run_bench  # noqa: E402  (the bench's one runner)


# ------------------------------------------------------------------ no simulator
def test_the_unit_config_is_exact_with_one_scale_per_four_lanes():
    cfg = dc.unit_config()
    assert cfg == emu.preset("exact").replace(scale_block=4)
    assert (cfg.fused, cfg.align_bits, cfg.acc_format, cfg.acc_round) == (
        "k",
        "exact",
        "fp32",
        "rne",
    )
    assert (cfg.acc_subnormals, cfg.c_in_alignment, cfg.scale_apply) == (True, True, "product")
    assert dc.unit_config("e5m2", "e4m3", acc16=True).acc_format == "fp16"


@pytest.mark.parametrize("acc16", [False, True], ids=["fp32", "fp16"])
def test_the_golden_model_equals_the_reference_case_by_case(acc16):
    """The bench's batched emu.gemm (diagonal of a g x 4 by 4 x g GEMM) equals the
    executable spec run on each case alone."""
    cs = dc.random_cases(240, seed=3, acc16=acc16)
    got = dc.golden(cs)
    for i in range(len(cs)):
        cfg = dc.unit_config(dc.FORMATS[cs.fa[i]], dc.FORMATS[cs.fb[i]], acc16)
        with np.errstate(over="ignore"):
            ref = emu.reference.gemm(
                cs.a[i : i + 1],
                cs.b[i : i + 1].T,
                c=cs.c[i : i + 1].view(np.float32).reshape(1, 1),
                sa=cs.sa[i : i + 1].reshape(1, 1),
                sb=cs.sb[i : i + 1].reshape(1, 1),
                config=cfg,
            )
        assert int(ref.view(np.uint32)[0, 0]) == int(got[i]), (i, cs.describe(i))


def test_the_random_cases_reach_every_kind_of_result():
    cs = dc.random_cases(2000, seed=1)
    f = dc.golden(cs).view(np.float32)
    fin = np.isfinite(f)
    tiny = fin & (np.abs(f) < 2.0**-126) & (f != 0)
    assert np.isnan(f).sum() > 100 and np.isinf(f).sum() > 50
    assert (
        tiny.sum() > 30
        and ((f == 0) & np.signbit(f)).sum() > 5
        and ((f == 0) & ~np.signbit(f)).sum() > 5
    )
    assert set(zip(cs.fa.tolist(), cs.fb.tolist())) == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_the_vectors_are_read_with_the_projects_reader(tmp_path):
    from emu.toolkit.vectors import generate, render

    cfg = dc.unit_config("e5m2", "e5m2")
    cases, skipped = generate(cfg, k=4, n_random=20, seed=0)
    for name, text in render(cases, cfg, skipped).items():
        (tmp_path / name).write_text(text)
    cs = dc.vector_cases(str(tmp_path))
    assert len(cs) == len(cases) and set(cs.fa) == {1}
    assert np.array_equal(dc.golden(cs), cs.expected)
    assert any("inf_plus_minus_inf" in lb for lb in cs.labels)
    with pytest.raises(ValueError, match="config is not the unit's"):
        dc.vector_cases(str(tmp_path), acc16=True)


def test_run_py_says_how_to_install_the_tools_when_they_are_missing(tmp_path):
    code, out, err = run_bench("--random", "1", env={"PATH": str(tmp_path)})
    assert code == 2, (out, err)
    assert "iverilog" in err and SETUP in err
