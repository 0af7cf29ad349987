"""Assembler, disassembler, object files and the asm/disasm commands."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emu.errors import UsageError
from emu.machine.asm import parse_defines
from emu.machine.encoding import decode
from emu.machine.objfile import DTYPE_NAMES, Symbol
from emu.machine.table import OPS
from isa import AsmError, ObjectError, ObjectFile, assemble, disassemble
from tests.helpers import ROOT, cli
from tests.test_isa import _random_instr

EXAMPLES = sorted((ROOT / "examples").glob("*.s"))


def words(src, **kw):
    return assemble(src, "p.s", **kw).words


def ins_text(src):
    from emu.machine.disasm import format_instr

    return [format_instr(decode(w), 8 * i) for i, w in enumerate(words(src))]


def err(src, **kw):
    with pytest.raises(AsmError) as e:
        assemble(src, "p.s", **kw)
    return str(e.value)


# --------------------------------------------------------------------- round trips
def roundtrip(obj: ObjectFile):
    data = obj.to_bytes()
    text = disassemble(ObjectFile.from_bytes(data), "x.bin")
    again = assemble(text, "x.s").to_bytes()
    assert again == data, text
    return text


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_round_trip_byte_exact(path):
    obj = assemble(path.read_text(), str(path))
    text = roundtrip(obj)
    assert "mma" in text and "halt" in text


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: (
        not __import__("emu.machine.asm", fromlist=["_REG_RE"])._REG_RE.match(s)
        and s not in ("k", "exact", "true", "false", "inf", "nan")
    )
)


@st.composite
def objects(draw):
    """Random instruction streams, code labels, data segments and buffers (segments
    disjoint and not adjacent, as the assembler makes them)."""
    n = draw(st.integers(1, 40))
    ws = []
    for _ in range(n):
        op = draw(st.sampled_from(OPS))
        ins = _random_instr(lambda lo, hi: draw(st.integers(lo, hi)), op)
        from emu.machine.encoding import encode

        ws.append(encode(ins))
    label_names = draw(st.lists(names, max_size=8, unique=True))
    syms = [Symbol(nm, "code", 8 * draw(st.integers(0, n))) for nm in label_names[:4]]
    syms.sort(key=lambda s: s.addr)
    data_syms, segs, addr = [], [], 0
    for nm in label_names[4:]:
        addr += draw(st.integers(0, 100))
        if draw(st.booleans()):
            addr = -(-addr // 64) * 64
            shape = tuple(draw(st.lists(st.integers(1, 9), min_size=1, max_size=2)))
            s = Symbol(nm, "buffer", addr, draw(st.sampled_from(DTYPE_NAMES)), shape)
            data_syms.append(s)
            if draw(st.booleans()):  # initialise part of it
                segs.append(
                    (
                        addr,
                        bytes(draw(st.lists(st.integers(0, 255), min_size=1, max_size=s.nbytes))),
                    )
                )
            addr += s.nbytes + 1
        else:
            data_syms.append(Symbol(nm, "data", addr))
            if draw(st.booleans()):
                segs.append(
                    (addr, bytes(draw(st.lists(st.integers(0, 255), min_size=1, max_size=40))))
                )
                addr += len(segs[-1][1]) + 1
    return ObjectFile(ws, segs, syms + data_syms)


@settings(max_examples=150, deadline=None)
@given(objects())
def test_random_objects_round_trip_asm_bin_disasm_asm(obj):
    data = obj.to_bytes()
    assert ObjectFile.from_bytes(data).to_bytes() == data
    roundtrip(obj)


# --------------------------------------------------------------------- syntax
def test_expressions_literals_and_precedence():
    got = ins_text("""
        .equ A, 2 + 3 * 4
        .param B, 1 << 4 | 1
        li x1, A
        li x2, B
        li x3, -2 ** 2
        li x4, 0x10 + 0b11 + 0o7 + 1_000
        li x5, 8 / 2
        li x6, 7 // 2 * (3 - 1) % 5
        li x7, ~0 ^ 5 & 6
    """)
    assert got == [
        "li x1, 14",
        "li x2, 17",
        "li x3, -4",
        "li x4, 1026",
        "li x5, 4",
        "li x6, 1",
        "li x7, -5",
    ]


def test_params_are_overridden_by_defines():
    src = ".param N, 4\n.equ TWICE, 2 * N\nli x1, TWICE\n"
    assert ins_text(src) == ["li x1, 8"]
    assert [w for w in words(src, defines={"N": 100})] == words("li x1, 200")
    assert "declares no .param M" in str(
        pytest.raises(UsageError, assemble, src, "p.s", {"M": 1}).value  # no source line
    )
    assert parse_defines(["N=0x10", "F=1.5"]) == {"N": 16, "F": 1.5}


def test_labels_are_byte_addresses_and_forward_references_work():
    got = ins_text("""
        j end          ; forward
    top: addi x1, x1, 1
        bne x1, x2, top
    end: halt
    """)
    assert got == ["j 0x18", "addi x1, x1, 1", "bne x1, x2, 0x8", "halt"]


def test_data_layout_alignment_and_values():
    obj = assemble(
        """
    .data
    b:   .byte 1, -1, 0x7f
    w:   .word -2, 0xdeadbeef       ; aligned to 4, the label with it
    f:   .float 1.5, 0x1.8p-7, -0.0
    e:   .e4m3 448, -0x1p-9, nan
    m:   .e5m2 57344, -inf
         .zero 3
    .align 64
    buf: .buffer X, f32, 2, 3
    .text
         li x1, w
         li x2, buf
         li x3, X
    """,
        "p.s",
    )
    syms = {s.name: s for s in obj.symbols}
    assert syms["w"].addr == 4 and syms["f"].addr == 12 and syms["e"].addr == 24
    assert syms["buf"].addr == syms["X"].addr == 64
    assert syms["X"] == Symbol("X", "buffer", 64, "f32", (2, 3))
    assert [(a, len(b)) for a, b in obj.segments] == [(0, 3), (4, 25)]  # gap at 3
    blob = bytearray(32)
    for a, b in obj.segments:
        blob[a : a + len(b)] = b
    assert blob[:3] == bytes([1, 0xFF, 0x7F])
    assert struct.unpack("<iI", blob[4:12]) == (-2, 0xDEADBEEF)
    assert np.frombuffer(blob[12:24], "<f4").tolist() == [1.5, 0.01171875, -0.0]
    assert blob[24:29] == bytes([0x7E, 0x81, 0x7F, 0x7B, 0xFC])
    assert ins_text_of(obj) == ["li x1, 4", "li x2, 64", "li x3, 64"]


def ins_text_of(obj):
    from emu.machine.disasm import format_instr

    return [format_instr(decode(w), 8 * i) for i, w in enumerate(obj.words)]


def test_config_values_and_qualifiers():
    got = ins_text("""
        cfg acc_format, e8m13
        cfg a_format, E5M2
        cfg fused, k
        cfg fused, 16
        cfg align_bits, exact
        cfg acc_subnormals, false
        cfg scale_apply, promotion
        cfg promote_round, rd
        cfgp deepseek-v3
        quant.e5m2.rceil t1, s2, acc3, 128, 1
        cvt.e4m3.nonsat t0, acc7
        mma.bs acc0, t0, t1, s0, s1
        halt 3
        halt 0
    """)
    assert got == [
        "cfg acc_format, e8m13",
        "cfg a_format, e5m2",
        "cfg fused, k",
        "cfg fused, 16",
        "cfg align_bits, exact",
        "cfg acc_subnormals, false",
        "cfg scale_apply, promotion",
        "cfg promote_round, rd",
        "cfgp deepseek-v3",
        "quant.e5m2.rceil t1, s2, acc3, 128, 1",
        "cvt.e4m3.nonsat t0, acc7",
        "mma.bs acc0, t0, t1, s0, s1",
        "halt 3",
        "halt",
    ]


@pytest.mark.parametrize(
    "src, msg",
    [
        ("    lx x1, 2", "p.s:1:5: error: expected an instruction mnemonic, got 'lx'"),
        ("li x1", "p.s:1:1: error: expected li rd, imm (2 operands), got 1"),
        ("li x1, 2, 3", "p.s:1:11: error: expected li rd, imm (2 operands), got 3"),
        ("li x32, 1", "p.s:1:4: error: expected scalar register x0..x31 as rd, got 'x32'"),
        ("tld x1, x1, x2, 1, 1", "p.s:1:5: error: expected FP8 tile register t0..t15 as td"),
        ("li x1, 1 +", "p.s:1:11: error: expected a value at the end of the expression"),
        ("li x1, foo", "p.s:1:8: error: expected a defined symbol, 'foo' is not defined"),
        ("li x1, (1", "p.s:1:10: error: expected ')'"),
        ("li x1, 1 $ 2", "p.s:1:10: error: expected an expression, got '$ 2'"),
        (
            "li x1, 1 << 40",
            "p.s:1:8: error: expected imm: an integer in "
            "-2147483648..2147483647, got 1099511627776",
        ),
        ("li x1, 7 / 2", "p.s:1:8: error: expected imm: an integer, got 3.5"),
        ("li x1, 1 // 0", "p.s:1:10: error: expected a non-zero divisor"),
        ("tld t0, x1, x2, 4096, 1", "p.s:1:17: error: expected rows: an integer in 0..4095"),
        (
            "quant.e4m3.bad t0, s0, acc0, 1, 1",
            "p.s:1:1: error: expected quant.{fmt}.{mode}, got 'quant.e4m3.bad'",
        ),
        ("cfg acc_format, e9", "p.s:1:17: error: acc_format: expected a format name"),
        ("cfg nosuch, 1", "p.s:1:5: error: expected field: one of a_format, b_format"),
        ("cfg fused, -1", "p.s:1:12: error: expected fused: an integer other than -1 (write k)"),
        ("cfg acc_subnormals, maybe", "p.s:1:21: error: expected acc_subnormals: true or false"),
        ("cfgp h200", "p.s:1:6: error: expected name: one of default, exact"),
        ("j 3", "p.s:1:3: error: expected a code address (a multiple of 8), got 0x3"),
        (".equ x1, 5", "p.s:1:6: error: expected a symbol name, 'x1' is a reserved word"),
        (
            "a: halt\na: halt",
            "p.s:2:1: error: expected a new name, 'a' is already defined at line 1",
        ),
        (
            ".data\n li x1, 1",
            "p.s:2:2: error: expected a data directive in .data, got instruction 'li'",
        ),
        (".byte 1", "p.s:1:1: error: expected .byte in .data (this is .text)"),
        (".data\n.e4m3 0.1", "p.s:2:7: error: expected a value exactly representable in e4m3"),
        (
            ".data\n.byte 1\n.org 0\n.byte 2",
            "p.s:4:1: error: expected free memory, data at 0x0 overlaps earlier data",
        ),
        (".data\n.float 1e40", "p.s:2:8: error: expected a value within fp32 range"),
        (".data\n.buffer A, f64, 3", "p.s:2:12: error: expected a buffer dtype"),
        (".data\n.buffer A, f32", "p.s:2:1: error: expected .buffer NAME, dtype"),
        (".data\n.byte 300", "p.s:2:7: error: expected a byte in -128..255, got 300"),
        (".data\n.align 3", "p.s:2:8: error: expected a power of two, got 3"),
        (".wat 1", "p.s:1:1: error: expected a directive (.align, "),
        (".equ A, B\n.equ B, 1", "p.s:1:9: error: expected a defined symbol, 'B' is not defined"),
        ("li x1, 2,", "p.s:1:10: error: expected an operand after ','"),
        ("halt!", "p.s:1:5: error: expected a space after 'halt', got '!'"),
        ("  @foo", "p.s:1:3: error: expected a label, an instruction or a directive, got '@foo'"),
    ],
)
def test_errors_name_file_line_column_and_what_was_expected(src, msg):
    assert err(src).startswith(msg), err(src)


# --------------------------------------------------------------------- object files
def good_bytes():
    return assemble(
        "top: li x1, 1\n bne x1, x0, top\n halt\n.data\nv: .word 7\n.buffer B, e4m3, 2, 2\n", "p.s"
    ).to_bytes()


@pytest.mark.parametrize(
    "mutate, msg",
    [
        (lambda b: b"XXXX" + b[4:], "byte 0: bad magic b'XXXX'"),
        (lambda b: b[:4] + b"\x03\x00" + b[6:], "byte 4: unsupported version 3"),
        (lambda b: b[:20], "byte 0: truncated header"),
        (lambda b: b[:44], "byte 40: truncated instruction word (needs 8 bytes, 4 left)"),
        (
            lambda b: b[:40] + b"\x00" * 8 + b[48:],
            "byte 40: illegal instruction word 0x0000000000000000 at pc=0x8: unknown opcode",
        ),
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "byte 20: CRC-32 mismatch"),
        (lambda b: b + b"\x00" * 8, "unexpected bytes after the last record"),
    ],
)
def test_object_loader_errors_name_the_byte_offset(mutate, msg):
    with pytest.raises(ObjectError) as e:
        ObjectFile.from_bytes(mutate(good_bytes()))
    assert msg in str(e.value)


# --------------------------------------------------------------------- commands
def test_asm_and_disasm_commands_round_trip(tmp_path):
    src = ROOT / "examples" / "tiled_gemm.s"
    b1, s2, b2 = tmp_path / "a.bin", tmp_path / "b.s", tmp_path / "b.bin"
    assert cli("asm", src, "-o", b1, "-D", "M=512")[0] == 0
    assert cli("disasm", b1, "-o", s2)[0] == 0
    assert cli("asm", s2, "-o", b2)[0] == 0
    assert b1.read_bytes() == b2.read_bytes()
    code, out, _ = cli("disasm", b1)
    assert code == 0
    assert "mma.bs acc0, t0, t1, s0, s1" in out and ".buffer A, e4m3, 512, 1024" in out


def test_command_errors_are_one_line_with_status_2(tmp_path):
    bad = tmp_path / "bad.s"
    bad.write_text("li x1, 1\nadd x1, x2\n")
    code, _, e = cli("asm", bad, "-o", tmp_path / "o.bin")
    assert code == 2
    assert e == f"fp8emu: error: {bad}:2:1: error: expected add rd, rs1, rs2 (3 operands), got 2\n"
    assert not (tmp_path / "o.bin").exists()
    code, _, e = cli("disasm", bad)
    assert code == 2 and "byte 0: not an fp8emu object file" in e
    (tmp_path / "t.bin").write_bytes(good_bytes()[:50])
    code, _, e = cli("disasm", tmp_path / "t.bin")
    assert code == 2 and "byte 48: truncated" in e
    code, _, e = cli("asm", tmp_path / "missing.s", "-o", tmp_path / "o.bin")
    assert code == 2 and "no such file" in e
    code, _, e = cli("asm", ROOT / "examples" / "mx_gemm.s", "-D", "nope", "-o", tmp_path / "x")
    assert code == 2 and "expected NAME=VALUE" in e
