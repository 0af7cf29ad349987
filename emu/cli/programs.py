"""Program commands: ``asm``, ``disasm``, ``run``."""

from __future__ import annotations

import re

import click

from emu.cli.core import config_options
from emu.errors import UsageError
from emu.io import read_error
from emu.machine.interp import DEFAULT_MAX_MACS, DEFAULT_MAX_STEPS

_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?)?\s*$", re.I)


def _read(path, what="program") -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as e:
        raise read_error(e, f"{what} {path}") from None


MAX_MEM = 1 << 34


def _size(text: str, what: str) -> int:
    m = _SIZE_RE.match(text)
    if not m:
        raise UsageError(f"{what} {text!r}: expected a size such as 1048576, 64M or 1G")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[(m.group(2) or "")[:1].lower()]
    n = int(m.group(1)) * mult
    if not 1 <= n <= MAX_MEM:
        raise UsageError(f"{what} {text!r}: expected a size from 1 byte to 16G")
    return n


def _pairs(items, opt):
    out = {}
    for item in items:
        name, eq, path = item.partition("=")
        if not eq or not name.strip() or not path.strip():
            raise UsageError(f"{opt} {item!r}: expected NAME=FILE.npy")
        if name.strip() in out:
            raise UsageError(f"{opt} {name.strip()}: given twice")
        out[name.strip()] = path.strip()
    return out


def _defines_option(f):
    return click.option(
        "-D",
        "--define",
        "defines",
        multiple=True,
        metavar="NAME=VALUE",
        help="Override a .param of the program (repeatable).",
    )(f)


@click.command("asm")
@click.argument("source", metavar="PROG.s")
@click.option(
    "-o",
    "--output",
    "out_path",
    required=True,
    metavar="PROG.bin",
    help="Where to write the object file.",
)
@_defines_option
def asm_cmd(source, out_path, defines):
    """Assemble a program into an object file.

    \b
    Example:
      fp8emu asm examples/tiled_gemm.s -o tiled_gemm.bin
      fp8emu asm examples/tiled_gemm.s -D M=64 -D N=128 -o small.bin
    """
    from emu.io import check_writable, save_bytes
    from emu.machine.asm import assemble, parse_defines

    check_writable(out_path, "-o")
    text = _decode(_read(source), source)
    obj = assemble(text, source, parse_defines(defines))
    save_bytes(out_path, obj.to_bytes(), "-o")


def _decode(data: bytes, path: str) -> str:
    from emu.machine.asm import decode_source
    from emu.machine.objfile import is_object

    if is_object(data):
        raise UsageError(
            f"{path}: byte 0: an fp8emu object file, not assembly text "
            "(fp8emu disasm reads those; fp8emu run takes either)"
        )
    return decode_source(data, path)


@click.command("disasm")
@click.argument("binary", metavar="PROG.bin")
@click.option(
    "-o",
    "--output",
    "out_path",
    metavar="PROG.s",
    help="Write the assembly here instead of standard output.",
)
def disasm_cmd(binary, out_path):
    """Disassemble an object file; assembling the output gives the same bytes.

    \b
    Example:
      fp8emu disasm tiled_gemm.bin
      fp8emu disasm tiled_gemm.bin -o back.s && fp8emu asm back.s -o again.bin
    """
    from emu.io import check_writable, save_text
    from emu.machine.disasm import disassemble
    from emu.machine.objfile import ObjectError, ObjectFile, is_object

    if out_path:
        check_writable(out_path, "-o")
    data = _read(binary, "object file")
    if not is_object(data):
        raise UsageError(
            f"{binary}: byte 0: not an fp8emu object file (no FP8X magic; fp8emu asm makes one)"
        )
    try:
        obj = ObjectFile.from_bytes(data)
    except ObjectError as e:
        raise UsageError(f"{binary}: {e}") from None
    text = disassemble(obj, binary)
    if out_path:
        save_text(out_path, text, "-o")
    else:
        click.echo(text, nl=False)


@click.command("run")
@click.argument("program", metavar="PROG.s|PROG.bin")
@click.option(
    "--in",
    "inputs",
    multiple=True,
    metavar="NAME=FILE.npy",
    help="Place an array into the program's buffer NAME (repeatable); element and scale "
    "buffers take one code a byte (FP4/FP6 in the low bits), or packed FP4: "
    "NAME=FILE.npy:e2m1x2, two e2m1 codes a byte along the last axis, element 2i in "
    "bits 3..0, 2i+1 in bits 7..4.",
)
@click.option(
    "--out",
    "outputs",
    multiple=True,
    metavar="NAME=FILE.npy",
    help="After halt, write buffer NAME to a .npy file (repeatable).",
)
@config_options
@click.option(
    "--trace", is_flag=True, help="Print each executed instruction and the registers it changed."
)
@click.option(
    "--max-steps",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_STEPS,
    show_default=True,
    help="Fault after this many instructions.",
)
@click.option(
    "--max-macs",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_MACS,
    show_default=True,
    help="Fault before an MMA that would take all MMAs together past this many "
    "multiply-accumulates (M*N*K each; the default is up to a minute of work).",
)
@_defines_option
@click.option(
    "--mem-size",
    default="64M",
    show_default=True,
    metavar="SIZE",
    help="Memory size in bytes (suffix K, M, G allowed).",
)
@click.option(
    "--tile-rows",
    type=click.IntRange(1, 4095),
    default=256,
    show_default=True,
    help="Rows of a tile register.",
)
@click.option(
    "--tile-bytes",
    type=click.IntRange(4, 1 << 20),
    default=1024,
    show_default=True,
    help="Bytes per row of a tile register (acc: /4 values).",
)
def run_cmd(
    program,
    inputs,
    outputs,
    config,
    trace,
    max_steps,
    max_macs,
    defines,
    mem_size,
    tile_rows,
    tile_bytes,
):
    """Run a program (assembly or object file) on the emulated machine.

    The config options set the numerics registers before the program starts; the
    program may change them (cfg, cfgp).  Exit status: 0 after `halt` (0), 1 after
    `halt N` with N != 0 (outputs are still written), 2 on a fault or bad input.

    \b
    Example:
      fp8emu run examples/tiled_gemm.s --in A=a.npy --in B=b.npy --in SA=sa.npy \\
          --in SB=sb.npy --out D=d.npy
      fp8emu run examples/rounding_probe.s --trace
    """
    from emu.io import (
        PACKED,
        add_input,
        check_writable,
        load_npy,
        same_file,
        save_all,
        split_packed,
        unpack_codes,
    )
    from emu.machine.asm import parse_defines
    from emu.machine.interp import Machine, load_program

    ins, outs = _pairs(inputs, "--in"), _pairs(outputs, "--out")
    for name, path in ins.items():
        add_input(path, f"--in {name}")
        head, _, suffix = path.rpartition(":")
        if head and suffix.lower() in PACKED:  # FILE.npy:e2m1x2 reads FILE.npy
            add_input(head, f"--in {name}")
    for name, path in outs.items():
        check_writable(path, f"--out {name}")
    dup = same_file(outs.values())
    if dup is not None:
        raise UsageError(f"--out: two buffers would be written to the same file {dup}")
    mem = _size(mem_size, "--mem-size")
    obj = load_program(_read(program), program, parse_defines(defines))
    try:
        m = Machine(obj, config=config, mem_size=mem, tile_rows=tile_rows, tile_bytes=tile_bytes)
    except UsageError as e:
        raise UsageError(f"{program}: {e} (see --mem-size)") from None
    for name in outs:
        m._buffer(name, f"--out {name}")
    for name, path in ins.items():
        what = f"--in {name}={path}"
        src, packed = split_packed(path, what)
        arr = load_npy(src, f"--in {name}")
        if packed is not None:  # two codes a byte: into a buffer of that format (or u8)
            dtype = m._buffer(name, what).dtype
            if dtype not in (packed, "u8"):
                raise UsageError(f"{what}: packed {packed} codes, but buffer {name} is {dtype}")
            arr = unpack_codes(arr, packed, what)
        m.write_buffer(name, arr, what)
    status = m.run(max_steps, (lambda line: click.echo(line)) if trace else None, max_macs)
    save_all([(path, m.read_buffer(name), f"--out {name}") for name, path in outs.items()])
    if status:
        click.echo(
            f"fp8emu: program halted with status {status} "
            f"(pc={m.pc * 8:#06x}, {m.steps} instructions)",
            err=True,
        )
        raise click.exceptions.Exit(1)
