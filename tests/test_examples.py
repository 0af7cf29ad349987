"""Every example: each examples/*.py self-check (quick sizes) and each program
through the CLI (asm -> disasm -> asm byte-exact, and run)."""

import pytest

from tests.helpers import ROOT, cli, python

SCRIPTS = sorted((ROOT / "examples").glob("*.py"))
PROGRAMS = sorted((ROOT / "examples").glob("*.s"))
QUICK = {"FP8EMU_EXAMPLE_QUICK": "1"}


def test_the_four_program_examples_exist():
    names = {p.stem for p in PROGRAMS}
    assert {"tiled_gemm", "deepseek_v3", "mx_gemm", "rounding_probe"} <= names
    for p in PROGRAMS:
        assert (ROOT / "examples" / f"{p.stem}.py").exists(), f"{p.name} has no checker"


# The quickest script stays in the fast subset; the others take seconds each.
FAST_SCRIPTS = {"rounding_probe.py"}


@pytest.mark.parametrize(
    "script",
    [p if p.name in FAST_SCRIPTS else pytest.param(p, marks=pytest.mark.slow) for p in SCRIPTS],
    ids=lambda p: p.name,
)
def test_example_script_checks_itself(script):
    code, out, err = python(script, cwd=ROOT, env=QUICK, timeout=300)
    assert code == 0, f"{script.name} failed:\n{out}\n{err}"
    if script.with_suffix(".s").exists():
        assert "DIFFERENT" not in out and "MISMATCH" not in out
        assert "bit-identical" in out or out.count(" ok") == 6, out


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_program_round_trips_through_the_cli(program, tmp_path):
    head = program.read_text().split(".param")[0].split(".data")[0]
    assert "fp8emu run" in head, f"{program.name}: the header must say how to run it"
    b1, s2, b2 = tmp_path / "a.bin", tmp_path / "b.s", tmp_path / "b.bin"
    for args in (("asm", program, "-o", b1), ("disasm", b1, "-o", s2), ("asm", s2, "-o", b2)):
        assert cli(*args)[0] == 0
    assert b1.read_bytes() == b2.read_bytes()


def test_probe_program_runs_from_the_cli_as_object_file(tmp_path):
    b = tmp_path / "probe.bin"
    assert cli("asm", ROOT / "examples" / "rounding_probe.s", "-o", b, cwd=ROOT)[0] == 0
    code, _, err = cli("run", b, "--out", f"R={tmp_path / 'r.npy'}", cwd=ROOT)
    assert code == 0, err
    import numpy as np

    assert np.load(tmp_path / "r.npy").astype(float).tolist() == [
        1.0,
        1 + 3 * 2.0**-15,
        1.0,
        1 + 2.0**-13,
        1.0,
        1 + 2.0**-14,
    ]


def _blocks(lang):
    import re

    text = (ROOT / "docs" / "programs.md").read_text()
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def test_docs_programs_md_examples_run(tmp_path, monkeypatch):
    """Every asm block of docs/programs.md assembles, runs and halts with status 0;
    the python block runs against the first one (dot.s)."""
    from emu.machine.interp import run_program

    asm_blocks, py_blocks = _blocks("asm"), _blocks("python")
    assert len(asm_blocks) >= 3 and len(py_blocks) == 1
    for src in asm_blocks:
        status, _, m = run_program(src, filename="programs.md")
        assert status == 0 and m.steps > 5
    (tmp_path / "dot.s").write_text(asm_blocks[0])
    monkeypatch.chdir(tmp_path)
    exec(compile(py_blocks[0], "programs.md", "exec"), {})
