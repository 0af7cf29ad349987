"""The formats of contract section 5.1 outside the numerics kernels: their roles, block
quantisation to each (hand-computed blocks), the ISA (qualifiers, ``cfg`` of any field,
object version 2 and version-1 objects), data directives and buffers, the machine
(cvt, cvtr, quant, mma), and the command line (packed FP4 inputs, one code a byte).

Expected codes are worked out by hand in the comments (value = m * 2**(e - M) with
e = max(E, 1) - bias), never by calling the function under test.
"""

import base64

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import emu
from emu.errors import MachineFault, UsageError
from emu.io import pack_codes, unpack_codes
from emu.machine.encoding import (
    IllegalInstruction,
    Instr,
    cfg_python_to_value,
    cfg_value_problem,
    cfg_value_text,
    cfg_value_to_python,
    decode,
    encode,
    upgrade,
)
from emu.machine.interp import Machine, run_program
from emu.machine.objfile import DTYPE_NAMES
from emu.machine.table import (
    CONFIG_VALUE_RULES,
    INT_SPECIAL_NEG,
    V1_BY_OPCODE,
    _value_rule,
)
from emu.numerics.config import FIELD_NAMES
from emu.numerics.fields import FIELDS, Field
from emu.numerics.formats import decode as decode_codes
from emu.numerics.formats import encode as encode_values
from emu.numerics.formats import formats_with_role, get_format
from emu.numerics.quant import SCALE_MODES, dequantize, quantize
from isa import AsmError, ObjectError, ObjectFile, assemble, disassemble
from tests.helpers import assert_bits_equal, cli, one_error_line, temp_files

NEW = ["e2m1", "e2m3", "e3m2", "e4m3fnuz", "e5m2fnuz"]
ELEMENTS = ["e4m3", "e5m2", "e2m1", "e2m3", "e3m2", "e4m3fnuz", "e5m2fnuz", "e4m3ieee"]
has_field = lambda name: pytest.mark.skipif(  # noqa: E731
    name not in FIELD_NAMES, reason=f"no {name} field in this checkout"
)


# ------------------------------------------------------------------ roles
def test_roles_element_order_and_scale_formats():
    assert list(formats_with_role("element")) == ELEMENTS  # e4m3, e5m2 first (table order)
    assert formats_with_role("scale") == ("ue8m0", "ue4m3")
    for f in NEW:
        cfg = emu.preset("exact").replace(a_format=f, b_format=f.upper())
        assert (cfg.a_format, cfg.b_format) == (f, f)


@pytest.mark.parametrize(
    "cmd, opt", [("quantize", "--format"), ("validate", "--format"), ("probe", "--format")]
)
def test_cli_choices_follow_the_table(cmd, opt):
    code, out, _ = cli(cmd, "--help")
    assert code == 0
    assert "|".join(ELEMENTS) in out.replace("\n", "").replace(" ", "")


# ------------------------------------------------------------------ quantize
# (format, block, {mode: S}, floor codes, ceil codes); UE8M0 code = 127 + S.
QUANT = [
    # e2m1: bias 1, M = 1, emax 2, max 6 = 1.5 * 4; codes 0..7 = 0, .5, 1, 1.5, 2, 3, 4, 6.
    # amax 6.5: floor: floor(log2 6.5) - 2 = 0; ceil/rceil: 6.5 / 6 = 1.083 -> 1;
    # even: 6.5 = 1.625 * 4, fraction .625 + 2**(22-1-23) = .875, no carry -> 2 - 2 = 0.
    # S = 0: 6.5 -> sat 6 = 0x7; -3 -> 0x8 | 0x5; 0.75 (a tie of .5 and 1) -> 1.0 = 0x2.
    # S = 1: 3.25 -> 3 = 0x5; -1.5 -> 0xB; 0.375 -> .5 = 0x1 (.375 / .5 = .75 -> 1).
    ("e2m1", [6.5, -3, 0.75], dict(floor=0, ceil=1, rceil=1, even=0), [7, 0xD, 2], [5, 0xB, 1]),
    # e2m3: bias 1, M = 3, emax 2, max 7.5 = 1.875 * 4.  amax 7.75: floor 2 - 2 = 0;
    # ceil/rceil 7.75 / 7.5 -> 1; even: fraction .9375 + 2**-4 = 1.0, a carry -> 3 - 2 = 1.
    # S = 0: 7.75 -> sat 7.5 = 0b0_11_111 = 0x1F; -0.3 -> subnormal .25 (m = 2) = 0x22;
    # 2.1 -> 2.0 (lsb .25: 8.4 -> 8) = 0b0_10_000 = 0x10.
    # S = 1: 3.875 -> lsb .25: 15.5 -> 16 -> 4.0 = 0b0_11_000 = 0x18; -0.15 -> m = 1.2 -> 1
    # = 0x21; 1.05 -> lsb .125: 8.4 -> 8 -> 1.0 = 0x08.
    ("e2m3", [7.75, -0.3, 2.1], dict(floor=0, ceil=1, rceil=1, even=1), [0x1F, 0x22, 0x10],
     [0x18, 0x21, 0x08]),
    # e3m2: bias 3, M = 2, emin -2, emax 4, max 28 = 1.75 * 16.  amax 30: floor 4 - 4 = 0;
    # ceil/rceil 30 / 28 -> 1; even: fraction .875 + 2**-3 = 1.0, a carry -> 5 - 4 = 1.
    # S = 0: 30 -> sat 28 = 0b0_111_11 = 0x1F; -0.1 -> lsb 2**-4: 1.6 -> 2 = 0x22;
    # 5 = 1.25 * 4 -> 0b0_101_01 = 0x15.
    # S = 1: 15 -> lsb 2: 7.5 -> 8 -> 16 = 0b0_111_00 = 0x1C; -0.05 -> .8 -> 1 = 0x21;
    # 2.5 = 1.25 * 2 -> 0b0_100_01 = 0x11.
    ("e3m2", [30, -0.1, 5], dict(floor=0, ceil=1, rceil=1, even=1), [0x1F, 0x22, 0x15],
     [0x1C, 0x21, 0x11]),
    # e3m2, amax 26 < 28: floor 0; ceil/rceil 26 / 28 = .93 -> 0; even .625 + .125 -> 0.
    # 26 -> lsb 4: 6.5 -> 6 -> 24 = 1.5 * 16 = 0b0_111_10 = 0x1E.
    ("e3m2", [26], dict(floor=0, ceil=0, rceil=0, even=0), [0x1E], [0x1E]),
    # e4m3fnuz: bias 8, M = 3, emin -7, emax 7, max 240 = 1.875 * 128.  amax 250: floor 0;
    # ceil/rceil 250 / 240 -> 1; even: .953125 + 2**-4 > 1, a carry -> 8 - 7 = 1.
    # S = 0: 250 -> sat 240 = 0b0_1111_111 = 0x7F; -1 -> E = 8: 0x40 | 0x80 = 0xC0;
    # 2**-10 -> subnormal m = 1 = 0x01.
    # S = 1: 125 -> lsb 8: 15.625 -> 16 -> 128 = E 15, f 0 = 0x78; -0.5 -> E 7 = 0xB8;
    # 2**-11 -> a tie of 0 and 2**-10 -> +0 = 0x00 (no -0 in fnuz either).
    ("e4m3fnuz", [250, -1, 2.0**-10], dict(floor=0, ceil=1, rceil=1, even=1),
     [0x7F, 0xC0, 0x01], [0x78, 0xB8, 0x00]),
    # e5m2fnuz: bias 16, M = 2, emin -15, emax 15, max 57344 = 1.75 * 2**15.  amax 60000:
    # floor 0; ceil/rceil 60000 / 57344 -> 1; even: .831 + .125 < 1 -> 15 - 15 = 0.
    # S = 0: 60000 -> lsb 2**13: 7.3 -> 7 -> 57344 = 0b0_11111_11 = 0x7F; -3 = 1.5 * 2 ->
    # E 17, f 10 = 0x46 | 0x80 = 0xC6; 0.5 -> E 15 = 0x3C.
    # S = 1: 30000 -> lsb 2**12: 7.32 -> 7 -> 28672 = E 30, f 11 = 0x7B; -1.5 -> E 16,
    # f 10 = 0xC2; 0.25 -> E 14 = 0x38.
    ("e5m2fnuz", [60000, -3, 0.5], dict(floor=0, ceil=1, rceil=1, even=0),
     [0x7F, 0xC6, 0x3C], [0x7B, 0xC2, 0x38]),
]  # fmt: skip


@pytest.mark.parametrize("fmt, row, S, floor_codes, ceil_codes", QUANT)
def test_quantize_hand_computed_blocks(fmt, row, S, floor_codes, ceil_codes):
    x = np.zeros((1, 32), np.float32)
    x[0, : len(row)] = row
    for mode in SCALE_MODES:
        codes, scales = quantize(x, fmt, (1, 32), mode)
        assert scales.tolist() == [[127 + S[mode]]], mode
        want = floor_codes if S[mode] == S["floor"] else ceil_codes
        assert codes[0, : len(row)].tolist() == want, mode
        assert not codes[0, len(row) :].any()
        assert codes.max() < 1 << get_format(fmt).bits  # FP4/FP6 in the low bits


def test_quantize_small_blocks_and_specials():
    # e4m3fnuz, amax 1 (every mode: S = -7, code 120): 1 * 2**7 = 128 -> 0x78; -0 -> +0
    # (fnuz has no -0; 0x80 is its NaN)
    for mode in SCALE_MODES:
        codes, scales = quantize(np.array([[1.0, -0.0]], np.float32), "e4m3fnuz", (1, 2), mode)
        assert (codes.tolist(), scales.tolist()) == ([[0x78, 0x00]], [[120]]), mode
    # e2m1 keeps -0 (0x8); a NaN / Inf block: scale 0xFF, elements +0 (FP4 has no NaN;
    # the block's NaN is its scale); fnuz elements 0x80
    codes, scales = quantize(np.array([[-0.0, 1.0, np.nan, 1.0]], np.float32), "e2m1", (1, 2))
    # block 0: amax 1, floor: 0 - 2 = -2 (code 125); -0 * 4 = -0 -> 0x8, 1 * 4 = 4 -> 0x6
    assert codes.tolist() == [[0x8, 0x6, 0, 0]] and scales.tolist() == [[125, 0xFF]]
    codes, scales = quantize(np.array([[np.inf, 1.0]], np.float32), "e5m2fnuz", (1, 2))
    assert codes.tolist() == [[0x80, 0x80]] and scales.tolist() == [[0xFF]]
    assert np.isnan(dequantize(codes, scales, "e5m2fnuz", (1, 2))).all()


@pytest.mark.parametrize("fmt", NEW)
def test_quantize_round_trip_of_every_value(fmt):
    """Every finite value of the format times 2**-3: floor's S is -3 (amax is the max
    finite, floor(log2) = emax), so the elements are the values themselves and
    dequantize gives the input back bit for bit (signed zeros included)."""
    f = get_format(fmt)
    v = decode_codes(f, np.arange(1 << f.bits))
    v = v[np.isfinite(v)]
    x = (v * 2.0**-3).astype(np.float32).reshape(1, -1)
    codes, scales = quantize(x, fmt, (1, x.shape[1]), "floor")
    assert scales.tolist() == [[127 - 3]]
    back = dequantize(codes, scales, fmt, (1, x.shape[1]))
    assert_bits_equal(back.astype(np.float32), x)


def test_quantize_names_the_element_formats():
    with pytest.raises(UsageError, match="element format must be one of e4m3, e5m2, e2m1, .*"):
        quantize(np.zeros((1, 4), np.float32), "ue4m3")


# ------------------------------------------------------------------ ISA encodings
@pytest.mark.parametrize(
    "line, word",
    [
        # quant: fmt 11..8 (e2m1 = 2), mode 13..12, td 17..14, sd 21..18, src 25..22,
        # brows 37..26, bcols 49..38
        ("quant.e2m1.floor t0, s0, acc1, 1, 32", 0x43 | 2 << 8 | 1 << 22 | 1 << 26 | 32 << 38),
        (
            "quant.e5m2fnuz.even t3, s2, acc0, 1, 1",
            0x43 | 6 << 8 | 3 << 12 | 3 << 14 | 2 << 18 | 1 << 26 | 1 << 38,
        ),
        # cvt: fmt 11..8 (e4m3fnuz = 5), ovf 12, td 16..13, src 20..17
        ("cvt.e4m3fnuz.nonsat t2, acc3", 0x44 | 5 << 8 | 1 << 12 | 2 << 13 | 3 << 17),
        # cvtr: fmt 11..8 (e4m3ieee = 7), ovf 12, mode 15..13 (rna = 4), td 19..16, src 23..20
        ("cvtr.e4m3ieee.sat.rna t1, acc0", 0x45 | 7 << 8 | 4 << 13 | 1 << 16),
        ("cvtr.e3m2.nonsat.rd t0, acc2", 0x45 | 4 << 8 | 1 << 12 | 3 << 13 | 2 << 20),
        # cfg: field 13..8, value 45..14 (e2m1 = 2 << 8 | 1; e4m3fnuz = 0x10000 | row 9)
        ("cfg a_format, e2m1", 0x30 | 0x201 << 14),
        ("cfg b_format, e4m3fnuz", 0x30 | 1 << 8 | 0x10009 << 14),
        ("cfg a_format, e4m3ieee", 0x30 | 0x1000C << 14),
        ("cfg fused, k", 0x30 | 2 << 8 | (0xFFFFFFFF << 14)),
        # cfgp: name 13..8
        ("cfgp deepseek-v3", 0x31 | 7 << 8),
    ],  # fmt: skip
)
def test_new_layout_words_and_round_trip(line, word):
    (w,) = assemble(line + "\n", "p.s").words
    assert w == word, f"{w:#x} != {word:#x}"
    from emu.machine.disasm import format_instr

    assert format_instr(decode(w)) == line


def test_every_new_qualifier_assembles_disassembles_and_reassembles():
    lines = [f"cvt.{f}.{o} t1, acc2" for f in ELEMENTS for o in ("sat", "nonsat")]
    lines += [f"quant.{f}.{m} t0, s1, acc0, 1, 32" for f in ELEMENTS for m in SCALE_MODES]
    lines += [f"cvtr.{f}.sat.{r} t3, acc1" for f in NEW for r in ("rz", "rne", "ru", "rd", "rna")]
    lines += [f"cfg a_format, {f}" for f in ELEMENTS] + [f"cfg b_format, {f}" for f in ELEMENTS]
    obj = assemble("\n".join(lines + ["halt"]) + "\n", "p.s")
    text = disassemble(ObjectFile.from_bytes(obj.to_bytes()))
    body = [ln.split(";")[0].strip() for ln in text.splitlines()[2:]]
    assert body[: len(lines)] == lines
    assert assemble(text, "back.s").to_bytes() == obj.to_bytes()


# ------------------------------------------------------------------ cfg of any field
def _field_values(f):
    """Values of a FIELDS row that cfg must carry: every enum value, both booleans,
    every allowed element/scale format, the bounds and the special word of an int."""
    if f.type == "bool":
        return [True, False]
    if f.type == "enum":
        return list(f.values)
    if f.type == "format":
        if f.values in ("element", "scale"):
            return list(formats_with_role(f.values))
        return ["fp32", "fp16", "bf16", "e8m13", "e5m7"]
    vals = list(f.values) or [f.minimum, f.minimum + 1]
    if f.maximum is not None:
        vals.append(f.maximum)
    if f.minimum < 0:
        vals += [-1, 0]
    return vals + ([f.special] if f.special else [])


CFG_CASES = [(f.name, v) for f in FIELDS for v in _field_values(f)]


@pytest.mark.parametrize("field, value", CFG_CASES, ids=[f"{f}={v}" for f, v in CFG_CASES])
def test_cfg_sets_every_value_of_every_field(field, value):
    """cfg is table-driven: whatever FIELDS holds (new fields appended, enums of any
    name, ints with a negative minimum or a special word), each value assembles,
    disassembles to itself, and the machine's config register holds it."""
    text = str(value).lower()
    obj = assemble(f"cfg {field}, {text}\nhalt\n", "p.s")
    from emu.machine.disasm import format_instr

    ins = decode(obj.words[0])
    assert format_instr(ins) == f"cfg {field}, {text}"
    m = Machine(obj)
    assert m.run() == 0
    assert m.cfg[field] == value and type(m.cfg[field]) is type(value)


def test_int_fields_with_negative_values_and_a_special_word(monkeypatch):
    """An int field whose minimum is negative (zero_exp: "drop" or d <= 0) encodes its
    special word as -2**31, so that -1 stays -1; fields with minimum >= 0 keep -1."""
    f = Field("zx", "int", "drop", "test", "2", minimum=-1024, maximum=0, special="drop")
    monkeypatch.setitem(CONFIG_VALUE_RULES, "zx", _value_rule(f))
    assert cfg_python_to_value("zx", "drop") == INT_SPECIAL_NEG == -(1 << 31)
    for v in (-1, 0, -7, -133, -1024):
        assert cfg_python_to_value("zx", v) == v
        assert cfg_value_to_python("zx", v) == v and cfg_value_text("zx", v) == str(v)
    assert cfg_value_to_python("zx", -(1 << 31)) == "drop"
    with pytest.raises(ValueError, match="the encoding of 'drop'; write drop"):
        cfg_python_to_value("zx", -(1 << 31))
    assert cfg_value_problem("zx", -5) is None
    assert cfg_python_to_value("fused", "k") == -1  # the version-1 encoding stays


@has_field("zero_exp")
def test_zero_exp_in_programs():
    src = "cfg zero_exp, -7\ncfg zero_exp, drop\ncfg zero_exp, -1\nhalt\n"
    obj = assemble(src, "p.s")
    assert disassemble(obj).count("cfg zero_exp") == 3
    m = Machine(obj)
    m.run()
    assert m.cfg["zero_exp"] == -1
    with pytest.raises(AsmError, match="an integer other than -2147483648 \\(write drop\\)"):
        assemble("cfg zero_exp, -0x80000000\n", "p.s")


def test_format_codes_decode_every_named_row():
    why = cfg_value_problem("a_format", 0x10000 | 99)
    assert why == "value 0x10063 names no format (row 99 of FORMATS)"
    for fld, name, code in (
        ("a_format", "e4m3", 0x403),
        ("a_format", "e2m1", 0x201),
        ("a_format", "e3m2", 0x302),
        ("a_format", "e5m2fnuz", 0x1000A),
        ("acc_format", "e8m23", 0x817),  # an alias: decodes to fp32
    ):
        assert cfg_python_to_value(fld, name) == code
        assert get_format(cfg_value_to_python(fld, code)) == get_format(name)


# ------------------------------------------------------------------ version-1 objects
V1_SOURCE = """\
; a version-1 object: every layout that version 2 changed (elem, field, preset)
.data
.buffer X, f32, 4, 64
.buffer W, e5m2, 64, 4
.buffer SW, ue8m0, 2, 4
.buffer D, f32, 4, 4
.buffer Q, e4m3ieee, 4, 64
.buffer E, e4m3ieee, 4, 4
.buffer F, e4m3ieee, 4, 4
.buffer G, e5m2, 4, 4
consts:
.e4m3ieee 1.5, -240
.text
    cfgp deepseek-v3
    cfgp mxfp8
    cfg a_format, e5m2
    cfg b_format, e5m2
    cfg acc_round, rz
    cfg align_bits, 20
    cfg promote_round, rd
    li x1, X
    li x2, 256
    ald acc1, x1, x2, 4, 64
    quant.e5m2.ceil t0, s0, acc1, 1, 32
    li x1, W
    li x2, 4
    tld t1, x1, x2, 64, 4
    li x1, SW
    sld s1, x1, x2, 2, 4
    azero acc0, 4, 4
    mma.bs acc0, t0, t1, s0, s1
    li x1, D
    li x2, 16
    ast acc0, x1, x2
    quant.e4m3ieee.even t2, s2, acc1, 1, 32
    li x1, Q
    li x2, 64
    tst t2, x1, x2
    cvt.e4m3ieee.sat t3, acc0
    li x1, E
    li x2, 4
    tst t3, x1, x2
    cvtr.e4m3ieee.nonsat.rna t4, acc0
    li x1, F
    tst t4, x1, x2
    cvtr.e5m2.sat.rd t5, acc0
    li x1, G
    tst t5, x1, x2
    halt
"""
# V1_SOURCE assembled by fp8emu before the version-2 layout (object version 1)
V1_OBJECT = base64.b64decode(
    "RlA4WAEAIAAkAAAAAQAAAAkAAAAIII9kAAAAAAAAAAAxBwAAAAAAADEGAAAAAAAAMCBQAAAAAAAwIVAAAAAA"
    "ADAGAAAAAAAAMEMBAAAAAAAwPgAAAAAAAAIBAAAAAAAAAgIgAAAAAAAkEQQBAAEAAEMFEAEAAgAAAgGAAAAA"
    "AAACggAAAAAAACARBBAQAAAAAgGgAAAAAAAiEYQAEAAAAEBAAAQAAAAAQgABAQAAAAACAagAAAAAAAICAgAA"
    "AAAAJRAEAAAAAABDLhIBAAIAAAIBsAAAAAAAAgIIAAAAAAAhEgQAAAAAAEQaAAAAAAAAAgHQAAAAAAACggAA"
    "AAAAACETBAAAAAAARSYBAAAAAAACAdgAAAAAACEUBAAAAAAARVkBAAAAAAACAeAAAAAAACEVBAAAAAAAAQAA"
    "AAAAAAAQBwAAAAAAAAIAAAAAAAAAPPcAAAAAAAACAwIBAAAAAAAAAAAAAAAABAAAAAAAAABAAAAAAAAAAFgA"
    "AAAAAAAAAgUCAQAAAAAABAAAAAAAAEAAAAAAAAAABAAAAAAAAABXAAAAAAAAAAIGAgIAAAAAAAUAAAAAAAAC"
    "AAAAAAAAAAQAAAAAAAAAU1cAAAAAAAACAwIBAAAAAEAFAAAAAAAABAAAAAAAAAAEAAAAAAAAAEQAAAAAAAAA"
    "AgcCAQAAAACABQAAAAAAAAQAAAAAAAAAQAAAAAAAAABRAAAAAAAAAAIHAgEAAAAAgAYAAAAAAAAEAAAAAAAA"
    "AAQAAAAAAAAARQAAAAAAAAACBwIBAAAAAMAGAAAAAAAABAAAAAAAAAAEAAAAAAAAAEYAAAAAAAAAAgUCAQAA"
    "AAAABwAAAAAAAAQAAAAAAAAABAAAAAAAAABHAAAAAAAAAAEAAAYAAAAAEAcAAAAAAABjb25zdHMAAA=="
)


def test_a_version_1_object_loads_as_the_same_program():
    assert V1_OBJECT[4:6] == b"\x01\x00"
    old = ObjectFile.from_bytes(V1_OBJECT)
    new = assemble(V1_SOURCE, "v1.s")
    assert old.version == 1 and new.version == 2
    assert old.words == new.words  # every word re-encoded in the version-2 layout
    assert old.segments == new.segments and old.symbols == new.symbols
    assert old.words != [int.from_bytes(V1_OBJECT[32 + 8 * i : 40 + 8 * i], "little")
                         for i in range(len(old.words))]  # fmt: skip
    text = disassemble(old, "v1.bin")
    assert "read from a version-1 object file" in text
    assert assemble(text, "back.s").to_bytes() == new.to_bytes()
    assert new.to_bytes()[4:6] == b"\x02\x00"


def test_a_version_1_object_runs_the_same():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((4, 64)) * 4).astype(np.float32)
    w = rng.integers(0, 0x7B, (64, 4)).astype(np.uint8)
    sw = rng.integers(120, 134, (2, 4)).astype(np.uint8)
    outs = ["D", "Q", "E", "F", "G"]
    runs = [
        run_program(src, dict(X=x, W=w, SW=sw), outs)[1]
        for src in (V1_OBJECT, assemble(V1_SOURCE, "v1.s").to_bytes())
    ]
    for k in outs:
        assert runs[0][k].tobytes() == runs[1][k].tobytes(), k
    # and it computes what the program says
    cfg = emu.preset("mxfp8").replace(a_format="e5m2", b_format="e5m2", acc_round="rz",
                                      align_bits=20, promote_round="rd")  # fmt: skip
    a, sa = quantize(x, "e5m2", (1, 32), "ceil")
    d = emu.gemm(a, w, sa=sa, sb=sw, config=cfg)
    assert_bits_equal(runs[0]["D"], d)
    q, _ = quantize(x, "e4m3ieee", (1, 32), "even")
    assert np.array_equal(runs[0]["Q"], q)
    d64 = d.astype(np.float64)
    assert np.array_equal(runs[0]["E"], encode_values("e4m3ieee", d64, "sat"))
    assert np.array_equal(runs[0]["F"], encode_values("e4m3ieee", d64, "nonsat", mode="rna"))
    assert np.array_equal(runs[0]["G"], encode_values("e5m2", d64, "sat", "rd"))


@st.composite
def v1_instrs(draw):
    op = draw(st.sampled_from(sorted(V1_BY_OPCODE.values(), key=lambda o: o.opcode)))
    args, field = [], None
    for f in op.fields:
        if f.kind.enum:
            v = draw(st.integers(0, len(f.kind.enum) - 1))
        elif f.kind.name == "cfgval":
            rule = CONFIG_VALUE_RULES[field]
            if rule[0] == "format":
                v = draw(st.sampled_from([0x403, 0x502, 0x817, 0x80D, 0x50A]))
            elif rule[0] == "enum":
                v = draw(st.integers(0, len(rule[1]) - 1))
            elif rule[0] == "bool":
                v = draw(st.integers(0, 1))
            else:
                v = draw(st.integers(-(1 << 31), (1 << 31) - 1))
        else:
            v = draw(st.integers(f.kind.lo, f.kind.hi))
        if f.kind.name == "field":
            field = f.kind.enum[v]
        args.append(v)
    return Instr(op, tuple(args))


@settings(max_examples=300, deadline=None)
@given(v1_instrs())
def test_every_version_1_word_upgrades_to_the_same_instruction(ins):
    w = encode(ins)
    old = decode(w, 1)
    assert old == ins
    new = upgrade(old)
    assert new.op.mnemonic == ins.op.mnemonic
    for f_old, f_new, v_old, v_new in zip(ins.op.fields, new.op.fields, ins.args, new.args):
        assert f_old.name == f_new.name
        if f_old.kind.enum:
            assert f_new.kind.enum[v_new] == f_old.kind.enum[v_old]
        else:
            assert v_new == v_old
    assert decode(encode(new)) == new


def test_version_1_elem_values_keep_their_meaning():
    # v1 quant.e4m3ieee.even t2, s2, acc1, 1, 32: fmt 9..8 = 2, mode 11..10 = 3, td 15..12,
    # sd 19..16, src 23..20, brows 35..24, bcols 47..36
    w1 = 0x43 | 2 << 8 | 3 << 10 | 2 << 12 | 2 << 16 | 1 << 20 | 1 << 24 | 32 << 36
    new = upgrade(decode(w1, 1))
    from emu.machine.disasm import format_instr

    assert format_instr(new) == "quant.e4m3ieee.even t2, s2, acc1, 1, 32"
    assert encode(new) == 0x43 | 7 << 8 | 3 << 12 | 2 << 14 | 2 << 18 | 1 << 22 | 1 << 26 | 32 << 38
    with pytest.raises(IllegalInstruction, match="fmt = 3 is not a defined elem value"):
        decode(0x43 | 3 << 8, 1)


def test_version_1_object_with_a_bad_word_names_its_offset():
    data = bytearray(V1_OBJECT)
    data[32 + 8 * 10 : 32 + 8 * 10 + 2] = (0x43 | 3 << 8).to_bytes(2, "little")  # elem 3
    import zlib

    data[20:24] = zlib.crc32(bytes(data[32:])).to_bytes(4, "little")
    with pytest.raises(ObjectError, match="byte 112: illegal instruction word .* elem value"):
        ObjectFile.from_bytes(bytes(data))


# ------------------------------------------------------------------ data and buffers
@pytest.mark.parametrize(
    "line, codes",
    [
        # e2m1: 6 = 0x7, -0.5 = 0x9, 1.5 = 0x3, -0 = 0x8, 0.5 = 0x1
        (".e2m1 6, -0.5, 1.5, -0.0, 0.5", [0x7, 0x9, 0x3, 0x8, 0x1]),
        # e2m3: 7.5 = 0b0_11_111, -0.125 = subnormal m = 1 with the sign (bit 5)
        (".e2m3 7.5, -0.125, 1", [0x1F, 0x21, 0x08]),
        # e3m2: 28 = 0b0_111_11, 2**-4 = subnormal m = 1, -0.25 = E 1 (emin -2) -> 0x24
        (".e3m2 28, 0.0625, -0.25", [0x1F, 0x01, 0x24]),
        # e4m3fnuz: 240 = 0x7F, -1 = 0xC0, 0 = 0x00, NaN = 0x80
        (".e4m3fnuz 240, -1, 0, nan", [0x7F, 0xC0, 0x00, 0x80]),
        (".e5m2fnuz 57344, -2**-17, nan", [0x7F, 0x81, 0x80]),
        # ue8m0: code = e + 127; NaN 0xFF
        (".ue8m0 1, 0.5, 2**-127, 2**127, nan", [0x7F, 0x7E, 0x00, 0xFE, 0xFF]),
        # ue4m3: an e4m3 code without sign: 448 = 0x7E, 1.5 = 0x3C, 2**-9 = 0x01, NaN 0x7F
        (".ue4m3 448, 0, 1.5, 2**-9, nan", [0x7E, 0x00, 0x3C, 0x01, 0x7F]),
    ],
)
def test_data_directives_of_every_format(line, codes):
    obj = assemble(f".data\n{line}\n", "p.s")
    assert obj.segments == [(0, bytes(codes))]


@pytest.mark.parametrize(
    "line, msg",
    [
        (".e2m1 nan", "expected a value exactly representable in e2m1, got nan"),
        (".e2m1 5", "expected a value exactly representable in e2m1, got 5.0 \\(nearest: 4.0"),
        (".e2m1 inf", "representable in e2m1, got inf"),
        (".e4m3fnuz -0.0", "representable in e4m3fnuz, got -0.0"),
        (".ue4m3 -1", "representable in ue4m3, got -1.0"),
        (".ue4m3 -0.0", "representable in ue4m3, got -0.0"),
        (".ue8m0 3", "representable in ue8m0, got 3.0"),
        (".e9m9 1", "expected a directive \\(.*\\.e2m1.*\\.ue4m3.*\\), got '.e9m9'"),
    ],
)
def test_data_directive_errors(line, msg):
    with pytest.raises(AsmError, match="p.s:2:.*error: .*" + msg):
        assemble(f".data\n{line}\n", "p.s")


def test_buffer_dtype_codes_are_stable():
    # the codes of version 1, then the formats of 5.1 in table order
    assert DTYPE_NAMES == ("u8", "i32", "u32", "f32", "e4m3", "e5m2", "ue8m0", "e4m3ieee",
                           "e2m1", "e2m3", "e3m2", "e4m3fnuz", "e5m2fnuz", "ue4m3")  # fmt: skip


def test_fp4_buffers_take_codes_in_the_low_bits():
    src = ".data\n.buffer A, e2m1, 2, 3\n.buffer S, ue4m3, 1, 2\n.text\nhalt\n"
    ok = np.array([[0, 1, 15], [8, 7, 2]], np.uint8)
    run_program(src, dict(A=ok, S=np.array([[0xB8, 0x7F]], np.uint8)))  # ue4m3: bit 7 ignored
    run_program(src, dict(A=ok.view(ml_dtypes.float4_e2m1fn)))
    with pytest.raises(
        UsageError,
        match=r"input A: buffer A \(e2m1\): 0x10 at \[1, 2\] is not an e2m1 code: e2m1 "
        r"codes are 4 bits \(0\.\.0x0f\), one a byte in the low bits",
    ):
        run_program(src, dict(A=np.array([[0, 1, 15], [8, 7, 16]], np.uint8)))


# ------------------------------------------------------------------ the machine
CVT_X = [0.0, 0.25, 0.3, 0.75, 1.25, 2.5, 5.0, 7.0, -0.0, -6.0, 100.0, np.nan, np.inf, -np.inf]
CVT = [
    # e2m1 rne: .25 -> 0 (a tie, even), .3 -> .5, .75 -> 1 (tie, even), 1.25 -> 1 (tie),
    # 2.5 -> 2 (tie) = 0x4, 5 -> 4 (tie) = 0x6, 7 -> 8 > 6: 6 = 0x7; -0 = 0x8; -6 = 0xF;
    # NaN -> +0 (no NaN code); +-Inf -> +-6, under sat and nonsat alike (no Inf, no NaN)
    ("cvt.e2m1.sat", [0, 0, 1, 2, 2, 4, 6, 7, 8, 0xF, 7, 0, 7, 0xF]),
    ("cvt.e2m1.nonsat", [0, 0, 1, 2, 2, 4, 6, 7, 8, 0xF, 7, 0, 7, 0xF]),
    # rz: .3 -> 0, .75 -> .5, 1.25 -> 1, 2.5 -> 2, 5 -> 4, 7 -> 6
    ("cvtr.e2m1.sat.rz", [0, 0, 0, 1, 2, 4, 6, 7, 8, 0xF, 7, 0, 7, 0xF]),
    # ru: .25 -> .5, .3 -> .5, .75 -> 1, 1.25 -> 1.5, 2.5 -> 3, 5 -> 6, 7 -> 6 (sat)
    ("cvtr.e2m1.sat.ru", [0, 1, 1, 2, 3, 5, 7, 7, 8, 0xF, 7, 0, 7, 0xF]),
    # e3m2 (emin -2, subnormal lsb 2**-4): .25 = E 1 -> 0x04, .3 -> lsb 2**-4 (normal
    # [.25, .5)): 4.8 -> 5 = 0x05, .75 -> 0x0A (E 2, f 10), 1.25 -> 0x0D, 2.5 -> 0x11,
    # 5 -> 0x15, 7 -> 0x17, -0 -> 0x20, -6 -> 0x36, 100 -> 28 = 0x1F, NaN -> 0
    ("cvt.e3m2.sat", [0, 0x04, 0x05, 0x0A, 0x0D, 0x11, 0x15, 0x17, 0x20, 0x36, 0x1F, 0, 0x1F,
                      0x3F]),
    # e4m3fnuz (bias 8): .25 = E 6 -> 0x30, .3 -> lsb 2**-5: 9.6 -> 10 = 1.25 * .25 ->
    # 0x32, .75 -> 0x3C, 1.25 -> 0x42, 2.5 -> 0x4A, 5 -> 0x52, 7 -> 0x56, -0 -> +0,
    # -6 = 1.5 * 4 -> 0xD4, 100 -> lsb 8: 12.5 -> 12 -> 96 = E 14, f 100 = 0x74; NaN,
    # Inf -> 0x80 under nonsat; sat: Inf -> +-240 = 0x7F / 0xFF, NaN -> 0x80
    ("cvt.e4m3fnuz.nonsat", [0, 0x30, 0x32, 0x3C, 0x42, 0x4A, 0x52, 0x56, 0, 0xD4, 0x74,
                             0x80, 0x80, 0x80]),
    ("cvt.e4m3fnuz.sat", [0, 0x30, 0x32, 0x3C, 0x42, 0x4A, 0x52, 0x56, 0, 0xD4, 0x74, 0x80,
                          0x7F, 0xFF]),
]  # fmt: skip


@pytest.mark.parametrize("op, codes", CVT, ids=[c[0] for c in CVT])
def test_cvt_of_known_values(op, codes):
    src = f"""
        .data
    .buffer X, f32, 1, {len(CVT_X)}
    .buffer Q, u8, 1, {len(CVT_X)}
        .text
        li x1, X
        ald acc0, x1, x0, 1, {len(CVT_X)}
        {op} t0, acc0
        li x1, Q
        tst t0, x1, x0
        halt
    """
    _, out, _ = run_program(src, dict(X=np.array([CVT_X], np.float32)), ["Q"])
    assert out["Q"][0].tolist() == codes


def _mma_program(fmt, M, N, K, scales=""):
    b = "mma.bs acc0, t0, t1, s0, s1" if scales else "mma acc0, t0, t1"
    return f"""
        .data
    .buffer A, {fmt}, {M}, {K}
    .buffer B, {fmt}, {K}, {N}
    .buffer SA, {scales or "u8"}, {M}, 2
    .buffer SB, {scales or "u8"}, 2, {N}
    .buffer D, f32, {M}, {N}
        .text
        li x1, A
        li x2, {K}
        tld t0, x1, x2, {M}, {K}
        li x1, B
        li x2, {N}
        tld t1, x1, x2, {K}, {N}
        li x1, SA
        li x2, 2
        sld s0, x1, x2, {M}, 2
        li x1, SB
        li x2, {N}
        sld s1, x1, x2, 2, {N}
        azero acc0, {M}, {N}
        {b}
        li x1, D
        li x2, {4 * N}
        ast acc0, x1, x2
        halt
    """


@pytest.mark.parametrize("fmt", NEW)
def test_mma_on_new_element_formats_equals_emu_gemm(fmt):
    f = get_format(fmt)
    rng = np.random.default_rng(3)
    a = rng.integers(0, 1 << f.bits, (3, 64)).astype(np.uint8)
    b = rng.integers(0, 1 << f.bits, (64, 5)).astype(np.uint8)
    if f.kind == "fnuz":  # no NaN operands (0x80): a finite result to compare
        a[a == 0x80], b[b == 0x80] = 0, 0
    cfg = emu.preset("exact").replace(a_format=fmt, b_format=fmt)
    src = f"cfg a_format, {fmt}\ncfg b_format, {fmt}\n" + _mma_program(fmt, 3, 5, 64)
    _, out, _ = run_program("cfgp exact\n" + src, dict(A=a, B=b), ["D"])
    want = emu.gemm(a, b, config=cfg)
    assert_bits_equal(out["D"], want)
    if fmt != "e5m2fnuz":  # products span <= 36 bits: the float64 sum is exact
        exact = (decode_codes(f, a) @ decode_codes(f, b)).astype(np.float32)
        assert_bits_equal(out["D"], exact)


def test_mma_faults_on_bits_above_an_fp4_code():
    src = "cfg a_format, e2m1\ncfg b_format, e2m1\n" + _mma_program("u8", 1, 1, 4)
    a = np.array([[1, 2, 0x13, 4]], np.uint8)
    with pytest.raises(MachineFault, match=r"mma acc0, t0, t1: t0 holds 0x13 at \[0, 2\], "
                       r"not an e2m1 code \(0\.\.0x0f, the low bits of a byte\)"):  # fmt: skip
        run_program(src, dict(A=a, B=np.ones((4, 1), np.uint8)), ["D"])


@has_field("scale_format")
def test_mma_bs_with_ue4m3_scales_equals_emu_gemm():
    rng = np.random.default_rng(4)
    a = rng.integers(0, 16, (2, 32)).astype(np.uint8)
    b = rng.integers(0, 16, (32, 3)).astype(np.uint8)
    sa = rng.integers(0x20, 0x50, (2, 2)).astype(np.uint8)
    sb = rng.integers(0x20, 0x50, (2, 3)).astype(np.uint8)
    cfg = emu.preset("exact").replace(a_format="e2m1", b_format="e2m1", scale_block=16,
                                      scale_format="ue4m3")  # fmt: skip
    head = "cfgp exact\ncfg a_format, e2m1\ncfg b_format, e2m1\ncfg scale_block, 16\n"
    head += "cfg scale_format, ue4m3\n"
    src = head + _mma_program("e2m1", 2, 3, 32, scales="ue4m3")
    _, out, _ = run_program(src, dict(A=a, B=b, SA=sa, SB=sb), ["D"])
    assert_bits_equal(out["D"], emu.gemm(a, b, sa=sa, sb=sb, config=cfg))


# ------------------------------------------------------------------ packed FP4 inputs
def test_pack_and_unpack_nibble_order():
    # element 2i in bits 3..0, element 2i + 1 in bits 7..4
    packed = np.array([[0x21, 0xF0], [0x8A, 0x07]], np.uint8)
    codes = unpack_codes(packed, "e2m1", "x")
    assert codes.tolist() == [[0x1, 0x2, 0x0, 0xF], [0xA, 0x8, 0x7, 0x0]]
    assert np.array_equal(pack_codes(codes), packed)


@pytest.fixture()
def fp4(tmp_path):
    rng = np.random.default_rng(9)
    a = rng.integers(0, 16, (4, 64)).astype(np.uint8)
    b = rng.integers(0, 16, (64, 6)).astype(np.uint8)
    for name, arr in dict(A=a, B=b, A4=pack_codes(a), B4=pack_codes(b)).items():
        np.save(tmp_path / f"{name}.npy", arr)
    bad = a.copy()
    bad[1, 3] = 0x1F
    np.save(tmp_path / "A16.npy", bad)
    np.save(tmp_path / "A6.npy", np.full((4, 64), 0x40, np.uint8))
    np.save(tmp_path / "Af.npy", np.zeros((4, 32), np.float32))
    return tmp_path, a, b


E2M1 = ["--set", "a_format=e2m1", "--set", "b_format=e2m1", "--set", "scale_block=0"]


def test_gemm_packed_input_equals_the_unpacked_one(fp4):
    d, a, b = fp4
    assert cli("gemm", "--a", "A.npy", "--b", "B.npy", *E2M1, "--out", "D1.npy", cwd=d)[0] == 0
    code, _, err = cli(
        "gemm", "--a", "A4.npy:e2m1x2", "--b", "B4.npy:E2M1X2", *E2M1, "--out", "D2.npy", cwd=d
    )
    assert code == 0, err
    d1, d2 = np.load(d / "D1.npy"), np.load(d / "D2.npy")
    assert_bits_equal(d1, d2)
    cfg = emu.preset("default").replace(a_format="e2m1", b_format="e2m1", scale_block=0)
    assert_bits_equal(d1, emu.gemm(a, b, config=cfg))


def test_run_packed_input_equals_the_unpacked_one(fp4):
    d, a, b = fp4
    (d / "p.s").write_text(
        "cfg a_format, e2m1\ncfg b_format, e2m1\ncfg scale_block, 0\n"
        + _mma_program("e2m1", 4, 6, 64)
    )
    outs = []
    for ins in (["A=A.npy", "B=B.npy"], ["A=A4.npy:e2m1x2", "B=B4.npy:e2m1x2"]):
        out = f"D{len(outs)}.npy"
        args = [x for i in ins for x in ("--in", i)]
        code, _, err = cli("run", "p.s", *args, "--out", f"D={out}", cwd=d)
        assert code == 0, err
        outs.append(np.load(d / out))
    assert_bits_equal(outs[0], outs[1])


def test_compare_and_quantize_take_the_new_formats(fp4):
    d, a, b = fp4
    code, out, err = cli("compare", "--a", "A4.npy:e2m1x2", "--b", "B.npy", *E2M1, cwd=d)
    assert code == 0, err
    assert "exact-fp32" in out and "given codes" not in err
    x = np.linspace(-3, 3, 64, dtype=np.float32).reshape(2, 32)
    np.save(d / "X.npy", x)
    for fmt in NEW:
        code, _, err = cli("quantize", "--x", "X.npy", "--format", fmt, "--block", "1x32",
                           "--out", "Q.npy", "--scales", "S.npy", cwd=d)  # fmt: skip
        assert code == 0, err
        q, s = quantize(x, fmt, (1, 32), "floor")
        assert np.array_equal(np.load(d / "Q.npy"), q) and np.array_equal(np.load(d / "S.npy"), s)


@pytest.mark.parametrize("fmt", NEW)
def test_vectors_and_validate_for_every_new_format(tmp_path, fmt):
    sets = ["--set", f"a_format={fmt}", "--set", f"b_format={fmt}"]
    code, _, err = cli("vectors", *sets, "--k", "64", "--random", "16", "--out", "v", cwd=tmp_path)
    assert code == 0, err
    for layout in ("text", "hex", "testfloat"):
        code, out, err = cli("validate", "--config", "v/config.toml", "--dir", "v",
                             "--layout", layout, cwd=tmp_path)  # fmt: skip
        assert code == 0 and out.startswith("PASS"), (layout, out, err)
    rows = (tmp_path / "v" / "a.hex").read_text().split()
    codes = np.frombuffer(bytes.fromhex("".join(rows)), np.uint8)
    assert codes.max() < 1 << get_format(fmt).bits  # one code a byte, in the low bits


def test_sweep_varies_the_element_format(tmp_path):
    code, out, err = cli("sweep", "--vary", "a_format=e2m1,e3m2,e5m2fnuz", "--m", "4", "--n",
                         "4", "--k", "64", "--set", "scale_block=32", cwd=tmp_path)  # fmt: skip
    assert code == 0, err
    assert [ln.split()[0] for ln in out.splitlines()[1:4]] == ["e2m1", "e3m2", "e5m2fnuz"]


# ------------------------------------------------------------------ bad inputs
BAD = [
    (["gemm", "--a", "A16.npy", "--b", "B.npy", *E2M1, "--out", "OUT.npy"],
     r"--a A16\.npy: 0x1f at \[1, 3\] is not an e2m1 code: e2m1 codes are 4 bits \(0\.\.0x0f\), "
     r"one a byte in the low bits \(two a byte: FILE\.npy:e2m1x2\)"),
    (["gemm", "--a", "A6.npy", "--b", "B.npy", "--set", "a_format=e2m3", "--out", "OUT.npy"],
     r"--a A6\.npy: 0x40 at \[0, 0\] is not an e2m3 code: e2m3 codes are 6 bits \(0\.\.0x3f\), "
     r"one a byte in the low bits"),
    (["gemm", "--a", "Af.npy:e2m1x2", "--b", "B.npy", *E2M1, "--out", "OUT.npy"],
     r"--a Af\.npy:e2m1x2: packed e2m1 codes \(e2m1x2\) must be uint8, two codes a byte, "
     r"got dtype float32"),
    (["gemm", "--a", "A4.npy:e2m1x2", "--b", "B.npy", "--out", "OUT.npy"],
     r"--a A4\.npy:e2m1x2: packed e2m1 codes, but the operand format is e4m3"),
    (["gemm", "--a", "A4.npy:e3m2x2", "--b", "B.npy", *E2M1, "--out", "OUT.npy"],
     r"--a A4\.npy:e3m2x2: unknown packed format 'e3m2x2' \(packed inputs: :e2m1x2, two 4-bit "
     r"codes a byte\)"),
    (["gemm", "--a", "nosuch.npy:e2m1x2", "--b", "B.npy", *E2M1, "--out", "OUT.npy"],
     r"--a: nosuch\.npy: no such file"),
    (["compare", "--a", "A16.npy", "--b", "B.npy", *E2M1],
     r"--a A16\.npy: 0x1f at \[1, 3\] is not an e2m1 code: .*"),
    (["run", "p.s", "--in", "A=A4.npy:e2m1x2", "--out", "D=OUT.npy"],
     r"--in A=A4\.npy:e2m1x2: packed e2m1 codes, but buffer A is e4m3"),
    (["run", "q.s", "--in", "A=A16.npy", "--out", "D=OUT.npy"],
     r"--in A=A16\.npy: buffer A \(e2m1\): 0x1f at \[1, 3\] is not an e2m1 code: .*"),
]  # fmt: skip


@pytest.mark.parametrize("args, pattern", BAD, ids=[f"{a[0]}-{a[2]}" for a, _ in BAD])
def test_bad_inputs_give_one_error_line(fp4, args, pattern):
    d, _, _ = fp4
    (d / "p.s").write_text(".data\n.buffer A, e4m3, 4, 64\n.buffer D, f32, 1\n.text\nhalt\n")
    (d / "q.s").write_text(".data\n.buffer A, e2m1, 4, 64\n.buffer D, f32, 1\n.text\nhalt\n")
    code, _, err = cli(*args, cwd=d)
    one_error_line(code, err, pattern)
    assert not (d / "OUT.npy").exists()
    assert temp_files(d) == []


def test_validate_refuses_bits_above_fp4_codes(tmp_path):
    a = np.zeros((2, 8), np.uint8)
    a[1, 5] = 0x30
    np.savez(tmp_path / "c.npz", a=a, b=np.zeros((2, 8), np.uint8), d=np.zeros(2, np.float32))
    code, _, err = cli("validate", "--npz", "c.npz", *E2M1, cwd=tmp_path)
    one_error_line(code, err, r"--npz: c\.npz: a: 0x30 at \[1, 5\] is not an e2m1 code: .*")
    vec = tmp_path / "v"
    assert cli("vectors", *E2M1, "--k", "8", "--random", "2", "--out", "v", cwd=tmp_path)[0] == 0
    lines = (vec / "a.hex").read_text().splitlines()
    lines[0] = "1F" + lines[0][2:]  # the code of element K - 1 of case 0
    (vec / "a.hex").write_text("\n".join(lines) + "\n")
    code, _, err = cli("validate", "--config", "v/config.toml", "--dir", "v", "--layout", "hex",
                       cwd=tmp_path)  # fmt: skip
    one_error_line(code, err, r"a\.hex:1: a: 0x1f at \[7\] is not an e2m1 code: .*")


def test_python_api_refuses_bits_above_a_narrow_code():
    """emu.gemm and emu.reference.gemm refuse an FP4/FP6 operand byte with a bit above
    the code (one UsageError naming the argument, the value and its place)."""
    cfg = emu.preset("b200-tcgen05").replace(a_format="e2m1", b_format="e3m2")
    a = np.zeros((2, 4), np.uint8)
    b = np.zeros((4, 2), np.uint8)
    b[3, 1] = 0x40
    for g in (emu.gemm, emu.reference.gemm):
        with pytest.raises(emu.UsageError, match=r"b: 0x40 at \[3, 1\] is not an e3m2 code"):
            g(a, b, config=cfg)
    a[0, 1] = 0x10
    with pytest.raises(emu.UsageError, match=r"a: 0x10 at \[0, 1\] is not an e2m1 code"):
        emu.gemm(a, b, config=cfg)


@pytest.mark.parametrize("fmt", ["e2m1", "e2m3", "e3m2", "e4m3fnuz", "e5m2fnuz"])
def test_probe_for_every_element_format(fmt, tmp_path):
    """fp8emu probe makes its case set for formats without NaN (FP4/FP6: the NaN
    family is skipped) or with the fnuz NaN; every case holds codes of the format."""
    from emu.toolkit import probe as P

    cases, bld = P.generate(fmt, fmt, 32, False, 32)
    width = (1 << emu.numerics.formats.get_format(fmt).bits) - 1
    assert len(cases.a) > 100
    assert all(int(np.max(r)) <= width for r in cases.a)
    names = {s["name"] for s in bld.skipped}
    assert ("special_nan" in names) == (fmt in ("e2m1", "e2m3", "e3m2"))
