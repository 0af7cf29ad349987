"""The instruction set as data: one row per instruction.

Everything else is derived from this module: the bit layout of every instruction
word (:mod:`emu.machine.encoding`), the assembler (:mod:`emu.machine.asm`), the disassembler
(:mod:`emu.machine.disasm`), the reference document ``docs/isa.md`` (:mod:`emu.machine.docgen`) and
the dispatch table of the machine (:mod:`emu.machine`, one handler per row).

An instruction is one 64-bit little-endian word.  Bits 7..0 hold the opcode; the
fields follow from bit 8 upwards in the order they are listed (qualifiers first,
then operands), each as wide as its kind says.  Every bit not covered by a field
must be zero, so every word decodes to at most one instruction.

The layout has a version, the object-file version (:data:`ISA_VERSION`).  Version 2
widened the ``elem`` qualifier (2 -> 4 bits: the formats of contract 5.1), the
``field`` operand of ``cfg`` and the ``preset`` operand of ``cfgp`` (4 -> 6 bits);
:data:`V1_BY_OPCODE` is the version-1 layout, in which objects of version 1 are read
and then re-encoded (:func:`emu.machine.encoding.upgrade`).

A row is ``(mnemonic, opcode, fields, group, summary)``.  ``fields`` is a string of
``name:kind`` items; a ``|`` separates the qualifiers (written as ``.value``
suffixes of the mnemonic, PTX style: ``quant.e4m3.ceil``) from the operands
(written after it, separated by commas).  ``name:kind=default`` makes a trailing
operand optional.
"""

from __future__ import annotations

from dataclasses import dataclass

from emu.numerics.config import presets
from emu.numerics.fields import FIELD_NAMES, FIELDS
from emu.numerics.formats import ROUND_MODES, formats_with_role
from emu.numerics.quant import SCALE_MODES

WORD_BITS = 64
WORD_BYTES = WORD_BITS // 8
OPCODE_BITS = 8
ISA_VERSION = 2  # the instruction layout of this table (= the object-file version)

# The numerics vocabulary comes from emu.numerics' tables: the fields in FIELDS order
# (the encoding of `cfg`: new fields go at the end), the presets in PRESETS order
# (`cfgp`; read when used, so a registered preset is a legal operand), the element
# formats of FORMATS (the `quant`/`cvt` qualifier), the scale modes of quant.
CONFIG_FIELDS = FIELD_NAMES
ELEMENTS = formats_with_role("element")
ROUNDINGS = ROUND_MODES
OVERFLOWS = ("sat", "nonsat")


def preset_names() -> tuple:
    return tuple(presets())


@dataclass(frozen=True)
class Kind:
    """How a field is encoded (width, signedness) and written in assembly.

    ``reg``: a register prefix (``x`` -> x0..x31); ``enum``: the names of the values
    0, 1, ...; ``cfgval``: a config value whose spelling depends on the ``field``
    operand of the same instruction (see :data:`CONFIG_VALUE_RULES`)."""

    name: str
    width: int
    signed: bool = False
    reg: str = ""
    values: object = ()  # the enum's names, or a function returning them
    doc: str = ""

    @property
    def enum(self) -> tuple:
        return tuple(self.values()) if callable(self.values) else self.values

    @property
    def lo(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1


KINDS = {
    k.name: k
    for k in (
        Kind("x", 5, reg="x", doc="scalar register x0..x31 (x0 reads as 0, writes are dropped)"),
        Kind(
            "t",
            4,
            reg="t",
            doc="FP8 tile register t0..t15 (element codes, one a byte: FP4/FP6 in the low "
            "bits; the default machine has t0..t7)",
        ),
        Kind(
            "acc",
            4,
            reg="acc",
            doc="FP32 accumulator tile acc0..acc15 (default machine: acc0..acc7)",
        ),
        Kind(
            "s", 4, reg="s", doc="scale register s0..s15 (one code a byte; default machine: s0..s7)"
        ),
        Kind("i32", 32, signed=True, doc="signed 32-bit integer expression"),
        Kind("u12", 12, doc="unsigned 12-bit integer expression (0..4095)"),
        Kind("u8", 8, doc="unsigned 8-bit integer expression (0..255)"),
        Kind(
            "target",
            32,
            signed=True,
            doc="code address (a label or an expression, a "
            "multiple of 8); encoded as a signed word offset "
            "from this instruction",
        ),
        Kind("elem", 4, values=ELEMENTS, doc="element format: " + ", ".join(ELEMENTS)),
        Kind(
            "smode",
            2,
            values=SCALE_MODES,
            doc="UE8M0 scale rule (spec 2.5): " + ", ".join(SCALE_MODES),
        ),
        Kind("ovf", 1, values=OVERFLOWS, doc="overflow policy (spec 1): " + ", ".join(OVERFLOWS)),
        Kind("rmode", 3, values=ROUNDINGS, doc="rounding mode: " + ", ".join(ROUNDINGS)),
        Kind("field", 6, values=CONFIG_FIELDS, doc="a numerics field name (spec table)"),
        Kind("cfgval", 32, signed=True, doc="a value of that field, spelt as in TOML/--set"),
        Kind("preset", 6, values=preset_names, doc="preset name (see below)"),
    )
}


# The version-1 layout (object files of version 1): elem 2 bits, field and preset 4.
# Its enums are the names of that version; a word is translated by name.
V1_ELEMENTS = ("e4m3", "e5m2", "e4m3ieee")
V1_FIELDS = (
    "a_format", "b_format", "fused", "align_bits", "align_round", "acc_format", "acc_round",
    "acc_subnormals", "c_in_alignment", "scale_block", "scale_apply", "scale_b_tile",
    "promote_every", "promote_format", "promote_round",
)  # fmt: skip
V1_PRESETS = ("default", "exact", "fp32-seq", "h100", "ada", "b200", "mxfp8", "deepseek-v3")
V1_KINDS = {
    **KINDS,
    "elem": Kind("elem", 2, values=V1_ELEMENTS),
    "field": Kind("field", 4, values=V1_FIELDS),
    "preset": Kind("preset", 4, values=V1_PRESETS),
}

# How `cfg FIELD, VALUE` encodes VALUE (a signed 32-bit field), by the field's type:
#   format:  eXmY names (e4m3, e5m2, e2m1, e8m13, ...; fp32, fp16, bf16 as e8m23, e5m10,
#            e8m7): (exponent bits << 8) | fraction bits; other names (e4m3fnuz,
#            e4m3ieee, ue8m0, ue4m3, ...): NAMED_FORMAT | the row's index in FORMATS
#   enum:    index into the field's values
#   bool:    0 = false, 1 = true
#   int:     the integer; the field's `special` word is encoded as -1, or as
#            INT_SPECIAL_NEG (-2^31) when the field allows negative integers (zero_exp)
NAMED_FORMAT = 1 << 16
INT_SPECIAL_NEG = -(1 << 31)


def special_code(f) -> int:
    """The cfg value of int field f's special word (``k``, ``exact``, ``drop``)."""
    return -1 if f.minimum >= 0 else INT_SPECIAL_NEG


def _value_rule(f) -> tuple:
    if f.type == "enum":
        return ("enum", f.values)
    if f.type == "int":
        return ("int", f.special, special_code(f) if f.special else None)
    return (f.type,)


CONFIG_VALUE_RULES = {f.name: _value_rule(f) for f in FIELDS}

# ---------------------------------------------------------------------------- table
_ROWS = (
    # ---- scalar
    (
        "halt",
        0x01,
        "code:u8=0",
        "scalar",
        "Stop the program with exit status `code` (0 = success; `fp8emu run` exits 1 for "
        "any other code, after writing the outputs).",
    ),
    ("li", 0x02, "rd:x imm:i32", "scalar", "rd <- imm, sign-extended to 64 bits."),
    ("add", 0x03, "rd:x rs1:x rs2:x", "scalar", "rd <- rs1 + rs2 (64-bit, wraps)."),
    ("sub", 0x04, "rd:x rs1:x rs2:x", "scalar", "rd <- rs1 - rs2 (64-bit, wraps)."),
    ("mul", 0x05, "rd:x rs1:x rs2:x", "scalar", "rd <- rs1 * rs2 (low 64 bits, two's complement)."),
    ("addi", 0x06, "rd:x rs1:x imm:i32", "scalar", "rd <- rs1 + imm (64-bit, wraps)."),
    ("beq", 0x08, "rs1:x rs2:x target:target", "scalar", "Branch to target if rs1 == rs2."),
    ("bne", 0x09, "rs1:x rs2:x target:target", "scalar", "Branch to target if rs1 != rs2."),
    ("blt", 0x0A, "rs1:x rs2:x target:target", "scalar", "Branch to target if rs1 < rs2 (signed)."),
    (
        "bge",
        0x0B,
        "rs1:x rs2:x target:target",
        "scalar",
        "Branch to target if rs1 >= rs2 (signed).",
    ),
    ("j", 0x0C, "target:target", "scalar", "Jump to target."),
    (
        "jal",
        0x0D,
        "rd:x target:target",
        "scalar",
        "rd <- address of the next instruction; jump to target (call).",
    ),
    (
        "jr",
        0x0E,
        "rs1:x",
        "scalar",
        "Jump to the code address in rs1 (return); it must be a multiple of 8 inside the program.",
    ),
    (
        "lw",
        0x10,
        "rd:x rs1:x imm:i32",
        "scalar",
        "rd <- the 32-bit little-endian word at rs1 + imm, sign-extended (4-byte aligned).",
    ),
    (
        "sw",
        0x11,
        "rs2:x rs1:x imm:i32",
        "scalar",
        "The 32-bit word at rs1 + imm <- low 32 bits of rs2 (4-byte aligned).",
    ),
    # ---- memory
    (
        "tld",
        0x20,
        "td:t rs1:x rs2:x rows:u12 cols:u12",
        "memory",
        "Tile td <- rows x cols bytes (element codes) from address rs1, row stride rs2 bytes (any "
        "stride >= 0; 0 repeats one row).",
    ),
    (
        "tst",
        0x21,
        "ts:t rs1:x rs2:x",
        "memory",
        "Store tile ts (its whole shape) at rs1, row stride rs2 (>= the row size).",
    ),
    (
        "sld",
        0x22,
        "sd:s rs1:x rs2:x rows:u12 cols:u12",
        "memory",
        "Scale register sd <- rows x cols scale codes (bytes) from rs1, row stride rs2.",
    ),
    ("sst", 0x23, "ss:s rs1:x rs2:x", "memory", "Store scale register ss at rs1, row stride rs2."),
    (
        "ald",
        0x24,
        "ad:acc rs1:x rs2:x rows:u12 cols:u12",
        "memory",
        "Accumulator ad <- rows x cols fp32 (little-endian) from rs1, row stride rs2 bytes "
        "(address and stride 4-byte aligned). The tile starts a new accumulation (C).",
    ),
    (
        "ast",
        0x25,
        "src:acc rs1:x rs2:x",
        "memory",
        "Store accumulator src as fp32 at rs1, row stride rs2 (4-byte aligned).",
    ),
    # ---- config
    (
        "cfg",
        0x30,
        "field:field value:cfgval",
        "config",
        "Set one numerics field, e.g. `cfg acc_format, e8m13`, `cfg fused, k`, "
        "`cfg align_bits, 13`. Checked for legal combinations when an MMA uses it.",
    ),
    (
        "cfgp",
        0x31,
        "name:preset",
        "config",
        "Set every numerics field from a preset, e.g. `cfgp deepseek-v3`.",
    ),
    # ---- compute
    (
        "azero",
        0x40,
        "ad:acc rows:u12 cols:u12",
        "compute",
        "Accumulator ad <- rows x cols of +0.0; starts a new accumulation.",
    ),
    (
        "mma",
        0x41,
        "ad:acc ta:t tb:t",
        "compute",
        "ad <- ad + ta . tb on the tensor core (no block scales: every scale is 2^0). "
        "ta is M x kt, tb is kt x N, ad is M x N. Continues ad's fold over k (see MMA "
        "chunking).",
    ),
    (
        "mma.bs",
        0x42,
        "ad:acc ta:t tb:t sa:s sb:s",
        "compute",
        "ad <- ad + (ta * sa) . (tb * sb) with block scales of scale_format (spec 2.3, "
        "5.1: UE8M0 2^(code - 127), UE4M3), applied per product or on promotion as the "
        "config says. sa is M x ceil(kt/scale_block); "
        "sb is ceil(kt/scale_block) x N, or x ceil(N/128) with scale_b_tile = 128.",
    ),
    (
        "quant",
        0x43,
        "fmt:elem mode:smode | td:t sd:s src:acc brows:u12 bcols:u12",
        "compute",
        "Quantise the fp32 tile src per block of brows x bcols values (spec 2.5): td <- "
        "element codes (rne, sat; FP4/FP6 in the low bits of a byte), sd <- one UE8M0 code "
        "per block, shape ceil(rows/brows) x ceil(cols/bcols). E.g. "
        "`quant.e4m3.ceil t0, s0, acc1, 1, 128`, `quant.e2m1.floor t0, s0, acc1, 1, 32`.",
    ),
    (
        "cvt",
        0x44,
        "fmt:elem ovf:ovf | td:t src:acc",
        "compute",
        "td <- the fp32 tile src converted to element codes, one a byte (FP4/FP6 in the low "
        "bits), rne, sat or nonsat (spec 1), e.g. `cvt.e5m2.sat t2, acc0`, "
        "`cvt.e2m1.sat t2, acc0`.",
    ),
    (
        "cvtr",
        0x45,
        "fmt:elem ovf:ovf mode:rmode | td:t src:acc",
        "compute",
        "As `cvt` with a rounding mode (rz, rne, ru, rd, rna), e.g. `cvtr.e4m3.sat.rna t2, acc0`.",
    ),
)

GROUPS = ("scalar", "memory", "config", "compute")


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    lo: int  # first bit in the word
    qualifier: bool
    default: int | None = None

    @property
    def width(self) -> int:
        return self.kind.width

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lo


@dataclass(frozen=True)
class Op:
    """One instruction: mnemonic, opcode, fields with their bit positions."""

    mnemonic: str
    opcode: int
    fields: tuple
    group: str
    summary: str

    @property
    def qualifiers(self) -> tuple:
        return tuple(f for f in self.fields if f.qualifier)

    @property
    def operands(self) -> tuple:
        return tuple(f for f in self.fields if not f.qualifier)

    @property
    def mask(self) -> int:
        """Bits that are fixed for this instruction (opcode + must-be-zero bits)."""
        m = (1 << WORD_BITS) - 1
        for f in self.fields:
            m &= ~f.mask
        return m

    @property
    def match(self) -> int:
        return self.opcode

    @property
    def syntax(self) -> str:
        """The assembly form, e.g. ``quant.{fmt}.{mode} td, sd, src, brows, bcols``."""
        head = self.mnemonic + "".join("." + "{" + f.name + "}" for f in self.qualifiers)
        ops = []
        for f in self.operands:
            ops.append(f"[{f.name}]" if f.default is not None else f.name)
        return head + (" " + ", ".join(ops) if ops else "")


def _build(row, kinds=KINDS) -> Op:
    mnemonic, opcode, spec, group, summary = row
    quals, _, ops = spec.rpartition("|")
    fields, lo = [], OPCODE_BITS
    for part, is_q in ((quals, True), (ops, False)):
        for item in part.split():
            name, kind = item.split(":")
            default = None
            if "=" in kind:
                kind, d = kind.split("=")
                default = int(d, 0)
            k = kinds[kind]
            fields.append(Field(name, k, lo, is_q, default))
            lo += k.width
    if lo > WORD_BITS:
        raise ValueError(f"{mnemonic}: fields need {lo} bits")
    return Op(mnemonic, opcode, tuple(fields), group, summary)


OPS = tuple(_build(r) for r in _ROWS)
BY_OPCODE = {op.opcode: op for op in OPS}
BY_MNEMONIC = {op.mnemonic: op for op in OPS}
if len(BY_OPCODE) != len(OPS) or len(BY_MNEMONIC) != len(OPS):
    raise ValueError("duplicate opcode or mnemonic in the ISA table")
V1_BY_OPCODE = {op.opcode: op for op in (_build(r, V1_KINDS) for r in _ROWS)}
LAYOUTS = {1: V1_BY_OPCODE, ISA_VERSION: BY_OPCODE}  # object version -> opcode -> Op


def spellings() -> dict:
    """Every legal written mnemonic -> (Op, qualifier values): ``quant.e4m3.ceil`` ->
    (quant, (0, 1)).  The legal combinations are the product of the qualifier enums."""
    out = {}
    for op in OPS:
        combos = [((), op.mnemonic)]
        for q in op.qualifiers:
            combos = [
                (vals + (i,), text + "." + name)
                for vals, text in combos
                for i, name in enumerate(q.kind.enum)
            ]
        for vals, text in combos:
            out[text] = (op, vals)
    return out


SPELLINGS = spellings()
