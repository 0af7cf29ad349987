"""The fp8emu instruction set: one declarative table (:mod:`emu.machine.table`) and the tools
derived from it: encoding (:mod:`emu.machine.encoding`), object files (:mod:`emu.machine.objfile`),
assembler (:mod:`emu.machine.asm`), disassembler (:mod:`emu.machine.disasm`) and the reference
document (:mod:`emu.machine.docgen`, ``python -m emu.machine.docgen > docs/isa.md``)."""

from emu.machine.asm import AsmError, assemble
from emu.machine.disasm import disassemble, format_instr
from emu.machine.encoding import IllegalInstruction, Instr, decode, encode
from emu.machine.objfile import ObjectError, ObjectFile, is_object
from emu.machine.table import OPS

__all__ = [
    "assemble",
    "AsmError",
    "disassemble",
    "format_instr",
    "decode",
    "encode",
    "Instr",
    "IllegalInstruction",
    "ObjectFile",
    "ObjectError",
    "is_object",
    "OPS",
]
