"""Nothing lost, nothing crashes: the defects a hostile new user found, one class each.

1. No output overwrites an input (same file by device and inode: the same name, a
   symbolic or hard link, /dev/stdin redirected from it), in every command; the
   vectors writer owns its directory (no stale files of an earlier run).
2. Input that used to end in an internal error (exit 3): huge literals and deep
   nesting in assembly expressions, malformed .npy headers, huge integers in config
   fields.  Each is one line naming the file (and line:col) or the option, exit 2.
3. Absurd sizes are refused before anything is allocated (vectors, compare, sweep,
   .buffer dimensions), naming the option and the limit.
4. One line where one is promised: validate's manifest note never precedes an error;
   Ctrl-C before a command runs is the one line ``fp8emu: error: interrupted``, 130.
5. Every object file the loader accepts disassembles to source that assembles to the
   same bytes; everything else is a ``byte N: reason`` error.
"""

import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emu.io
from emu.machine.objfile import HEADER, ObjectError, ObjectFile, Symbol
from emu.numerics.fields import FIELDS, MAX_INT
from isa import AsmError, assemble, disassemble
from tests.helpers import (
    PREFIX,
    ROOT,
    byte_error,
    cli,
    console_process,
    one_error_line,
    python,
    source_error,
    subprocess_env,
    temp_files,
)
from tests.test_asm import objects

PROG = """
    .data
    .buffer A, u8, 2, 4
    .buffer D, f32, 2, 2
    .text
    halt
"""


def fuzz(n):
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


@pytest.fixture
def w(tmp_path):
    """A work directory with small inputs of every command."""
    np.save(tmp_path / "a.npy", np.zeros((2, 64), np.uint8))
    np.save(tmp_path / "b.npy", np.zeros((64, 2), np.uint8))
    np.save(tmp_path / "x.npy", np.ones((2, 8), np.float32))
    np.save(tmp_path / "A.npy", np.zeros((2, 4), np.uint8))
    (tmp_path / "p.s").write_text(PROG)
    (tmp_path / "p.bin").write_bytes(assemble(PROG, "p.s").to_bytes())
    (tmp_path / "c.toml").write_text("scale_block = 0\n")
    return tmp_path


def snapshot(d):
    """{relative path: bytes} of every file under d."""
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            if os.path.isfile(p):
                out[os.path.relpath(p, d)] = open(p, "rb").read()
    return out


# ================================================================ 1. data loss
OVERWRITES = [
    (["gemm", "--a", "a.npy", "--b", "b.npy", "--out", "a.npy"], "--out a.npy", "--a a.npy"),
    (["gemm", "--a", "a.npy", "--b", "b.npy", "--out", "b.npy"], "--out b.npy", "--b b.npy"),
    (
        ["gemm", "--a", "a.npy", "--b", "b.npy", "--config", "c.toml", "--out", "c.toml"],
        "--out c.toml",
        "--config c.toml",
    ),
    (
        ["quantize", "--x", "x.npy", "--block", "1x4", "--out", "x.npy", "--scales", "s.npy"],
        "--out x.npy",
        "--x x.npy",
    ),
    (
        ["quantize", "--x", "x.npy", "--block", "1x4", "--out", "q.npy", "--scales", "x.npy"],
        "--scales x.npy",
        "--x x.npy",
    ),
    (["asm", "p.s", "-o", "p.s"], "-o p.s", "p.s"),
    (["disasm", "p.bin", "-o", "p.bin"], "-o p.bin", "p.bin"),
    (["run", "p.s", "--out", "D=p.s"], "--out D p.s", "p.s"),
    (["run", "p.bin", "--in", "A=A.npy", "--out", "A=A.npy"], "--out A A.npy", "--in A A.npy"),
    (
        ["run", "p.s", "--config", "c.toml", "--out", "D=c.toml"],
        "--out D c.toml",
        "--config c.toml",
    ),
    (
        ["compare", "--a", "x.npy", "--b", "x.npy", "--json", "x.npy"],
        "--json x.npy",
        "--a x.npy",
    ),
    (
        ["compare", "--config", "c.toml", "--k", "8", "--m", "1", "--n", "1", "--json", "c.toml"],
        "--json c.toml",
        "--config c.toml",
    ),
    (
        ["validate", "--config", "c.toml", "--npz", "none.npz", "--json", "c.toml"],
        "--json c.toml",
        "--config c.toml",
    ),
    (
        ["sweep", "--config", "c.toml", "--vary", "align_bits=3,4", "--k", "8", "--csv", "c.toml"],
        "--csv c.toml",
        "--config c.toml",
    ),
    (
        ["sweep", "--config", "c.toml", "--vary", "align_bits=3,4", "--k", "8", "--plot", "c.toml"],
        "--plot c.toml",
        "--config c.toml",
    ),
]


@pytest.mark.parametrize(
    "args, out, inp", OVERWRITES, ids=[" ".join(a[:1] + [o]) for a, o, _ in OVERWRITES]
)
def test_an_output_that_is_an_input_is_refused(w, args, out, inp):
    before = snapshot(w)
    code, _, err = cli(*args, cwd=w)
    text = one_error_line(code, err)
    assert text == f"{out}: would overwrite the input {inp}; write the output to another file"
    assert snapshot(w) == before and temp_files(w) == []


def test_links_to_an_input_are_the_same_file(w):
    os.symlink("a.npy", w / "sym.npy")
    os.link(w / "b.npy", w / "hard.npy")
    os.symlink("p.s", w / "sym.s")
    before = snapshot(w)
    for out, inp in (("sym.npy", "--a a.npy"), ("hard.npy", "--b b.npy")):
        code, _, err = cli("gemm", "--a", "a.npy", "--b", "b.npy", "--out", out, cwd=w)
        assert one_error_line(code, err) == (
            f"--out {out}: would overwrite the input {inp} (the same file); "
            "write the output to another file"
        )
    code, _, err = cli("asm", "sym.s", "-o", "p.s", cwd=w)
    one_error_line(code, err, r"-o p\.s: would overwrite the input sym\.s \(the same file\); .*")
    assert snapshot(w) == before and os.path.islink(w / "sym.npy")


def test_stdin_redirected_from_the_output_is_the_same_file(w):
    """`fp8emu disasm /dev/stdin -o p.bin < p.bin`: /dev/stdin is p.bin."""
    before = (w / "p.bin").read_bytes()
    with open(w / "p.bin", "rb") as fh:
        p = subprocess.run(
            [sys.executable, "-m", "emu.cli", "disasm", "/dev/stdin", "-o", "p.bin"],
            cwd=w,
            env=subprocess_env(),
            stdin=fh,
            capture_output=True,
            text=True,
            timeout=120,
        )
    one_error_line(
        p.returncode,
        p.stderr,
        r"-o p\.bin: would overwrite the input /dev/stdin \(the same file\).*",
    )
    assert (w / "p.bin").read_bytes() == before


def test_distinct_files_and_devices_are_still_written(w):
    assert cli("asm", "p.s", "-o", "q.bin", cwd=w)[0] == 0
    assert cli("disasm", "p.bin", "-o", "/dev/null", cwd=w)[0] == 0
    assert cli("run", "p.s", "--in", "A=A.npy", "--out", "A=A2.npy", cwd=w)[0] == 0
    assert (w / "q.bin").read_bytes() == (w / "p.bin").read_bytes()


def test_vectors_refuses_a_directory_holding_its_config(w):
    v = w / "v"
    assert cli("vectors", "--preset", "h100", "--k", "64", "--random", "1", "--out", v)[0] == 0
    before = snapshot(v)
    t0 = time.monotonic()
    code, _, err = cli(
        "vectors", "--config", v / "config.toml", "--k", "4096", "--random", "2000", "--out", v
    )
    assert one_error_line(code, err) == (
        f"--out {v}/config.toml: would overwrite the input --config {v}/config.toml; "
        "write the output to another file"
    )
    assert time.monotonic() - t0 < 5  # refused before the work
    assert snapshot(v) == before


def test_the_api_writer_refuses_registered_inputs(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("input")
    emu.io.save_all([(b, "x", "B")])  # outside a command nothing is registered
    with emu.io.command_inputs():
        emu.io.add_input(a, "--in")
        with pytest.raises(emu.io.UsageError, match=r"^A .*a\.txt: would overwrite the input"):
            emu.io.save_all([(b, "new", "B"), (a, "lost", "A")])
        with pytest.raises(emu.io.UsageError, match="would overwrite"):
            emu.io.check_writable(a, "A")
        with pytest.raises(emu.io.UsageError, match="would overwrite"):
            emu.io.save_all([], remove=[(a, "A")])
    assert a.read_text() == "input" and b.read_text() == "x"
    emu.io.save_all([(a, "mine", "A")])  # the scope ended
    assert a.read_text() == "mine"


VEC_SCALED = {"sa.hex", "sb.hex", "sa.txt", "sb.txt"}


def test_vectors_into_an_earlier_run_removes_its_stale_files(w):
    v = w / "v"
    assert cli("vectors", "--preset", "default", "--k", "64", "--random", "1", "--out", v)[0] == 0
    assert VEC_SCALED <= set(os.listdir(v))
    (v / "rtl_d.txt").write_text("my dump\n")  # not the writer's: stays
    assert cli("vectors", "--preset", "h100", "--k", "64", "--random", "1", "--out", v)[0] == 0
    names = set(os.listdir(v))
    assert not names & VEC_SCALED and "rtl_d.txt" in names
    manifest = json.loads((v / "manifest.json").read_text())
    assert names == set(manifest["files"]) | {"manifest.json", "rtl_d.txt"}
    code, out, err = cli("validate", "--config", v / "config.toml", "--dir", v)
    assert code == 0 and out.startswith("PASS") and err == ""


def test_vectors_refuses_a_foreign_non_empty_directory(w):
    (w / "mine").mkdir()
    (w / "mine" / "notes.txt").write_text("keep\n")
    code, _, err = cli("vectors", "--preset", "h100", "--out", w / "mine", "--random", "1")
    assert one_error_line(code, err) == (
        f"--out {w}/mine: the directory is not empty and holds no earlier fp8emu vectors "
        "(no manifest.json of theirs); give a new or empty directory"
    )
    assert os.listdir(w / "mine") == ["notes.txt"]
    (w / "empty").mkdir()
    assert (
        cli("vectors", "--preset", "h100", "--k", "64", "--random", "1", "--out", w / "empty")[0]
        == 0
    )


def test_vectors_removes_only_its_own_file_names(w):
    """A manifest listing other names (../x, a dump) never makes the writer delete them."""
    v = w / "v"
    assert cli("vectors", "--preset", "default", "--k", "64", "--random", "1", "--out", v)[0] == 0
    m = json.loads((v / "manifest.json").read_text())
    m["files"]["../a.npy"] = {}
    m["files"]["rtl.txt"] = {}
    (v / "manifest.json").write_text(json.dumps(m))
    (v / "rtl.txt").write_text("dump\n")
    assert cli("vectors", "--preset", "h100", "--k", "64", "--random", "1", "--out", v)[0] == 0
    assert (w / "a.npy").exists() and (v / "rtl.txt").exists()


# ================================================================ 2. internal errors
@pytest.mark.parametrize(
    "src, pattern",
    [
        (".data\n.float " + "1" * 400, r"2:8: error: expected a value within fp32 range, .*"),
        (".data\n.e4m3 10**400", r"2:7: error: expected a value within e4m3 range, .*"),
        (".data\n.e5m2 " + "9" * 2000, r"2:7: error: expected a smaller value \(over 4096 bits\)"),
        (".equ X, 0x" + "f" * 1100, r"1:9: error: expected a smaller value \(over 4096 bits\)"),
        (".equ X, 0b1" + "0" * 4096, r"1:9: error: expected a smaller value \(over 4096 bits\)"),
        (".data\n.float 0x1p99999", r"2:8: error: expected a float within float64 range, .*"),
        (".data\n.float (-8)**0.5", r"2:12: error: expected a real result, .*"),
        (
            ".equ X, " + "(" * 150 + "1" + ")" * 150,
            r"1:\d+: error: expected an expression nested .*",
        ),
        (".equ X, " + "-" * 5000 + "1", r"1:\d+: error: expected an expression nested at most .*"),
        (".equ X, " + "~" * 101 + "1", r"1:\d+: error: expected an expression nested at most .*"),
        (".equ X, 1" + "**1" * 3000, r"1:\d+: error: expected an expression nested at most .*"),
        (".equ X, 0x_", r"1:9: error: expected digits after '0x_'"),
        ("L" * 300 + ": halt", r"1:1: error: expected a symbol name of at most 255 characters.*"),
    ],
)
def test_assembler_limits_are_source_errors(tmp_path, src, pattern):
    (tmp_path / "e.s").write_text(src + "\n")
    code, _, err = cli("asm", "e.s", "-o", "e.bin", cwd=tmp_path)
    one_error_line(code, err, r"e\.s:" + pattern)
    assert not (tmp_path / "e.bin").exists()


def test_nesting_within_the_limit_still_assembles():
    obj = assemble(".equ X, " + "(" * 90 + "-~-1" + ")" * 90 + "\nli x1, X\nhalt", "n.s")
    assert obj.words == assemble("li x1, 0\nhalt", "m.s").words


def _asm_error_or_object(text):
    try:
        return assemble(text, "p.s")
    except AsmError as e:
        msg = str(e)
        assert "\n" not in msg and re.fullmatch(source_error("p.s"), msg), msg
        line, col = map(int, re.match(r"p\.s:(\d+):(\d+)", msg).groups())
        lines = text.split("\n")
        assert 1 <= line <= len(lines) and 1 <= col <= len(lines[line - 1]) + 1, msg
        return None


@fuzz(120)
@given(
    st.lists(st.sampled_from(["(", "-", "+", "~", "2**", "(1+", "-(", "3*("]), max_size=260),
    st.sampled_from(["1", "2.5", "x", "0x10", "1e308", "nan"]),
    st.sampled_from(
        [".equ V, {}", ".data\n.float {}", ".data\n.word {}", "li x1, {}", "cfg fused, {}"]
    ),
)
def test_expressions_of_any_nesting_are_values_or_source_errors(prefix, atom, where):
    expr = "".join(prefix) + atom
    expr += ")" * (expr.count("(") - expr.count(")"))
    _asm_error_or_object(where.format(expr) + "\nhalt")


literal_texts = st.one_of(
    st.integers(-(2**5000), 2**5000).map(str),
    st.integers(0, 2**5000).map(hex),
    st.integers(0, 2**5000).map(bin),
    st.integers(0, 2**5000).map(oct),
    st.integers(1, 6000).map(lambda n: "9" * n),
    st.integers(-40000, 40000).map(lambda e: f"0x1.8p{e}"),
    st.integers(-40000, 40000).map(lambda e: f"1.5e{e}"),
)


@fuzz(150)
@given(
    literal_texts,
    st.sampled_from(
        [
            ".equ V, {}",
            ".data\n.float {}",
            ".data\n.e4m3 {}",
            ".data\n.word {}",
            ".data\n.byte {}",
            "li x1, {}",
            "cfg fused, {}",
            ".data\n.zero {}",
            ".data\n.buffer B, u8, {}",
            ".equ V, {} * 2.0",
            ".equ V, {} / 3",
            ".equ V, 2.0 ** {}",
        ]
    ),
)
def test_literals_of_any_size_are_values_or_source_errors(lit, where):
    _asm_error_or_object(where.format(lit) + "\nhalt")


def _npy(header: str, data: bytes = b"", version=(1, 0)) -> bytes:
    h = header.encode("latin1")
    h += b" " * (-(10 + len(h) + 1) % 64) + b"\n"
    size = struct.pack("<H" if version == (1, 0) else "<I", len(h))
    return b"\x93NUMPY" + bytes(version) + size + h + data


BAD_HEADERS = [
    ("{'descr': '|u1', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "Failed"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", "Fail"),
    ("{'descr': '<f1', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "Failed"),
    ("{'descr': '|u1', 'fortran_order': False, 'shape': (-1, 4), }", "shape is not a tuple"),
    ("{'descr': '|u1', 'fortran_order': False, 'shape': (2.5,), }", "shape is not a tuple"),
    ("{'descr': '|u1', 'fortran_order': 3, 'shape': (2, 4), }", "fortran_order is not"),
    ("{'descr': 'zz', 'fortran_order': False, 'shape': (2, 4), }", "descr is not a valid"),
    ("{'descr': '|u1'}", "the header must have the keys"),
    ("{'descr': '|u1', 'fortran_order': False, 'shape': " + "(" * 300 + ")" * 300 + "}", "dict"),
    ("{'descr': '|u1', 'fortran_order': False, 'shape': (" + "9" * 5000 + ",)}", "dict"),
    ("{'descr': '|u1', 'fortran_order': False, 'shape': (" + "9" * 12000 + ",)}", "header of"),
    ("[1, 2, 3]", "the header must have the keys"),
]


@pytest.mark.parametrize("header, reason", BAD_HEADERS, ids=range(len(BAD_HEADERS)))
def test_malformed_npy_headers_are_one_line(w, header, reason):
    (w / "h.npy").write_bytes(_npy(header, b"\0" * 8))
    for args, opt in (
        (["gemm", "--a", "h.npy", "--b", "b.npy", "--out", "o.npy"], "--a"),
        (["run", "p.s", "--in", "A=h.npy", "--out", "D=o.npy"], "--in A"),
    ):
        code, _, err = cli(*args, cwd=w)
        text = one_error_line(code, err, rf"{opt}: h\.npy: not a readable \.npy file \(.+\)")
        assert reason in text and len(text) < 300, text
        assert not (w / "o.npy").exists()


@fuzz(120)
@given(
    st.fixed_dictionaries(
        {
            "descr": st.sampled_from(["'|u1'", "'<f4'", "'<f1'", "'|V1'", "'zz'", "'<U3'", "1"]),
            "fortran_order": st.sampled_from(["False", "True", "0", "None"]),
            "shape": st.one_of(
                st.lists(st.integers(-3, 2**66), max_size=3).map(
                    lambda s: "(" + "".join(f"{d}, " for d in s) + ")"
                ),
                st.sampled_from(["(2, 4)", "(8,)", "()", "[2, 4]", "'x'", "(2**40,)"]),
            ),
        }
    ),
    st.binary(max_size=40),
    st.sampled_from([(1, 0), (2, 0), (3, 0)]),
)
def test_any_npy_header_loads_or_is_one_line(tmp_path_factory, head, data, version):
    d = tmp_path_factory.mktemp("npy")
    (d / "p.s").write_text(PROG)
    text = "{" + ", ".join(f"'{k}': {v}" for k, v in head.items()) + "}"
    (d / "h.npy").write_bytes(_npy(text, data, version))
    code, _, err = cli("run", "p.s", "--in", "A=h.npy", cwd=d)
    if code != 0:
        one_error_line(code, err, r"--in A(=h\.npy: buffer A expects .*|: h\.npy: .*)")


def test_npz_members_are_checked_like_npy_files(w):
    import zipfile

    huge = _npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4294967296, 4294967296)}")
    cases = [
        ({"a.npy": huge}, r"array 'a' is not readable \(Failed to read all data for array\. .*\)"),
        ({"a": b"hello"}, r"member 'a' is not a \.npy array"),
        ({"a.npy": _npy("{'descr': 'zz', 'fortran_order': False, 'shape': ()}")}, r".*descr.*"),
    ]
    for members, pattern in cases:
        with zipfile.ZipFile(w / "m.npz", "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
        code, _, err = cli("validate", "--npz", "m.npz", cwd=w)
        one_error_line(code, err, r"--npz: m\.npz: " + pattern)
    (w / "one.npy").write_bytes(huge)  # a single array: said so, never loaded
    code, _, err = cli("validate", "--npz", "one.npy", cwd=w)
    one_error_line(
        code, err, r"--npz: one\.npy: is a single \.npy array, expected an \.npz archive"
    )


INT_FIELDS = [f.name for f in FIELDS if f.type == "int"]


def test_int_fields_have_bounds_that_name_the_field(w):
    assert all(f.maximum is not None or f.values for f in FIELDS if f.type == "int")
    for value in (2**63, 99999999999999999999999, MAX_INT + 1):
        code, _, err = cli(
            "gemm", "--a", "a.npy", "--b", "b.npy", "--out", "o.npy",
            "--set", "scale_block=0", "--set", f"fused={value}", cwd=w,
        )  # fmt: skip
        one_error_line(
            code, err, rf"--set .*fused={value}.*: fused must be at most {MAX_INT} \(or 'k'\).*"
        )
        (w / "f.toml").write_text(f"scale_block = 0\nfused = {value}\n")
        code, _, err = cli("gemm", "--a", "a.npy", "--b", "b.npy", "--config", "f.toml",
                           "--out", "o.npy", cwd=w)  # fmt: skip
        one_error_line(code, err, rf"f\.toml: fused must be at most {MAX_INT} \(or 'k'\), got .*")
    assert not (w / "o.npy").exists()
    (w / "f.toml").write_text("fused = " + "9" * 5000 + "\n")
    code, _, err = cli("validate", "--config", "f.toml", "--npz", "none.npz", cwd=w)
    one_error_line(code, err, r"f\.toml: malformed TOML: an integer of over 4300 digits")


huge = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-(2**4000), 2**4000),
    st.sampled_from([2**63, 2**63 - 1, -(2**63), 2**64, MAX_INT, MAX_INT + 1, 10**23]),
)


@fuzz(150)
@given(
    st.sampled_from(INT_FIELDS),
    st.one_of(huge.map(str), huge.map(hex), st.integers(41, 6000).map(lambda n: "9" * n)),
    st.booleans(),
)
def test_huge_integers_in_every_int_field_are_one_line(tmp_path_factory, name, text, toml):
    """validate with a missing --npz: the config is resolved first, so a legal value
    reaches 'no such file' and an illegal one is the config error naming the field."""
    d = tmp_path_factory.mktemp("cfg")
    if toml:
        (d / "c.toml").write_text(f"{name} = {text}\n")
        args = ["--config", "c.toml"]
    else:
        args = ["--set", f"{name}={text}"]
    code, _, err = cli("validate", *args, "--npz", "none.npz", cwd=d)
    msg = one_error_line(code, err)
    assert len(msg) < 12000
    if "none.npz" not in msg:
        assert name in msg or "malformed TOML" in msg, msg
        assert msg.startswith("c.toml: " if toml else "--set "), msg


# ================================================================ 3. absurd sizes
@pytest.mark.parametrize(
    "args, pattern",
    [
        (["vectors", "--k", "100000000"], r"--k 100000000: at most 65536 values per dot product"),
        (["vectors", "--random", "10000000000"], r"--random 10000000000: at most 1048576 .*"),
        (["vectors", "--k", "65536", "--random", "1000"], r"--k 65536 x \(\d+ directed \+ .*"),
        (
            ["vectors", "--set", "scale_block=0", "--set", f"promote_every={MAX_INT}"],
            r"--k: this config's default K \(2147483648: .*\) is over 65536; give --k",
        ),
        (["compare", "--k", "100000000"], r"--m 128 x --k 100000000: the generated A .*"),
        (["compare", "--m", "2", "--n", "10000000000", "--k", "1"], r"--k 1 x --n .*"),
        (["compare", "--m", "4096", "--n", "4096", "--k", "1"], r"--m 4096 x --n 4096: .* D .*"),
        (
            ["compare", "--m", "1024", "--n", "1024", "--k", "16384"],
            r"--m 1024 x --n 1024 x --k 16384 = \d+ multiply-accumulates, at most 4294967296 .*",
        ),
        (["sweep", "--vary", "k=8,100000000"], r"sweep point k=100000000: --m 128 x --k .*"),
        (["sweep", "--vary", "m=1,99999999999999999999", "--k", "8"], r"sweep point m=.*"),
    ],
)
def test_absurd_generated_sizes_are_refused_at_once(tmp_path, args, pattern):
    t0 = time.monotonic()
    code, _, err = cli(*args, "--out", tmp_path / "v") if args[0] == "vectors" else cli(*args)
    one_error_line(code, err, pattern)
    assert time.monotonic() - t0 < 10
    assert not (tmp_path / "v").exists()


def test_huge_buffers_are_refused_before_memory_is_allocated(tmp_path):
    (tmp_path / "b.s").write_text(".data\n.buffer A, f32, 4294967296, 4294967296\n.text\nhalt\n")
    (tmp_path / "c.s").write_text(".data\n.buffer A, f32, 65536, 65536\n.text\nhalt\n")
    code, _, err = cli("run", "b.s", cwd=tmp_path)
    one_error_line(code, err, source_error("b.s"))
    code, _, err = cli("run", "c.s", "--out", "A=o.npy", cwd=tmp_path)
    one_error_line(
        code, err, r"c\.s: buffer A \(0x0 \+ 17179869184 bytes\) does not fit the machine's .*"
    )
    code, _, err = cli("run", "c.s", "--mem-size", "32G", cwd=tmp_path)
    one_error_line(code, err, r"--mem-size '32G': expected a size from 1 byte to 16G")
    big = ObjectFile([], [], [Symbol("A", "buffer", 0, "f32", (1 << 32, 1 << 32))]).to_bytes()
    (tmp_path / "b.bin").write_bytes(big)
    code, _, err = cli("run", "b.bin", cwd=tmp_path)
    one_error_line(code, err, byte_error("b.bin"))


def test_quantize_with_a_huge_block_is_bounded_by_the_data(w):
    code, _, err = cli(
        "quantize", "--x", "x.npy", "--block", "100000000000x100000000000",
        "--out", "q.npy", "--scales", "s.npy", cwd=w,
    )  # fmt: skip
    assert code == 0, err
    assert np.load(w / "s.npy").shape == (1, 1)


# ================================================================ 4. one line
def test_validate_prints_no_note_before_an_error_line(w):
    v = w / "v"
    assert cli("vectors", "--preset", "h100", "--k", "64", "--random", "1", "--out", v)[0] == 0
    (w / "bad_d.txt").write_text("not binary\n")
    code, _, err = cli("validate", "--preset", "b200", "--dir", v, "--d", w / "bad_d.txt")
    one_error_line(code, err, r".*bad_d\.txt:1: .*")
    code, out, err = cli("validate", "--preset", "b200", "--dir", v)
    assert code == 1 and out.startswith("FAIL") and len(err.splitlines()) == 1
    assert err.startswith("note: ") and "differs in" in err


def test_ctrl_c_before_the_command_runs_is_one_line():
    """The handler is in place once emu.cli is imported by the console program (here
    a process that names itself fp8emu): SIGINT then is the one line and 130."""
    code = (
        "import sys; sys.argv[0] = 'fp8emu'; import os, signal, time, emu.cli; "
        "os.kill(os.getpid(), signal.SIGINT); time.sleep(30); print('not interrupted')"
    )
    rc, out, err = python("-c", code)
    assert rc == 130 and err == PREFIX + "interrupted\n" and out == ""
    # a program importing emu.cli keeps Python's own Ctrl-C
    # (Python's handler set first: a parent that ignores SIGINT, as a shell does for
    # background jobs, passes SIG_IGN on)
    rc, out, err = python(
        "-c",
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "import emu.cli; print(signal.getsignal(signal.SIGINT))",
    )
    assert rc == 0 and "default_int_handler" in out


def test_ctrl_c_in_a_running_console_command_is_one_line(tmp_path):
    (tmp_path / "loop.s").write_text("top: j top\n")
    p = console_process("run", tmp_path / "loop.s", "--max-steps", str(10**12))
    time.sleep(3)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and err == (PREFIX + "interrupted\n").encode(), err


# ================================================================ 5. round trip
def _crc(data: bytes) -> bytes:
    return data[:20] + struct.pack("<I", zlib.crc32(data[HEADER.size :])) + data[24:]


SRC = """
top: li x1, 1
    bne x1, x0, top
    halt
end:
.data
v: .word 7, 8
.buffer A, u8, 4, 4
.buffer B, f32, 2
w: .byte 1, 2, 3
"""


def _bad(mutate):
    data = bytearray(assemble(SRC, "s.s").to_bytes())
    obj = ObjectFile.from_bytes(bytes(data))
    mutate(data, obj)
    with pytest.raises(ObjectError) as e:
        ObjectFile.from_bytes(_crc(bytes(data)))
    msg = str(e.value)
    assert re.fullmatch(r"byte \d+: \S.*", msg), msg
    return msg


def _sym_offset(data, index):
    """File offset of symbol record ``index``."""
    nw, nseg, nsym = struct.unpack_from("<III", data, 8)
    pos = HEADER.size + 8 * nw
    for _ in range(nseg):
        n = struct.unpack_from("<Q", data, pos + 8)[0]
        pos += 16 + n + (-n % 8)
    for _ in range(index):
        ndim, nlen = data[pos + 2], data[pos + 3]
        pos += 16 + 8 * ndim + nlen + (-nlen % 8)
    return pos


def test_objects_that_would_not_round_trip_are_refused():
    def set_addr(i, v):
        return lambda d, o: d.__setitem__(slice(_sym_offset(d, i) + 8, _sym_offset(d, i) + 16),
                                          struct.pack("<Q", v))  # fmt: skip

    names = [s.name for s in ObjectFile.from_bytes(assemble(SRC, "s.s").to_bytes()).symbols]
    assert names == ["top", "end", "v", "A", "B", "w"]
    cases = [
        (set_addr(1, 0x100), "code label end at 0x100 is not at an instruction of the program"),
        (set_addr(0, 4), "code label top at 0x4 is not at an instruction"),
        (set_addr(3, 0x100), "buffer symbol B at 0x80 is out of address order"),
        (set_addr(4, 0x0), "buffer symbol B at 0x0 is out of address order"),
    ]
    for mutate, want in cases:
        assert want in _bad(mutate)
    # a moved buffer that keeps the order round-trips (the disassembly says .org)
    data = bytearray(assemble(SRC, "s.s").to_bytes())
    set_addr(4, 0x1000)(data, None)
    set_addr(5, 0x2000)(data, None)
    obj = ObjectFile.from_bytes(_crc(bytes(data)))
    assert assemble(disassemble(obj), "d.s").to_bytes() == _crc(bytes(data))


def test_the_loader_refuses_names_order_padding_and_segments_the_assembler_cannot_make():
    bad = [
        (ObjectFile([], [], [Symbol("x1", "data", 0)]), "is a reserved word or register name"),
        (ObjectFile([], [], [Symbol("inf", "data", 0)]), "is a reserved word or register name"),
        (
            ObjectFile([0x1], [], [Symbol("v", "data", 0), Symbol("c", "code", 0)]),
            "code label c after data symbols",
        ),
        (ObjectFile([], [(0, b"ab"), (2, b"cd")], []), "adjoins the previous one"),
        (ObjectFile([], [(0, b"")], []), "segment at 0x0 is empty"),
    ]
    for obj, want in bad:
        with pytest.raises(ObjectError, match=re.escape(want)):
            ObjectFile.from_bytes(obj.to_bytes())
    data = bytearray(ObjectFile([], [(0, b"abc")], [Symbol("v", "data", 0)]).to_bytes())
    data[HEADER.size + 16 + 3] = 1  # the segment's padding
    with pytest.raises(ObjectError, match=r"^byte 51: padding after the segment data is not zero"):
        ObjectFile.from_bytes(_crc(bytes(data)))
    with pytest.raises(ObjectError, match=r"^byte 20: CRC-32 mismatch"):  # corrupt: says so
        ObjectFile.from_bytes(bytes(data))


EXAMPLES = sorted((ROOT / "examples").glob("*.s"))


@st.composite
def mutated_valid_objects(draw):
    if draw(st.booleans()):
        data = bytearray(draw(objects()).to_bytes())
    else:
        path = draw(st.sampled_from(EXAMPLES))
        data = bytearray(assemble(path.read_text(), path.name).to_bytes())
    body = len(data) - HEADER.size
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "byte", "word", "swap", "insert", "delete", "count"]))
        j = HEADER.size + 8 * draw(st.integers(0, max(0, body // 8 - 1)))
        if kind == "flip" and j < len(data):
            data[j + draw(st.integers(0, 7)) if j + 8 <= len(data) else j] ^= 1 << draw(
                st.integers(0, 7)
            )
        elif kind == "byte" and j < len(data):
            data[j] = draw(st.integers(0, 255))
        elif kind == "word" and j + 8 <= len(data):
            v = draw(
                st.one_of(
                    st.integers(0, 2**64 - 1),
                    st.integers(0, 4096),
                    st.sampled_from([0, 8, 64, 2**32, 2**48, 2**48 - 8]),
                )
            )
            data[j : j + 8] = v.to_bytes(8, "little")
        elif kind == "swap":
            k = HEADER.size + 8 * draw(st.integers(0, max(0, body // 8 - 1)))
            if j + 8 <= len(data) and k + 8 <= len(data):
                data[j : j + 8], data[k : k + 8] = data[k : k + 8], data[j : j + 8]
        elif kind == "insert":
            data[j:j] = draw(st.binary(min_size=8, max_size=8))
        elif kind == "delete":
            del data[j : j + 8]
        else:  # a header count
            off = draw(st.sampled_from([8, 12, 16]))
            n = int.from_bytes(data[off : off + 4], "little") + draw(st.integers(-2, 2))
            data[off : off + 4] = max(n, 0).to_bytes(4, "little")
    return _crc(bytes(data))


@fuzz(300)
@given(mutated_valid_objects())
def test_loadable_objects_are_exactly_round_trippable(data):
    """A valid CRC, so the mutation reaches the checks: a one-line byte error, or
    disasm -> asm gives the identical bytes."""
    try:
        obj = ObjectFile.from_bytes(data)
    except ObjectError as e:
        msg = str(e)
        m = re.fullmatch(r"byte (\d+): \S.*", msg)
        assert m and "\n" not in msg and int(m.group(1)) <= len(data), msg
        return
    text = disassemble(obj, "m.bin")
    assert assemble(text, "m.s").to_bytes() == data, text


def test_a_huge_scale_block_costs_no_memory_per_block():
    """scale_block = 2**24 on an 8x256x8 GEMM is one block: the scales are expanded
    per k of the problem, never per k of the block (it used to take 1.2 GB)."""
    import resource

    import emu

    rng = np.random.default_rng(5)
    a = rng.integers(0, 0x70, (8, 256), dtype=np.uint8)
    b = rng.integers(0, 0x70, (256, 8), dtype=np.uint8)
    cfg = emu.preset("default").replace(scale_block=2**24, fused=32)
    sa, sb = np.full((8, 1), 130, np.uint8), np.full((1, 8), 120, np.uint8)
    emu.gemm(a, b, sa=sa, sb=sb, config=cfg.replace(scale_block=256))  # kernels loaded
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    got = emu.gemm(a, b, sa=sa, sb=sb, config=cfg)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    want = emu.reference.gemm(a, b, sa=sa, sb=sb, config=cfg)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert grown_kib < 64 * 1024, grown_kib  # far below the 8 * 2**24 * 4 bytes of old
