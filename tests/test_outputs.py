"""Outputs are written atomically, all or nothing: every output of a command is staged
as a temporary file beside its target and renamed into place only when all of them
are complete.  A failing run (bad input, a fault, a full disk, Ctrl-C) leaves no
partial file, no temporary file, and every existing output exactly as it was."""

import errno
import json
import os
import shutil
import stat
import tempfile

import numpy as np
import pytest

import emu.io
from tests.helpers import cli, one_error_line, python, temp_files

PROG = """
    .data
    .buffer X, f32, 1, 4
    .buffer Y, f32, 1, 4
    .buffer Z, u32, 2
    .text
    li x1, X
    ald acc0, x1, x0, 1, 4
    li x2, Y
    ast acc0, x2, x0
    li x3, 7
    li x4, Z
    sw x3, x4, 0
    lw x5, x4, 0
    beq x5, x6, done        ; x6 = 0: not taken
    li x7, FAULT
    beq x7, x0, done
    sw x3, x4, 2            ; misaligned: the program faults after writing Y and Z
done:
    halt
"""


@pytest.fixture
def work(tmp_path):
    (tmp_path / "p.s").write_text(PROG.replace("FAULT", "1"))
    (tmp_path / "ok.s").write_text(PROG.replace("FAULT", "0"))
    np.save(tmp_path / "x.npy", np.array([[1.5, -2, 3, 0.25]], np.float32))
    return tmp_path


def existing(*paths):
    """Create outputs with known old content; returns a checker that they are intact."""
    before = {}
    for p in paths:
        p.write_bytes(b"old " + p.name.encode())
        before[p] = (p.read_bytes(), os.stat(p).st_ino)

    def intact():
        for p, (data, ino) in before.items():
            assert p.read_bytes() == data and os.stat(p).st_ino == ino, p

    return intact


# ------------------------------------------------------------------ failing runs
def test_a_program_that_faults_after_some_steps_leaves_existing_outputs(work):
    y, z = work / "y.npy", work / "z.npy"
    intact = existing(y, z)
    code, out, err = cli(
        "run", work / "p.s", "--in", f"X={work / 'x.npy'}", "--out", f"Y={y}", "--out", f"Z={z}"
    )
    assert (
        one_error_line(code, err)
        == "pc=0x0058: sw x3, x4, 2: misaligned access: address 0x82 and stride 0 must be "
        "multiples of 4"
    )
    intact()
    assert temp_files(work) == []
    code, _, err = cli(
        "run", work / "ok.s", "--in", f"X={work / 'x.npy'}", "--out", f"Y={y}", "--out", f"Z={z}"
    )
    assert code == 0 and err == ""
    assert np.load(y).tolist() == [[1.5, -2, 3, 0.25]] and np.load(z).tolist() == [7, 0]


FAILING = [
    (["asm", "{w}/bad.s", "-o", "{o}"], "o.bin"),
    (["disasm", "{w}/bad.s", "-o", "{o}"], "o.s"),
    (["gemm", "--a", "{w}/x.npy", "--b", "{w}/x.npy", "--out", "{o}"], "d.npy"),
    (
        ["quantize", "--x", "{w}/x.npy", "--block", "1x", "--out", "{o}", "--scales", "{w}/s.npy"],
        "q.npy",
    ),
    (
        ["compare", "--k", "8", "--m", "1", "--n", "1", "--set", "fused=3", "--json", "{o}"],
        "r.json",
    ),
    (["validate", "--npz", "{w}/x.npy", "--json", "{o}"], "r.json"),
    (["sweep", "--vary", "fused=1,3", "--k", "8", "--csv", "{o}"], "s.csv"),
    (["run", "{w}/p.s", "--in", "X={w}/x.npy", "--out", "Y={o}"], "y.npy"),
]


@pytest.mark.parametrize("args, name", FAILING, ids=[a[0] for a, _ in FAILING])
def test_a_failing_command_never_touches_an_existing_output(work, args, name):
    (work / "bad.s").write_text("halt\nbogus\n")
    o = work / name
    intact = existing(o)
    code, out, err = cli(*[a.format(w=work, o=o) for a in args])
    one_error_line(code, err)
    intact()
    assert temp_files(work) == []


def test_vectors_into_an_existing_directory_is_all_or_nothing(work, monkeypatch):
    v = work / "vec"
    assert cli("vectors", "--preset", "h100", "--k", "64", "--random", "2", "--out", v)[0] == 0
    files = sorted(os.listdir(v))
    assert {"a.hex", "d.txt", "config.toml", "manifest.json"} <= set(files)
    before = {n: (v / n).read_bytes() for n in files}
    fail_on_write(monkeypatch, 5)  # the 5th file cannot be written
    code, _, err = cli(
        "vectors", "--preset", "default", "--k", "64", "--random", "3", "--seed", "1", "--out", v
    )
    assert one_error_line(code, err).endswith(": cannot write (No space left on device)")
    assert {n: (v / n).read_bytes() for n in sorted(os.listdir(v))} == before
    monkeypatch.undo()
    fail_on_write(monkeypatch, 3)
    code, _, err = cli("vectors", "--preset", "default", "--k", "64", "--out", work / "new")
    one_error_line(code, err)
    assert not (work / "new").exists()  # the directory it made is gone


# ------------------------------------------------------------------ write failures
def fail_on_write(monkeypatch, n, exc=None):
    """Make the n-th staged file fail while being written (a full disk by default)."""
    real, calls = emu.io._write, []

    def write(fh, data):
        calls.append(1)
        if len(calls) == n:
            fh.write(b"partial")
            raise exc or OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fh, data)

    monkeypatch.setattr(emu.io, "_write", write)


def test_a_full_disk_on_the_second_output_writes_neither(work, monkeypatch):
    y, z = work / "y.npy", work / "z.npy"
    intact = existing(y, z)
    fail_on_write(monkeypatch, 2)
    code, _, err = cli(
        "run", work / "ok.s", "--in", f"X={work / 'x.npy'}", "--out", f"Y={y}", "--out", f"Z={z}"
    )
    assert one_error_line(code, err) == f"--out Z {z}: cannot write (No space left on device)"
    intact()
    assert temp_files(work) == []


def test_sweep_writes_csv_and_plot_together(work, monkeypatch):
    csv, png = work / "s.csv", work / "s.png"
    intact = existing(csv, png)
    fail_on_write(monkeypatch, 2)
    code, _, err = cli(
        "sweep",
        "--vary",
        "align_bits=8,12",
        "--k",
        "64",
        "--m",
        "2",
        "--n",
        "2",
        "--csv",
        csv,
        "--plot",
        png,
    )
    assert one_error_line(code, err) == f"--plot {png}: cannot write (No space left on device)"
    intact()
    monkeypatch.undo()
    assert (
        cli(
            "sweep",
            "--vary",
            "align_bits=8,12",
            "--k",
            "64",
            "--m",
            "2",
            "--n",
            "2",
            "--csv",
            csv,
            "--plot",
            png,
        )[0]
        == 0
    )
    assert csv.read_text().startswith("align_bits,") and png.read_bytes()[:4] == b"\x89PNG"


def test_interrupt_while_writing_leaves_no_temporary_file(work, monkeypatch):
    out = work / "o.bin"
    intact = existing(out)
    (work / "h.s").write_text("halt\n")
    fail_on_write(monkeypatch, 1, KeyboardInterrupt())
    code, _, err = cli("asm", work / "h.s", "-o", out)
    assert code == 130 and err == "fp8emu: error: interrupted\n"
    intact()
    assert temp_files(work) == []


def test_save_all_is_all_or_nothing_for_api_users(tmp_path, monkeypatch):
    a, b = tmp_path / "a.txt", tmp_path / "b.npy"
    emu.io.save_all([(a, "text", "A"), (b, np.arange(3), "B")])
    assert a.read_text() == "text" and np.load(b).tolist() == [0, 1, 2]
    fail_on_write(monkeypatch, 2)
    with pytest.raises(emu.io.UsageError, match=r"^B .*b\.npy: cannot write \(No space"):
        emu.io.save_all([(a, "new", "A"), (b, np.arange(4), "B")])
    assert a.read_text() == "text" and np.load(b).tolist() == [0, 1, 2]
    assert temp_files(tmp_path) == []


def test_quantize_writes_codes_and_scales_together(work, monkeypatch):
    q, s = work / "q.npy", work / "s.npy"
    intact = existing(q, s)
    fail_on_write(monkeypatch, 2)
    code, _, err = cli(
        "quantize", "--x", work / "x.npy", "--block", "1x4", "--out", q, "--scales", s
    )
    assert code == 2
    intact()


# ------------------------------------------------------------------ successful runs
def test_successful_outputs_have_umask_permissions_and_no_temporaries(work):
    old = os.umask(0o022)
    try:
        cases = [
            ["asm", work / "ok.s", "-o", work / "o.bin"],
            ["run", work / "ok.s", "--in", f"X={work / 'x.npy'}", "--out", f"Y={work / 'y.npy'}"],
            ["compare", "--k", "8", "--m", "1", "--n", "1", "--json", work / "r.json"],
        ]
        for args in cases:
            assert cli(*args)[0] == 0
        for name in ("o.bin", "y.npy", "r.json"):
            assert stat.S_IMODE(os.stat(work / name).st_mode) == 0o644, name
        assert json.loads((work / "r.json").read_text())["results"]
        assert temp_files(work) == []
    finally:
        os.umask(old)


def test_an_existing_output_is_replaced_whole(work):
    out = work / "y.npy"
    out.write_bytes(b"x" * 100_000)  # longer than the new content
    assert cli("run", work / "ok.s", "--in", f"X={work / 'x.npy'}", "--out", f"Y={out}")[0] == 0
    assert np.load(out).tolist() == [[1.5, -2, 3, 0.25]] and out.stat().st_size < 1000


# ------------------------------------------------------------------ permissions
UNPRIVILEGED = """
import os, sys
import emu.cli, emu.cli.core, emu.cli.programs, emu.cli.tools, emu.io, emu.machine
import emu.numerics.operands, emu.numerics.config, emu.toolkit.vectors, emu.machine.asm
import tomllib, tempfile, zipfile
import difflib                 # click imports it while parsing short options
if os.geteuid() == 0:          # root reads and writes anything: run as nobody
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)
emu.cli.main(sys.argv[1:])
"""


def unprivileged(*args, cwd):
    return python("-c", UNPRIVILEGED, *args, cwd=cwd, env={"PYTHONDONTWRITEBYTECODE": "1"})


@pytest.fixture
def shared():
    """A directory the unprivileged user can enter (pytest's tmp_path is private)."""
    d = tempfile.mkdtemp(prefix="fp8emu-perm-")
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        for root, dirs, files in os.walk(d):
            for n in dirs + files:
                os.chmod(os.path.join(root, n), 0o755)
        shutil.rmtree(d)


def test_unwritable_directory_and_unreadable_input(shared):
    """Real permissions (as an unprivileged user when the tests run as root)."""
    ro, rw = os.path.join(shared, "ro"), os.path.join(shared, "rw")
    os.mkdir(ro)
    os.mkdir(rw)
    os.chmod(rw, 0o777)
    (open(os.path.join(ro, "d.npy"), "wb")).write(b"old")
    np.save(os.path.join(shared, "a.npy"), np.zeros((2, 4), np.uint8))
    np.save(os.path.join(shared, "b.npy"), np.zeros((4, 2), np.uint8))
    np.save(os.path.join(shared, "secret.npy"), np.zeros((2, 4), np.uint8))
    with open(os.path.join(shared, "h.s"), "w") as fh:
        fh.write("halt\n")
    os.chmod(ro, 0o555)
    os.chmod(os.path.join(shared, "secret.npy"), 0)
    code, out, err = unprivileged(
        "gemm", "--a", "a.npy", "--b", "b.npy", "--out", "ro/d.npy", cwd=shared
    )
    assert one_error_line(code, err) == f"--out ro/d.npy: directory {ro} is not writable"
    code, out, err = unprivileged("asm", "h.s", "-o", "ro/h.bin", cwd=shared)
    assert one_error_line(code, err) == f"-o ro/h.bin: directory {ro} is not writable"
    code, out, err = unprivileged(
        "gemm", "--a", "secret.npy", "--b", "b.npy", "--out", "rw/d.npy", cwd=shared
    )
    assert one_error_line(code, err) == "--a: secret.npy: permission denied"
    code, out, err = unprivileged("vectors", "--preset", "h100", "--out", "ro/vec", cwd=shared)
    assert one_error_line(code, err) == f"--out ro/vec: directory {ro} is not writable"
    assert open(os.path.join(ro, "d.npy"), "rb").read() == b"old"
    assert sorted(os.listdir(ro)) == ["d.npy"] and os.listdir(rw) == []


def test_a_directory_that_becomes_unwritable_before_the_write(work, monkeypatch):
    """check_writable passed, then the write fails: still one line, nothing left."""
    out = work / "o.bin"
    (work / "h.s").write_text("halt\n")

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(emu.io.tempfile, "mkstemp", denied)
    code, _, err = cli("asm", work / "h.s", "-o", out)
    assert one_error_line(code, err) == f"-o {out}: cannot write (Permission denied)"
    assert not out.exists() and temp_files(work) == []


def test_devices_and_pipes_are_written_through_not_replaced(work):
    """`-o /dev/stdout`, `--out /dev/null` or a named pipe: a rename would replace the
    device or pipe by a regular file, so these are written to directly."""
    import threading

    fifo = work / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    (work / "h.s").write_text("halt 3\n")
    code, _, err = cli("asm", work / "h.s", "-o", fifo)
    reader.join(30)
    assert code == 0 and err == ""
    from isa import assemble

    assert got == [assemble("halt 3\n", "h.s").to_bytes()]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and temp_files(work) == []
