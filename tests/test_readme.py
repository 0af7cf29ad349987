"""Every ```python block of the README runs."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_readme_python_blocks_run():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})


def test_readme_program_runs_and_equals_gemm():
    """The README's assembly example runs and its D equals emu.gemm under h100."""
    import numpy as np

    import emu
    from emu.machine.interp import run_program
    from emu.numerics.formats import encode

    text = (ROOT / "README.md").read_text()
    (src,) = re.findall(r"```asm\n(.*?)```", text, re.S)
    rng = np.random.default_rng(0)
    a = encode("e4m3", rng.standard_normal((16, 64)))
    b = encode("e4m3", rng.standard_normal((64, 16)))
    status, out, _ = run_program(src, {"A": a, "B": b}, ["D"], filename="README.md")
    assert status == 0
    want = emu.gemm(a, b, config=emu.preset("h100"))
    assert np.array_equal(out["D"].view(np.uint32), want.view(np.uint32))


def test_numerics_doc_examples_print_what_the_doc_says():
    """Every ```python block of docs/numerics.md runs and prints exactly the ```text
    block that follows it (the doc's worked values are the emulator's)."""
    import contextlib
    import io

    text = (ROOT / "docs" / "numerics.md").read_text()
    pairs = re.findall(r"```python\n(.*?)```\s*```text\n(.*?)```", text, re.S)
    assert len(pairs) >= 10
    for code, want in pairs:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "docs/numerics.md", "exec"), {})
        assert out.getvalue() == want, code


def test_doc_links_stay_inside_the_repository():
    """Every relative link of README.md and docs/*.md names a file of this
    repository (a clone has nothing beside it)."""
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        assert "../shared" not in text, doc
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            path = (doc.parent / target).resolve()
            assert path.is_relative_to(ROOT) and path.exists(), (doc.name, target)


def test_generated_tables_are_current():
    """The field, format and preset tables of README.md and docs/numerics.md are
    generated from the numerics tables (`make docs` rewrites them)."""
    from emu.numerics import docgen

    for doc, tables in docgen.TABLES.items():
        text = (ROOT / doc).read_text()
        assert docgen.render(text, tables) == text, f"{doc} is stale: run `make docs`"
