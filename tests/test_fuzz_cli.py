"""Fuzz every command of ``emu.cli.COMMANDS`` with random command lines over a set of
small good and bad files.  Whatever the line, fp8emu never exits 3, never prints a
traceback, prints at most one stderr line when it does not succeed, and a failing
run (exit 2) changes no file: every file of the work directory has the same bytes
afterwards and none is added (outputs that are inputs, bad data, huge sizes).

The options come from the commands themselves (their click parameters), so a new
option or command is fuzzed without a change here.  The values are drawn per kind
of parameter: file names from the pool below (the outputs from the same pool, so
that an output is often an input), integers small or absurd, pairs and field
assignments good and bad.  Generated sizes are kept small by base options that a
drawn option of the same name overrides (click takes the last one)."""

import hashlib
import os
import shutil

import click
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emu.cli import COMMANDS
from emu.cli import cli as group
from isa import assemble
from tests.helpers import PREFIX, cli, temp_files

PROG = """
.data
.buffer A, u8, 2, 64
.buffer B, u8, 64, 2
.buffer D, f32, 2, 2
.param R, 2
.text
    cfgp h100
    li x1, A
    li x2, 64
    tld t0, x1, x2, R, 64
    li x1, B
    li x2, 2
    tld t1, x1, x2, 64, 2
    azero acc0, 2, 2
    mma acc0, t0, t1
    li x1, D
    li x2, 8
    ast acc0, x1, x2
    halt
"""

HUGE = (  # a .npy header that promises 2**64 bytes (its length field is also short)
    b"\x93NUMPY\x01\x00\x46\x00{'descr': '|u1', 'fortran_order': False, "
    b"'shape': (4294967296, 4294967296), }\n"
)


def _zip(path, members):
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


FILES = {
    "a.npy": lambda p: np.save(p, np.arange(128, dtype=np.uint8).reshape(2, 64) % 0x70),
    "b.npy": lambda p: np.save(p, np.arange(128, dtype=np.uint8).reshape(64, 2) % 0x70),
    "x.npy": lambda p: np.save(p, np.linspace(-2, 2, 128, dtype=np.float32).reshape(2, 64)),
    "y.npy": lambda p: np.save(p, np.linspace(-1, 3, 128, dtype=np.float32).reshape(64, 2)),
    "c.npy": lambda p: np.save(p, np.ones((2, 2), np.float32)),
    # packed FP4 (a4.npy:e2m1x2 is a 2 x 64 operand); a.npy holds codes above 0x0f
    "a4.npy": lambda p: np.save(p, ((np.arange(64) * 37) % 256).astype(np.uint8).reshape(2, 32)),
    "s.npy": lambda p: np.save(p, np.full((2, 1), 127, np.uint8)),
    "cut.npy": lambda p: p.write_bytes(b"\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortr"),
    "huge.npy": lambda p: p.write_bytes(HUGE),
    "p.s": lambda p: p.write_text(PROG),
    "p.bin": lambda p: p.write_bytes(assemble(PROG, "p.s").to_bytes()),
    "bad.s": lambda p: p.write_text(".equ X, " + "(" * 200 + "1\nhalt\n"),
    "loop.s": lambda p: p.write_text("top: j top\n"),
    "c.toml": lambda p: p.write_text("preset = 'h100'\nalign_bits = 12\n"),
    "big.toml": lambda p: p.write_text("fused = 99999999999999999999999\n"),
    "bad.toml": lambda p: p.write_text("fused = = 1\n"),
    "z.npz": lambda p: np.savez(p, a=np.zeros((2, 4), np.uint8)),
    "bad.npz": lambda p: _zip(p, {"a.npy": HUGE, "b.npy": b"\x93NUMPY\x01\x00\xff"}),
    "raw.npz": lambda p: _zip(p, {"a": b"hello", "b.npy": b"", "d.npy": HUGE}),
    "old.json": lambda p: p.write_text('{"old": true}\n'),
    "text.txt": lambda p: p.write_text("hello\n"),
}
PATHS = sorted(FILES) + ["vec", "vec/a.txt", "vec/d.txt", "vec/config.toml", "sub", "new.npy"]
PATHS += ["new.json", "new.csv", "new.png", "new.bin", "new2.npy", "newvec", "nodir/x.npy"]
PATHS += ["missing.npy", "", "/dev/null"]
PATHS += ["a4.npy:e2m1x2", "a.npy:e2m1x2", "x.npy:e2m1x2", "a.npy:e9m9x2", "missing.npy:e2m1x2"]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    for name, make in FILES.items():
        make(d / name)
    (d / "sub").mkdir()
    code, _, err = cli("vectors", "--preset", "h100", "--k", "16", "--random", "2", "--out", "vec",
                       cwd=d)  # fmt: skip
    assert code == 0, err
    return d


def _params(name):
    return group.get_command(click.Context(group), name).params


INTS = st.sampled_from(["0", "1", "2", "3", "8", "16", "-1", "99999999999999999999", "x", "1.5"])
FLOATS = st.sampled_from(["0", "1.5", "-2", "nan", "inf", "-1e400", "x"])
SETS = st.sampled_from(
    [
        "align_bits=12",
        "fused=1",
        "fused=k",
        "scale_block=0",
        "scale_block=32",
        "promote_every=64",
        "acc_format=e8m13",
        "fused=99999999999999999999999",
        f"promote_every={2**63}",
        "nosuch=1",
        "fused",
        "fused=",
        "a_format=e5m2",
        "a_format=e2m1",
        "b_format=e2m1",
        "b_format=e3m2",
        "a_format=e4m3fnuz",
    ]
)
VARIES = st.sampled_from(
    [
        "align_bits=8,9",
        "fused=1,2",
        "k=8,16",
        "m=1,99999999999",
        "scale_mode=floor,ceil",
        "dist=normal,bogus",
        "align_bits=1:99999999",
        "x",
        "k=",
    ]
)
PAIRS = st.tuples(
    st.sampled_from(["A", "B", "D", "X", ""]), st.sampled_from(PATHS + ["o.npy"])
).map(lambda t: f"{t[0]}={t[1]}")
DEFINES = st.sampled_from(["R=1", "R=2", "R=99999999999", "R=(((", "X=1", "R", "=1"])
LIMITS = st.sampled_from(["max_rel=0", "max_abs=1e9", "normwise=x", "bogus=1", "max_ulp"])
NAMES = st.sampled_from(["h100", "default", "deepseek-v3", "mxfp8", "bogus", "H100"])
SIZES = st.sampled_from(["64M", "1K", "0", "16G", "99999999999999G", "x", "1"])
BLOCKS = st.sampled_from(["1x4", "1x128", "128x1", "0x4", "x", "99999999999x1", "1x"])


def _values(p):
    """A strategy for the value of click parameter p."""
    mv = p.metavar or ""
    if mv == "FIELD=VALUE":
        return SETS
    if mv == "KNOB=VALUES":
        return VARIES
    if mv == "NAME=FILE.npy":
        return PAIRS
    if mv == "NAME=VALUE":
        return DEFINES
    if mv == "METRIC=VALUE":
        return LIMITS
    if mv == "NAME":
        return NAMES
    if mv == "SIZE":
        return SIZES
    if mv == "RxC":
        return BLOCKS
    if isinstance(p.type, click.Choice):
        return st.sampled_from(list(p.type.choices) + ["bogus"])
    if isinstance(p.type, click.types.FloatParamType):
        return FLOATS
    if isinstance(p.type, click.types.IntParamType):
        return INTS
    return st.sampled_from(PATHS)


BASE = {  # small generated problems; a drawn option of the same name overrides these
    "compare": ["--m", "2", "--n", "2", "--k", "16"],
    "sweep": ["--m", "2", "--n", "2", "--k", "16"],
    "vectors": ["--k", "16", "--random", "2"],
    "run": ["--max-steps", "100000"],
}


GOOD = {  # a line that succeeds; half the drawn lines start from it
    "gemm": ["--a", "a.npy", "--b", "b.npy", "--out", "new.npy"],
    "presets": [],
    "quantize": ["--x", "x.npy", "--block", "1x4", "--out", "new.npy", "--scales", "new2.npy"],
    "asm": ["p.s", "-o", "new.bin"],
    "disasm": ["p.bin"],
    "run": ["p.s", "--in", "A=a.npy", "--in", "B=b.npy", "--out", "D=new.npy"],
    "compare": ["--json", "new.json"],
    "validate": ["--config", "vec/config.toml", "--dir", "vec"],
    "vectors": ["--preset", "h100", "--out", "newvec"],
    "sweep": ["--vary", "align_bits=8,9", "--csv", "new.csv"],
    "probe": ["--out", "newprobe", "--k", "16"],
    "fit": ["--dir", "vec", "--out", "new.toml"],
}


@st.composite
def command_lines(draw, name):
    params = _params(name)
    args = [name, *BASE.get(name, [])]
    positional = [p for p in params if isinstance(p, click.Argument)]
    options = [p for p in params if isinstance(p, click.Option)]
    if draw(st.booleans()):
        args += GOOD[name]
        positional = []
    for p in positional:
        if draw(st.integers(0, 9)):  # mostly given
            args.append(draw(_values(p)))
    for p in draw(st.lists(st.sampled_from(options), max_size=5)):
        opt = draw(st.sampled_from(p.opts))
        if p.is_flag:
            args.append(opt)
        else:
            args.extend([opt, draw(_values(p))])
    if draw(st.integers(0, 19)) == 0:
        args.insert(draw(st.integers(1, len(args))), draw(st.sampled_from(["--bogus", "-x"])))
    return args


def snapshot(d):
    out = {}
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, d)
            out[rel] = (
                hashlib.sha256(open(p, "rb").read()).hexdigest() if os.path.isfile(p) else "/"
            )
    return out


def check_command_line(template, work, args):
    if os.path.exists(work):
        shutil.rmtree(work)
    shutil.copytree(template, work, symlinks=True)
    before = snapshot(work)
    code, _, err = cli(*args, cwd=work)
    lines = err.splitlines()
    assert "Traceback" not in err, (args, err)
    assert code != 3, (args, err)
    assert code in (0, 1, 2), (args, code, err)
    if code != 0:
        assert len(lines) <= 1, (args, err)
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith(PREFIX), (args, err)
        assert snapshot(work) == before, (args, err)
    assert temp_files(work) == [] and temp_files(os.path.join(work, "vec")) == [], args


def fuzz(n):
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


@pytest.mark.parametrize("name", list(COMMANDS))
@fuzz(12)
@given(data=st.data())
def test_random_command_lines(template, tmp_path, name, data):
    """The fast part: a dozen lines per command."""
    check_command_line(template, tmp_path / "w", data.draw(command_lines(name)))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
@fuzz(60)
@given(data=st.data())
def test_many_random_command_lines(template, tmp_path, name, data):
    check_command_line(template, tmp_path / "w", data.draw(command_lines(name)))
