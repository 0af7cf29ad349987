"""The ISA table and everything derived from it: encodings, decoding, docs."""

from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import emu
from emu.machine import asm, disasm, docgen
from emu.machine.encoding import (
    IllegalInstruction,
    Instr,
    cfg_python_to_value,
    cfg_value_to_python,
    decode,
    encode,
)
from emu.machine.interp import HANDLERS
from emu.machine.table import (
    BY_MNEMONIC,
    CONFIG_FIELDS,
    KINDS,
    OPCODE_BITS,
    OPS,
    SPELLINGS,
    WORD_BITS,
    preset_names,
)
from emu.numerics.config import FIELD_NAMES
from tests.helpers import ROOT, python


def test_fields_fit_the_word_and_do_not_overlap():
    for op in OPS:
        used = (1 << OPCODE_BITS) - 1
        for f in op.fields:
            assert f.lo + f.width <= WORD_BITS, (op.mnemonic, f.name)
            assert used & f.mask == 0, f"{op.mnemonic}.{f.name} overlaps another field"
            used |= f.mask
        assert op.mask | used == (1 << WORD_BITS) - 1
        assert op.mask & used == (1 << OPCODE_BITS) - 1


def test_no_two_encodings_overlap():
    """No word matches two instructions: their fixed bits (opcode + must-be-zero
    bits) conflict somewhere."""
    for a, b in combinations(OPS, 2):
        assert (a.match ^ b.match) & a.mask & b.mask, (a.mnemonic, b.mnemonic)


def test_opcode_zero_and_all_ones_are_illegal():
    with pytest.raises(IllegalInstruction, match="unknown opcode 0x00"):
        decode(0)
    with pytest.raises(IllegalInstruction):
        decode((1 << 64) - 1)


@pytest.mark.parametrize(
    "word, why",
    [
        (BY_MNEMONIC["halt"].opcode | 1 << 40, "reserved bits set"),
        (BY_MNEMONIC["quant"].opcode | 15 << 8, "fmt = 15 is not a defined elem value"),
        (BY_MNEMONIC["cfg"].opcode | 63 << 8, "field = 63 is not a defined field value"),
        (BY_MNEMONIC["cfg"].opcode | 7 << 8 | 2 << 14, "acc_subnormals: value 2 is not 0 or 1"),
        (
            BY_MNEMONIC["cfg"].opcode | 0 << 8 | 0x0F03 << 14,
            "a_format: value 0xf03 is not a format code",
        ),
        (
            BY_MNEMONIC["cfg"].opcode | 0 << 8 | 0x1FFFF << 14,
            "a_format: value 0x1ffff names no format",
        ),
        (BY_MNEMONIC["cfgp"].opcode | 63 << 8, "name = 63 is not a defined preset value"),
    ],
)
def test_illegal_words_name_the_reason(word, why):
    with pytest.raises(IllegalInstruction, match=why):
        decode(word)


@pytest.mark.parametrize(
    "word, why",
    [  # the version-1 layout: elem 2 bits at 8, field and preset 4 bits at 8
        (BY_MNEMONIC["quant"].opcode | 3 << 8, "fmt = 3 is not a defined elem value"),
        (BY_MNEMONIC["cfg"].opcode | 15 << 8, "field = 15 is not a defined field value"),
        (BY_MNEMONIC["cfg"].opcode | 7 << 8 | 2 << 12, "acc_subnormals: value 2 is not 0 or 1"),
        (BY_MNEMONIC["cfgp"].opcode | 8 << 8, "name = 8 is not a defined preset value"),
    ],
)
def test_illegal_version_1_words_name_the_reason(word, why):
    with pytest.raises(IllegalInstruction, match=why):
        decode(word, 1)


def _random_instr(draw_int, op):
    args = []
    field = None
    for f in op.fields:
        if f.kind.enum:
            v = draw_int(0, len(f.kind.enum) - 1)
        elif f.kind.name == "cfgval":
            v = _random_cfg_value(draw_int, CONFIG_FIELDS[field])
        else:
            v = draw_int(f.kind.lo, f.kind.hi)
        if f.kind.name == "field":
            field = v
        args.append(v)
    return Instr(op, tuple(args))


def _random_cfg_value(draw_int, field):
    kind = {"format": 0, "enum": 1, "bool": 2, "int": 3}
    from emu.machine.table import CONFIG_VALUE_RULES

    rule = CONFIG_VALUE_RULES[field]
    k = kind[rule[0]]
    if k == 0:
        return draw_int(2, 11) << 8 | draw_int(0, 52)
    if k == 1:
        return draw_int(0, len(rule[1]) - 1)
    if k == 2:
        return draw_int(0, 1)
    return draw_int(-(1 << 31), (1 << 31) - 1)


@st.composite
def instrs(draw):
    op = draw(st.sampled_from(OPS))
    return _random_instr(lambda lo, hi: draw(st.integers(lo, hi)), op)


@settings(max_examples=300, deadline=None)
@given(instrs())
def test_encode_decode_round_trip(ins):
    w = encode(ins)
    assert 0 <= w < 1 << 64
    assert decode(w) == ins


@settings(max_examples=500, deadline=None)
@given(st.integers(0, (1 << 64) - 1), st.sampled_from([op.opcode for op in OPS]))
def test_every_decodable_word_re_encodes_to_itself(word, opcode):
    """Decoding is unambiguous: a word that decodes encodes back to the same bits."""
    word = word & ~0xFF | opcode
    for w in (word, word & 0xFFFFFFFFFFFF, word & 0xFFFFFFFF):
        try:
            ins = decode(w)
        except IllegalInstruction:
            continue
        assert encode(ins) == w


def test_every_instruction_has_a_machine_handler():
    assert set(HANDLERS) == {op.mnemonic for op in OPS}


def test_config_fields_and_presets_match_emu():
    """The ISA's vocabulary is the numerics tables' (cfg indices, cfgp indices in
    the tables' order: the first eight presets keep their encodings)."""
    assert CONFIG_FIELDS == FIELD_NAMES
    assert preset_names() == tuple(emu.presets())
    old = ("default", "exact", "fp32-seq", "h100", "ada", "b200", "mxfp8", "deepseek-v3")
    assert preset_names()[: len(old)] == old
    assert len(preset_names()) <= 1 << KINDS["preset"].width


@pytest.mark.parametrize("name", list(emu.presets()))
def test_every_preset_value_is_encodable(name):
    """cfg can set every field of every preset, and decodes to the same value."""
    for field, value in emu.preset(name).to_dict().items():
        v = cfg_python_to_value(field, value)
        assert -(1 << 31) <= v < 1 << 31
        back = cfg_value_to_python(field, v)
        assert emu.MacConfig(**{**emu.preset(name).to_dict(), field: back}) == emu.preset(name), (
            field,
            value,
            back,
        )


def test_every_spelling_assembles_and_disassembles_to_itself():
    for text, (op, quals) in SPELLINGS.items():
        ins = _random_instr(lambda lo, hi: lo if lo >= 0 else 0, op)
        ins = Instr(op, tuple(quals) + ins.args[len(quals) :])
        line = disasm.format_instr(ins, 0)
        assert line.split(" ")[0] == text
        obj = asm.assemble(line + "\n", "t.s")
        assert obj.words == [encode(ins)]


def test_docs_isa_md_is_generated_from_the_table():
    want = docgen.generate()
    have = (ROOT / "docs" / "isa.md").read_text()
    assert have == want, "docs/isa.md is stale: run `python -m emu.machine.docgen > docs/isa.md`"


def test_docgen_module_prints_the_document():
    code, out, err = python("-m", "emu.machine.docgen", cwd=ROOT)
    assert code == 0, err
    assert out == docgen.generate()
    for op in OPS:
        assert f"`{op.syntax}`" in out
