"""Programs: the assembler, the object loader and ``fp8emu asm|disasm|run`` on random,
mutated, truncated and wrong-magic/version input.  Never a traceback: one stderr line
naming ``file:line:col`` (sources) or ``file: byte N`` (object files) and what was
wrong, exit status 2.  (The message texts of single errors are pinned in
test_asm.py; this module checks the shape on inputs nobody wrote by hand.)"""

import re
import struct
import zlib

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from emu.errors import UsageError
from emu.machine.asm import decode_source
from emu.machine.interp import load_program
from emu.machine.objfile import HEADER, MAGIC
from isa import AsmError, ObjectError, ObjectFile, assemble, disassemble
from tests.helpers import FAULT, ROOT, byte_error, cli, console, one_error_line, source_error
from tests.test_asm import objects

EXAMPLES = {p.name: p.read_text() for p in sorted((ROOT / "examples").glob("*.s"))}
SMALL_PARAMS = dict(M=8, N=128, K=256, MT=8, NT=128, KT=128)


def _small(text):
    """An example with small .param shapes, so that a mutated copy runs in ms."""
    return re.sub(
        r"(?m)^\.param (\w+), \d+",
        lambda m: f".param {m.group(1)}, {SMALL_PARAMS.get(m.group(1), 1)}",
        text,
    )


SMALL = {name: _small(text) for name, text in EXAMPLES.items()}


def fuzz(n):
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


TOKENS = [
    "li",
    "addi",
    "add",
    "lw",
    "sw",
    "tld",
    "tst",
    "ald",
    "ast",
    "sld",
    "mma",
    "mma.bs",
    "quant.e4m3.floor",
    "cvt.e5m2.sat",
    "cfg",
    "cfgp",
    "azero",
    "halt",
    "j",
    "jal",
    "jr",
    "beq",
    "bne",
    "x0",
    "x1",
    "x31",
    "x32",
    "t0",
    "t7",
    "t16",
    "acc0",
    "acc9",
    "s0",
    "s15",
    "fused",
    "align_bits",
    "acc_format",
    "k",
    "exact",
    "e8m13",
    "fp32",
    "h100",
    "true",
    ".data",
    ".text",
    ".buffer",
    ".byte",
    ".word",
    ".float",
    ".e4m3",
    ".e5m2",
    ".zero",
    ".org",
    ".align",
    ".equ",
    ".param",
    "A",
    "B",
    "top",
    "top:",
    "A:",
    "e4m3",
    "f32",
    "u8",
    "0",
    "1",
    "-1",
    "7",
    "64",
    "4095",
    "0x10",
    "0b101",
    "1_000",
    "1.5",
    "0x1.8p-7",
    "1e40",
    "inf",
    "nan",
    "2**4096",
    "1<<48",
    "(",
    ")",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "~",
    "<<",
    ">>",
    "&",
    "|",
    "^",
    ",",
    ":",
    ";",
    "#",
    " ",
    " ",
    "\t",
    "\r",
    "\x0c",
    "\x00",
    "é",
    "\ufeff",
    "\u2028",
    "$",
    "@",
    ".",
    "..",
    "'",
    '"',
]
line_of_tokens = st.lists(st.sampled_from(TOKENS), max_size=10).map(" ".join)
token_sources = st.lists(line_of_tokens, max_size=8).map("\n".join)


@st.composite
def mutated(draw, sources=EXAMPLES):
    """An example program with 1-4 line or character edits."""
    name = draw(st.sampled_from(sorted(sources)))
    lines = sources[name].split("\n")
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(
            st.sampled_from(["delete", "duplicate", "insert", "char", "token", "swap", "truncate"])
        )
        if kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "insert":
            lines.insert(i, draw(line_of_tokens))
        elif kind in ("char", "token"):
            s = lines[i]
            j = draw(st.integers(0, len(s)))
            new = draw(st.characters()) if kind == "char" else draw(st.sampled_from(TOKENS))
            lines[i] = s[:j] + new + s[j + draw(st.integers(0, 2)) :]
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return name, "\n".join(lines)


def check_source_error(text, msg, filename="p.s"):
    """msg is ``filename:line:col: error: what`` with line and column inside text."""
    assert "\n" not in msg and "Traceback" not in msg
    m = re.fullmatch(re.escape(filename) + r":(\d+):(\d+): error: (\S.*)", msg)
    assert m, msg
    line, col = int(m.group(1)), int(m.group(2))
    lines = text.split("\n")
    assert 1 <= line <= len(lines), (line, len(lines), msg)
    width = len(lines[line - 1]) - (line == 1 and lines[0].startswith("\ufeff"))
    assert 1 <= col <= width + 1, (col, width, msg)


def check_assembles(text):
    """Either an object (which round-trips through bytes and disassembly) or an
    AsmError at a line and column of text."""
    try:
        obj = assemble(text, "p.s")
    except AsmError as e:
        check_source_error(text, str(e))
        return None
    data = obj.to_bytes()
    assert ObjectFile.from_bytes(data).to_bytes() == data
    assert assemble(disassemble(obj, "p.bin"), "back.s").to_bytes() == data
    return obj


# ------------------------------------------------------------------ the assembler
@fuzz(250)
@given(token_sources)
def test_assembler_on_random_tokens_names_line_and_column(text):
    check_assembles(text)


@fuzz(200)
@given(mutated())
def test_assembler_on_mutated_examples_names_line_and_column(case):
    check_assembles(case[1])


@fuzz(200)
@given(
    st.one_of(
        st.binary(max_size=200),
        mutated()
        .map(lambda c: c[1].encode("utf-8", "surrogatepass"))
        .flatmap(lambda b: st.integers(0, len(b)).map(lambda i: b[:i] + b"\xff\xc3" + b[i:])),
    )
)
def test_source_bytes_errors_point_at_the_bad_byte(data):
    """Bytes that are not UTF-8: the error is at the line and column of the first bad
    byte (as an editor counts them) and names its offset."""
    try:
        text = decode_source(data, "p.s")
    except AsmError as e:
        msg = str(e)
        m = re.fullmatch(
            r"p\.s:(\d+):(\d+): error: expected UTF-8 assembly text, got byte "
            r"0x([0-9a-f]{2}) \(file offset (\d+)\)",
            msg,
        )
        assert m, msg
        off = int(m.group(4))
        assert data[off] == int(m.group(3), 16)
        assert int(m.group(1)) == data[:off].count(b"\n") + 1
        good = data[:off].decode("utf-8")
        assert int(m.group(2)) == len(good) - (good.rfind("\n") + 1) + 1
        return
    check_assembles(text)


def test_line_numbers_are_the_ones_editors_show():
    """Only \\n ends a line: a form feed or U+2028 inside a line does not, \\r\\n does."""
    for src, where in [
        ("halt ; page\x0cbreak\nbogus", "p.s:2:1"),
        ("halt ; a\u2028b\x1cc\x85d\nbogus", "p.s:2:1"),
        ("li x1, 1\r\nli x2, 2\r\nbogus\r\n", "p.s:3:1"),
        ("\ufeffbogus", "p.s:1:1"),
    ]:
        with pytest.raises(AsmError) as e:
            assemble(src, "p.s")
        assert str(e.value).startswith(where + ": error: expected an instruction mnemonic"), str(
            e.value
        )
    assert assemble("\ufeffhalt\r\n", "p.s").words == assemble("halt", "p.s").words


# ------------------------------------------------------------------ the object loader
def _load_or_error(data):
    """ObjectFile, or the ObjectError's byte offset (checked to lie in the file)."""
    try:
        return ObjectFile.from_bytes(data)
    except ObjectError as e:
        msg = str(e)
        m = re.fullmatch(r"byte (\d+): (\S.*)", msg)
        assert m and "\n" not in msg, msg
        assert 0 <= int(m.group(1)) <= len(data), msg
        return None


def _with_crc(data: bytes) -> bytes:
    if len(data) < HEADER.size:
        return data
    return data[:20] + struct.pack("<I", zlib.crc32(data[HEADER.size :])) + data[24:]


def _same_program(a: ObjectFile, b: ObjectFile):
    """Same words, same initial memory, same data symbols and buffers."""

    def mem(o):
        return {addr + i: v for addr, d in o.segments for i, v in enumerate(d) if v}

    assert a.words == b.words
    assert mem(a) == mem(b)
    assert {s for s in a.symbols if s.kind != "code"} == {s for s in b.symbols if s.kind != "code"}


@fuzz(200)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(lambda b: MAGIC + b),
        st.binary(min_size=28, max_size=300).map(
            lambda b: _with_crc(MAGIC + b"\x01\x00\x20\x00" + b)
        ),
    )
)
def test_object_loader_on_random_bytes_names_the_byte(data):
    obj = _load_or_error(data)
    if obj is not None:  # vanishingly rare; then it must be sound
        _same_program(obj, assemble(disassemble(obj), "x.s"))


@st.composite
def mutated_objects(draw):
    data = bytearray(
        draw(objects()).to_bytes()
        if draw(st.booleans())
        else assemble(draw(st.sampled_from(sorted(SMALL.values()))), "e.s").to_bytes()
    )
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "delete", "field"]))
        i = draw(st.integers(0, len(data) - 1)) if data else 0
        if kind == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[i] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[i : i + draw(st.integers(1, 16))]
        elif len(data) >= HEADER.size:  # a header count or version field
            off = draw(st.sampled_from([4, 6, 8, 12, 16, 24]))
            size = 2 if off < 8 else 4
            data[off : off + size] = draw(st.integers(0, 256**size - 1)).to_bytes(size, "little")
    data = bytes(data)
    return _with_crc(data) if draw(st.booleans()) else data


@pytest.mark.slow
@fuzz(250)
@given(mutated_objects())
def test_object_loader_on_mutated_objects_names_the_byte(data):
    """Any defect is 'byte N: what'; whatever loads disassembles to source that
    assembles to the same program."""
    obj = _load_or_error(data)
    if obj is not None:
        _same_program(obj, assemble(disassemble(obj, "m.bin"), "m.s"))


def test_every_truncation_of_an_object_names_a_byte_inside_it():
    data = assemble(SMALL["deepseek_v3.s"], "d.s").to_bytes()
    for n in range(len(data)):
        with pytest.raises(ObjectError) as e:
            ObjectFile.from_bytes(data[:n])
        m = re.fullmatch(r"byte (\d+): (truncated .*|CRC-32 mismatch.*)", str(e.value))
        assert m and int(m.group(1)) <= n, (n, str(e.value))


@pytest.mark.parametrize(
    "offset, value, msg",
    [
        (0, b"FP8Y", "byte 0: bad magic b'FP8Y'"),
        (4, b"\x00\x00", "byte 4: unsupported version 0 (this fp8emu reads versions 1, 2)"),
        (4, b"\xff\xff", "byte 4: unsupported version 65535"),
        (6, b"\x40\x00", "byte 6: header size 64, expected 32"),
        (
            8,
            b"\xff\xff\xff\xff",
            "byte 400: illegal instruction word 0x0000000004000000 at "
            "pc=0x170: unknown opcode 0x00",
        ),  # data read as code
        (12, b"\x00\x00\x00\x10", "byte 520: segment at 0x800 overlaps or precedes"),
        (16, b"\xff\x00\x00\x00", "byte 672: truncated symbol record (needs 8 bytes, 0 left)"),
        (24, b"\x01", "byte 24: reserved header bytes are not zero"),
    ],
)
def test_object_header_fields(offset, value, msg):
    data = bytearray(assemble(SMALL["mx_gemm.s"], "m.s").to_bytes())
    data[offset : offset + len(value)] = value
    with pytest.raises(ObjectError, match=re.escape(msg)):
        ObjectFile.from_bytes(_with_crc(bytes(data)))


def test_loader_rejects_what_the_assembler_cannot_make():
    """Objects edited by hand: duplicate names, huge or zero dimensions, data beyond
    2^48, misaligned buffers: an error at the byte, never a machine that breaks."""
    base = assemble(".data\n.buffer A, u8, 4, 4\n.buffer B, u8, 4\n", "b.s")
    from emu.machine.objfile import Symbol

    bad = [
        (
            ObjectFile(
                [],
                [],
                [Symbol("A", "buffer", 0, "u8", (4,)), Symbol("A", "buffer", 64, "u8", (4,))],
            ),
            "'A' is defined twice",
        ),
        (
            ObjectFile([], [], [Symbol("A", "buffer", 0, "u8", (0, 4))]),
            "buffer A: shape (0, 4) (dimensions must be in 1..2^32)",
        ),
        (
            ObjectFile([], [], [Symbol("A", "buffer", 0, "u8", (1 << 33,))]),
            "dimensions must be in 1..2^32",
        ),
        (
            ObjectFile([], [], [Symbol("A", "buffer", 8, "u8", (4,))]),
            "buffer A at 0x8 is not 64-byte aligned",
        ),
        (
            ObjectFile([], [], [Symbol("A", "buffer", 1 << 48, "u8", (4,))]),
            "buffer A at 0x1000000000000 of 4 bytes ends beyond 2^48",
        ),
        (
            ObjectFile([], [], [Symbol("v", "data", (1 << 48) + 1)]),
            "data symbol v at 0x1000000000001 lies beyond 2^48",
        ),
        (
            ObjectFile([], [((1 << 48) - 1, b"ab")], []),
            "segment at 0xffffffffffff of 2 bytes ends beyond 2^48",
        ),
    ]
    assert ObjectFile.from_bytes(base.to_bytes()).to_bytes() == base.to_bytes()
    for obj, want in bad:
        with pytest.raises(ObjectError) as e:
            ObjectFile.from_bytes(obj.to_bytes())
        assert re.fullmatch(r"byte \d+: .*", str(e.value)) and want in str(e.value), str(e.value)


# ------------------------------------------------------------------ load_program
@fuzz(150)
@given(
    st.one_of(
        st.binary(max_size=200),
        mutated_objects(),
        mutated().map(lambda c: c[1].encode("utf-8", "surrogatepass")),
    )
)
def test_load_program_errors_are_source_or_byte_errors(data):
    """What `fp8emu run` does first: bytes -> object file or assembly -> ObjectFile."""
    try:
        load_program(data, "p.in")
    except UsageError as e:
        msg = str(e)
        assert re.fullmatch(source_error("p.in") + "|" + byte_error("p.in"), msg), msg


# ------------------------------------------------------------------ the commands
@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("progs")


def _fresh(work, name, data):
    for p in work.iterdir():
        p.unlink()
    path = work / name
    path.write_bytes(data)
    return path


@fuzz(80)
@given(case=mutated())
def test_asm_command_on_mutated_sources(work, case):
    src = _fresh(work, "prog.s", case[1].encode("utf-8", "surrogatepass"))
    out = work / "prog.bin"
    code, stdout, err = cli("asm", src, "-o", out)
    event(f"exit {code}")
    if code == 0:
        assert err == "" and out.read_bytes() == assemble(case[1], str(src)).to_bytes()
    else:
        one_error_line(code, err, source_error(src))
        assert not out.exists()
    assert sorted(p.name for p in work.iterdir()) == sorted(
        {"prog.s"} | ({"prog.bin"} if code == 0 else set())
    )


@fuzz(80)
@given(data=st.one_of(mutated_objects(), st.binary(max_size=100)))
def test_disasm_command_on_mutated_objects(work, data):
    path = _fresh(work, "prog.bin", data)
    code, out, err = cli("disasm", path)
    if code == 0:
        assert err == "" and assemble(out, "back.s").words == ObjectFile.from_bytes(data).words
    else:
        one_error_line(code, err, byte_error(path))


def run_error(path):
    """The error lines `fp8emu run PATH --mem-size 1M` may print."""
    return "|".join(
        [
            source_error(path),
            byte_error(path),
            FAULT,
            re.escape(str(path)) + r": (program data|buffer \w+) .* does not fit the machine's "
            r"1 MiB of memory \(see --mem-size\)",
        ]
    )


@fuzz(60)
@given(
    data=st.one_of(
        mutated(SMALL).map(lambda c: c[1].encode("utf-8", "surrogatepass")),
        mutated_objects(),
        st.binary(max_size=100),
    )
)
def test_run_command_on_mutated_programs(work, data):
    """Whatever the program: it halts (0, or 1 with the status line), or one error
    line: a source or object error, a fault with pc and instruction, or memory."""
    path = _fresh(work, "prog.in", data)
    code, out, err = cli("run", path, "--max-steps", "300", "--mem-size", "1M")
    event(
        f"exit {code}: "
        + (
            "fault"
            if "pc=0x" in err
            else "byte"
            if ": byte " in err
            else "source"
            if ": error: " in err[15:]
            else err[15:40]
        )
    )
    if code == 1:
        assert re.fullmatch(
            r"fp8emu: program halted with status \d+ \(pc=0x[0-9a-f]{4,}, "
            r"\d+ instructions\)\n",
            err,
        ), err
    elif code == 2:
        one_error_line(code, err, run_error(path))
    else:
        assert code == 0 and err == "", (code, err)


@pytest.mark.parametrize(
    "name, data, cmd, pattern",
    [
        (
            "bad.bin",
            b"FP8Y" + bytes(28),
            "disasm",
            r"{f}: byte 0: not an fp8emu object file \(no FP8X magic; fp8emu asm makes one\)",
        ),
        (
            "v3.bin",
            b"FP8X\x03\x00" + bytes(26),
            "disasm",
            r"{f}: byte 4: unsupported version 3 \(this fp8emu reads versions 1, 2\)",
        ),
        (
            "v3.bin",
            b"FP8X\x03\x00" + bytes(26),
            "run",
            r"{f}: byte 4: unsupported version 3 \(this fp8emu reads versions 1, 2\)",
        ),
        ("short.bin", b"FP8X\x01\x00", "run", r"{f}: byte 0: truncated header \(6 of 32 bytes\)"),
        ("empty.bin", b"", "disasm", r"{f}: byte 0: not an fp8emu object file .*"),
        (
            "prog.bin",
            "OBJ",
            "asm",
            r"{f}: byte 0: an fp8emu object file, not assembly text \(fp8emu disasm reads those; "
            r"fp8emu run takes either\)",
        ),
        (
            "latin1.s",
            b"halt\n  li x1, 1 ; caf\xe9\n",
            "asm",
            r"{f}:2:17: error: expected UTF-8 assembly text, got byte 0xe9 \(file offset 21\)",
        ),
        (
            "latin1.s",
            b"halt\n  li x1, 1 ; caf\xe9\n",
            "run",
            r"{f}:2:17: error: expected UTF-8 assembly text, got byte 0xe9 \(file offset 21\)",
        ),
        (
            "ff.s",
            b"halt\x0c\nbogus\n",
            "asm",
            r"{f}:2:1: error: expected an instruction mnemonic, got 'bogus'",
        ),
        (
            "big.s",
            b".data\n.org 0x1000000\n.byte 1\n",
            "run",
            r"{f}: program data at 0x1000000..0x1000001 does not fit the machine's 1 MiB of "
            r"memory \(see --mem-size\)",
        ),
        (
            "empty.s",
            b"",
            "run",
            r"pc=0x0000: \(end of program\): ran past the last instruction \(no halt\)",
        ),
    ],
)
def test_command_error_lines(tmp_path, name, data, cmd, pattern):
    if data == "OBJ":
        data = assemble("halt", "h.s").to_bytes()
    path = tmp_path / name
    path.write_bytes(data)
    args = {
        "asm": ["asm", path, "-o", tmp_path / "o.bin"],
        "disasm": ["disasm", path],
        "run": ["run", path, "--mem-size", "1M"],
    }[cmd]
    code, out, err = cli(*args)
    one_error_line(code, err, pattern.format(f=re.escape(str(path))))
    assert out == "" and not (tmp_path / "o.bin").exists()


def test_missing_and_directory_program_files(tmp_path):
    for cmd in (
        ["asm", tmp_path / "nope.s", "-o", tmp_path / "o.bin"],
        ["disasm", tmp_path / "nope.bin"],
        ["run", tmp_path / "nope.s"],
    ):
        code, _, err = cli(*cmd)
        one_error_line(code, err, r"(program|object file) .*nope\.(s|bin): no such file")
    code, _, err = cli("run", tmp_path)
    one_error_line(code, err, rf"program {re.escape(str(tmp_path))}: is a directory")


def test_console_entry_point_prints_no_traceback(tmp_path):
    """The real entry point (`python -m emu.cli`), one process per kind of input."""
    bad = tmp_path / "bad.s"
    bad.write_text("    li x1, 1\n    addi x1, x1\n")
    code, out, err = console("asm", bad, "-o", tmp_path / "bad.bin")
    assert (
        one_error_line(code, err)
        == f"{bad}:2:5: error: expected addi rd, rs1, imm (3 operands), got 2"
    )
    obj = tmp_path / "cut.bin"
    obj.write_bytes(assemble(SMALL["tiled_gemm.s"], "t.s").to_bytes()[:77])
    code, out, err = console("run", obj)
    assert (
        one_error_line(code, err)
        == f"{obj}: byte 72: truncated instruction word (needs 8 bytes, 5 left)"
    )
    loop = tmp_path / "loop.s"
    loop.write_text("top: addi x1, x1, 1\n     j top\n")
    code, out, err = console("run", loop, "--max-steps", "1000")
    assert (
        one_error_line(code, err)
        == "pc=0x0000: addi x1, x1, 1: step limit reached (1000 instructions executed; "
        "raise --max-steps)"
    )
    assert out == "" and not (tmp_path / "bad.bin").exists()
