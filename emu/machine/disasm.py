"""The disassembler: :class:`ObjectFile` -> assembly text that assembles to the same
bytes (labels, data segments and buffers included)."""

from __future__ import annotations

from emu.machine.encoding import Instr, cfg_value_text, decode
from emu.machine.objfile import BUFFER_ALIGN, VERSION, ObjectFile
from emu.machine.table import CONFIG_FIELDS, WORD_BYTES


def imm_text(v: int) -> str:
    """Small integers in decimal, large ones in hex (``-0x1000``)."""
    if -4096 < v < 4096:
        return str(v)
    return f"-{-v:#x}" if v < 0 else f"{v:#x}"


def format_instr(ins: Instr, pc: int = 0, labels: dict | None = None) -> str:
    """One instruction in assembly syntax; branch targets use ``labels`` (address ->
    name) where one names the target, else the absolute address."""
    op = ins.op
    text = op.mnemonic
    ops = []
    field = None
    for f, v in zip(op.fields, ins.args):
        k = f.kind
        if f.qualifier:
            text += "." + k.enum[v]
            continue
        if k.reg:
            s = f"{k.reg}{v}"
        elif k.enum:
            s = k.enum[v]
        elif k.name == "cfgval":
            s = cfg_value_text(field, v)
        elif k.name == "target":
            addr = pc + v * WORD_BYTES
            s = (labels or {}).get(addr) or (f"-{-addr:#x}" if addr < 0 else f"{addr:#x}")
        else:
            s = imm_text(v)
        if k.name == "field":
            field = CONFIG_FIELDS[v]
        ops.append((s, f.default is not None and v == f.default))
    while ops and ops[-1][1]:
        ops.pop()
    return text + (" " + ", ".join(s for s, _ in ops) if ops else "")


def disassemble(obj: ObjectFile, source: str = "") -> str:
    """The whole object as assembly source (assembling it gives the same bytes)."""
    out = [f"; disassembly of {source}" if source else "; fp8emu disassembly"]
    if obj.version != VERSION:
        out.append(
            f"; read from a version-{obj.version} object file: this source assembles to "
            f"version {VERSION}, the same program"
        )
    code = [s for s in obj.symbols if s.kind == "code"]
    first = {}
    by_addr = {}
    for s in code:
        first.setdefault(s.addr, s.name)
        by_addr.setdefault(s.addr, []).append(s.name)
    out.append(".text")
    for i, w in enumerate(obj.words):
        pc = i * WORD_BYTES
        for name in by_addr.pop(pc, ()):
            out.append(f"{name}:")
        line = "    " + format_instr(decode(w), pc, first)
        out.append(f"{line:<48}; {pc:#06x}")
    end = len(obj.words) * WORD_BYTES
    for name in by_addr.pop(end, ()):
        out.append(f"{name}:")
    for addr, names in sorted(by_addr.items()):
        out.append(f"; labels {', '.join(names)} at {addr:#x} lie outside the program")
    data = [s for s in obj.symbols if s.kind != "code"]
    if data or obj.segments:
        out.append("")
        out.append(".data")
        out.extend(_data_lines(obj, data))
    return "\n".join(out) + "\n"


def _data_lines(obj, data):
    cuts = sorted({s.addr for s in data})
    items = []
    for n, s in enumerate(data):
        items.append((s.addr, 0, n, s))
    for addr, blob in obj.segments:
        inner = [c for c in cuts if addr < c < addr + len(blob)]
        bounds = [addr] + inner + [addr + len(blob)]
        for a, b in zip(bounds, bounds[1:]):
            items.append((a, 1, 0, blob[a - addr : b - addr]))
    items.sort(key=lambda t: t[:3])
    lines, cur = [], 0
    for addr, typ, _, payload in items:
        if typ == 0 and payload.kind == "buffer" and addr == -(-cur // BUFFER_ALIGN) * BUFFER_ALIGN:
            cur = addr  # .buffer aligns by itself
        if addr != cur:
            lines.append(f".org {addr:#x}")
            cur = addr
        if typ == 0 and payload.kind == "data":
            lines.append(f"{payload.name}:")
        elif typ == 0:
            dims = ", ".join(str(d) for d in payload.shape)
            lines.append(f".buffer {payload.name}, {payload.dtype}, {dims}")
            cur = addr + payload.nbytes
        else:
            for i in range(0, len(payload), 16):
                lines.append("    .byte " + ", ".join(f"{b:#04x}" for b in payload[i : i + 16]))
            cur = addr + len(payload)
    return lines
