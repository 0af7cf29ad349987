"""The emulated machine: the ISA table and everything derived from it (encoding,
object files, assembler, disassembler, docs/isa.md), and the interpreter with one
small semantic function per instruction.  Builds on emu.numerics and emu.gemm; the
top-level package ``isa`` re-exports the ISA tools from here."""

from emu.machine.interp import (
    DEFAULT_MAX_MACS,
    DEFAULT_MAX_STEPS,
    Machine,
    load_program,
    run_program,
)

__all__ = ["DEFAULT_MAX_MACS", "DEFAULT_MAX_STEPS", "Machine", "load_program", "run_program"]
