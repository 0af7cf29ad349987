"""The fp8emu instruction set: one declarative table (:mod:`isa.table`) and the tools
derived from it: encoding (:mod:`isa.encoding`), object files (:mod:`isa.objfile`),
assembler (:mod:`isa.asm`), disassembler (:mod:`isa.disasm`) and the reference
document (:mod:`isa.docgen`, ``python -m isa.docgen > docs/isa.md``)."""

from .asm import AsmError, assemble
from .disasm import disassemble, format_instr
from .encoding import IllegalInstruction, Instr, decode, encode
from .objfile import ObjectError, ObjectFile, is_object
from .table import OPS

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
