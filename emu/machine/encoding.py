"""Instruction words <-> :class:`Instr`, derived from :mod:`emu.machine.table`.

``encode`` and ``decode`` are exact inverses on every legal word: decode checks the
opcode, that every bit outside the fields is zero, and that enum and config-value
fields hold a defined value; anything else is an :class:`IllegalInstruction`.
:func:`upgrade` turns a word of an older layout (object-file version 1) into the
word of the same instruction in the current one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from emu.machine.table import (
    BY_MNEMONIC,
    BY_OPCODE,
    CONFIG_VALUE_RULES,
    ISA_VERSION,
    LAYOUTS,
    NAMED_FORMAT,
    OPCODE_BITS,
    Op,
)

_WORD_MASK = (1 << 64) - 1


class IllegalInstruction(ValueError):
    """A word that is not the encoding of any instruction (the message says why)."""


@dataclass(frozen=True)
class Instr:
    """A decoded instruction: its table row and one integer per field (table order).

    Target fields hold the signed word offset from this instruction."""

    op: Op
    args: tuple

    def arg(self, name: str) -> int:
        for f, v in zip(self.op.fields, self.args):
            if f.name == name:
                return v
        raise KeyError(name)


def encode(ins: Instr) -> int:
    """The 64-bit word of an instruction (ValueError if a value does not fit)."""
    w = ins.op.opcode
    for f, v in zip(ins.op.fields, ins.args):
        if not f.kind.lo <= v <= f.kind.hi:
            raise ValueError(
                f"{ins.op.mnemonic}: {f.name} = {v} does not fit {f.kind.lo}..{f.kind.hi}"
            )
        w |= (v & ((1 << f.width) - 1)) << f.lo
    return w


def decode(word: int, version: int = ISA_VERSION) -> Instr:
    """The instruction of a 64-bit word, or IllegalInstruction naming the reason.

    ``version``: the layout to read (an object-file version, :data:`LAYOUTS`); an
    Instr of an older layout is turned into a current one by :func:`upgrade`."""
    word &= _WORD_MASK
    opcode = word & ((1 << OPCODE_BITS) - 1)
    op = LAYOUTS[version].get(opcode) if version != ISA_VERSION else BY_OPCODE.get(opcode)
    if op is None:
        raise IllegalInstruction(f"unknown opcode {opcode:#04x}")
    stray = word & op.mask & ~((1 << OPCODE_BITS) - 1)
    if stray:
        raise IllegalInstruction(f"{op.mnemonic}: reserved bits set ({stray:#x})")
    args = []
    field_name = None
    for f in op.fields:
        v = (word >> f.lo) & ((1 << f.width) - 1)
        if f.kind.signed and v >> (f.width - 1):
            v -= 1 << f.width
        if f.kind.enum and v >= len(f.kind.enum):
            raise IllegalInstruction(
                f"{op.mnemonic}: {f.name} = {v} is not a defined {f.kind.name} value"
            )
        if f.kind.name == "field":
            field_name = f.kind.enum[v]
            if field_name not in CONFIG_VALUE_RULES:  # a field of an older layout, gone
                raise IllegalInstruction(f"{op.mnemonic}: field {field_name!r} no longer exists")
        if f.kind.name == "cfgval":
            why = cfg_value_problem(field_name, v)
            if why:
                raise IllegalInstruction(f"{op.mnemonic} {field_name}: {why}")
        args.append(v)
    return Instr(op, tuple(args))


def upgrade(ins: Instr) -> Instr:
    """The instruction of an older layout (:func:`decode` with ``version=1``) in the
    current one: the same mnemonic and operands, its enum fields (element format,
    config field, preset) mapped by name.  IllegalInstruction when a name is no longer
    defined."""
    op = BY_MNEMONIC[ins.op.mnemonic]
    if op is ins.op:
        return ins
    args = []
    for old, new, v in zip(ins.op.fields, op.fields, ins.args):
        if old.kind.enum:
            name = old.kind.enum[v]
            if name not in new.kind.enum:
                raise IllegalInstruction(
                    f"{op.mnemonic}: {old.name} {name!r} is no longer a {new.kind.name} value"
                )
            v = new.kind.enum.index(name)
        args.append(v)
    return Instr(op, tuple(args))


# ------------------------------------------------------------------ config values
_CANON_FORMATS = {(4, 3): "e4m3", (5, 2): "e5m2", (8, 23): "fp32", (5, 10): "fp16", (8, 7): "bf16"}
_FMT_RE = re.compile(r"^e(\d+)m(\d+)$")
_FMT_NAMES = {v: k for k, v in _CANON_FORMATS.items()}
_FMT_NAMES.update({"e8m23": (8, 23), "e5m10": (5, 10), "e8m7": (8, 7)})


def _format_rows():
    from emu.numerics.formats import FORMATS

    return FORMATS


def cfg_value_problem(field: str, v: int) -> str | None:
    """Why v is not an encodable value of field (None when it is)."""
    rule = CONFIG_VALUE_RULES[field]
    if rule[0] == "format":
        if v & ~0xFFFF == NAMED_FORMAT:
            if v - NAMED_FORMAT >= len(_format_rows()):
                return f"value {v:#x} names no format (row {v - NAMED_FORMAT} of FORMATS)"
            return None
        e, m = v >> 8, v & 0xFF
        if v < 0 or not (2 <= e <= 11 and m <= 52):
            return (
                f"value {v:#x} is not a format code ((ebits << 8) | mbits, or "
                f"{NAMED_FORMAT:#x} | a FORMATS row)"
            )
    elif rule[0] == "enum":
        if not 0 <= v < len(rule[1]):
            return f"value {v} is not one of 0..{len(rule[1]) - 1}"
    elif rule[0] == "bool":
        if v not in (0, 1):
            return f"value {v} is not 0 or 1"
    return None


def cfg_value_to_python(field: str, v: int):
    """The MacConfig value a legal encoded config value stands for."""
    rule = CONFIG_VALUE_RULES[field]
    if rule[0] == "format":
        if v & ~0xFFFF == NAMED_FORMAT:
            return _format_rows()[v - NAMED_FORMAT].name
        key = (v >> 8, v & 0xFF)
        return _CANON_FORMATS.get(key, f"e{key[0]}m{key[1]}")
    if rule[0] == "enum":
        return rule[1][v]
    if rule[0] == "bool":
        return bool(v)
    if rule[1] is not None and v == rule[2]:
        return rule[1]
    return v


def cfg_python_to_value(field: str, value) -> int:
    """Encode a MacConfig field value (ValueError when it has no encoding)."""
    rule = CONFIG_VALUE_RULES[field]
    if rule[0] == "format":
        name = str(value).strip().lower()
        for i, f in enumerate(_format_rows()):  # a row by name or alias (e8m0 = ue8m0)
            if name == f.name or name in f.aliases:
                if not (f.name in _FMT_NAMES or _FMT_RE.match(f.name)):
                    return NAMED_FORMAT | i
                name = f.name
        if name in _FMT_NAMES:
            return _FMT_NAMES[name][0] << 8 | _FMT_NAMES[name][1]
        m = _FMT_RE.match(name)
        if m and 2 <= int(m.group(1)) <= 11 and int(m.group(2)) <= 52:
            return int(m.group(1)) << 8 | int(m.group(2))
        names = ", ".join(f.name for f in _format_rows())
        raise ValueError(f"expected a format name ({names} or eXmY), got {value!r}")
    if rule[0] == "enum":
        name = str(value).strip().lower()
        if name not in rule[1]:
            raise ValueError(f"expected one of {', '.join(rule[1])}, got {value!r}")
        return rule[1].index(name)
    if rule[0] == "bool":
        if isinstance(value, bool):
            return int(value)
        raise ValueError(f"expected true or false, got {value!r}")
    if rule[1] is not None and value == rule[1]:
        return rule[2]
    if isinstance(value, bool) or not isinstance(value, int):
        special = f" or {rule[1]}" if rule[1] else ""
        raise ValueError(f"expected an integer{special}, got {value!r}")
    if rule[1] is not None and value == rule[2]:
        raise ValueError(f"{value} is the encoding of {rule[1]!r}; write {rule[1]}")
    if not -(1 << 31) <= value < 1 << 31:
        raise ValueError(f"expected a 32-bit integer, got {value}")
    return value


def cfg_value_text(field: str, v: int) -> str:
    """The assembly spelling of an encoded config value."""
    p = cfg_value_to_python(field, v)
    if isinstance(p, bool):
        return "true" if p else "false"
    return str(p)
