"""Core commands: gemm, presets, quantize; and the shared config options."""

from __future__ import annotations

import functools

import click
import numpy as np

from emu.errors import UsageError
from emu.io import PACKED_HELP
from emu.numerics.config import FIELD_NAMES, preset, presets, resolve
from emu.numerics.formats import formats_with_role
from emu.numerics.quant import SCALE_MODES


def config_options(f):
    """--preset / --config / --set, resolved into a MacConfig passed as ``config``."""

    @click.option(
        "--preset",
        "preset_name",
        metavar="NAME",
        help="Start from a named preset (see `fp8emu presets`).",
    )
    @click.option(
        "--config",
        "config_path",
        metavar="FILE.toml",
        type=click.Path(dir_okay=False),
        help="Start from a flat TOML table of config fields.",
    )
    @click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="FIELD=VALUE",
        help="Override one field (repeatable), e.g. --set align_bits=13.",
    )
    @functools.wraps(f)
    def wrapper(*args, preset_name=None, config_path=None, sets=(), **kw):
        return f(*args, config=resolve(preset_name, config_path, sets), **kw)

    return wrapper


@click.command("gemm")
@click.option(
    "--a",
    "a_path",
    required=True,
    metavar="A.npy",
    help="(M, K) uint8 codes (one a byte; FP4/FP6 in the low bits) or float8 array of "
    f"a_format; {PACKED_HELP}.",
)
@click.option(
    "--b",
    "b_path",
    required=True,
    metavar="B.npy",
    help="(K, N) uint8 codes or float8 array of b_format, like --a (packed: FILE.npy:e2m1x2).",
)
@click.option(
    "--sa", "sa_path", metavar="SA.npy", help="Scale codes of A (scale_format; M x K/block)."
)
@click.option(
    "--sb",
    "sb_path",
    metavar="SB.npy",
    help="Scale codes of B (scale_format; K/block x N, or K/128 x N/128 tiles).",
)
@click.option("--c", "c_path", metavar="C.npy", help="float32 (M, N) accumulator input.")
@config_options
@click.option(
    "--out",
    "out_path",
    required=True,
    metavar="D.npy",
    help="Where to write the float32 (M, N) result.",
)
@click.option(
    "--reference",
    is_flag=True,
    help="Use the slow exact reference instead of the kernels (small shapes).",
)
def gemm_cmd(a_path, b_path, sa_path, sb_path, c_path, config, out_path, reference):
    """D = C + A.B on the emulated tensor core; writes D as float32 .npy.

    Operands are element codes of a_format / b_format, one a byte (FP4/FP6 codes in
    the low bits; a set bit above them is an error), or packed FP4: --a A.npy:e2m1x2
    is a uint8 (M, K/2) array of two e2m1 codes a byte, element 2i in the low nibble
    (bits 3..0), element 2i+1 in the high nibble (bits 7..4).

    \b
    Example:
      fp8emu gemm --a A.npy --b B.npy --sa SA.npy --sb SB.npy --preset default --out D.npy
      fp8emu gemm --a A.npy --b B.npy --preset h100 --set align_bits=16 --out D.npy
      fp8emu gemm --a A4.npy:e2m1x2 --b B4.npy:e2m1x2 --set a_format=e2m1 \\
          --set b_format=e2m1 --set scale_block=32 --out D.npy
    """
    from emu.io import check_writable, load_codes, load_npy, save_npy
    from emu.numerics.operands import check

    check_writable(out_path, "--out")
    paths = dict(a=a_path, b=b_path, sa=sa_path, sb=sb_path, c=c_path)
    fmts = dict(a=config.a_format, b=config.b_format)
    arrays = {
        k: (load_codes(p, f"--{k}", fmts[k]) if k in fmts else load_npy(p, f"--{k}")) if p else None
        for k, p in paths.items()
    }
    for k in ("a", "b", "sa", "sb"):
        arrays[k] = _void_bytes_as_codes(arrays[k])
    try:  # validate first: errors name the option
        check(arrays["a"], arrays["b"], arrays["c"], arrays["sa"], arrays["sb"], config)
    except UsageError as e:
        raise UsageError(_name_option(str(e), paths)) from None
    if reference:
        from emu.numerics.reference import gemm as g
    else:
        from emu.gemm import gemm as g
    d = g(arrays["a"], arrays["b"], c=arrays["c"], sa=arrays["sa"], sb=arrays["sb"], config=config)
    save_npy(out_path, d)


def _void_bytes_as_codes(arr):
    """np.save() writes ml_dtypes float8 arrays as raw one-byte voids ('|V1'): those
    bytes are the codes, so read them as uint8."""
    if (
        arr is not None
        and arr.dtype.kind == "V"
        and arr.dtype.itemsize == 1
        and arr.dtype.fields is None
    ):
        return arr.view(np.uint8)
    return arr


def _name_option(msg: str, paths: dict) -> str:
    """'a: expected ...' -> '--a A.npy: expected ...' (the operand checks name the
    Python argument; on the command line the option and its file are clearer)."""
    head, sep, rest = msg.partition(": ")
    if sep and head in paths and paths[head]:
        return f"--{head} {paths[head]}: {rest}"
    if sep and head == "sa/sb":
        return f"--sa/--sb: {rest}"
    return msg


@click.command("presets")
@click.option("--toml", "toml_name", metavar="NAME", help="Print one preset as TOML.")
def presets_cmd(toml_name):
    """List the presets and their fields, or print one as TOML.

    \b
    Examples:
      fp8emu presets
      fp8emu presets --toml h100 > h100.toml
    """
    if toml_name:
        click.echo(preset(toml_name).to_toml(), nl=False)
        return
    names = list(presets())
    rows = [("field", *names)]
    cfgs = [preset(n).to_dict() for n in names]
    for fld in FIELD_NAMES:
        rows.append(
            (fld, *[str(c[fld]).lower() if isinstance(c[fld], bool) else str(c[fld]) for c in cfgs])
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    click.echo("")
    for n, d in presets().items():
        click.echo(f"{n}: {d}")


@click.command("quantize")
@click.option("--x", "x_path", required=True, metavar="X.npy", help="2-D float32 input.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(formats_with_role("element")),
    default="e4m3",
    show_default=True,
    help="Element format (any of the formats table's element formats).",
)
@click.option(
    "--block",
    default="1x128",
    show_default=True,
    metavar="RxC",
    help="Block shape: 1x32, 1x128, 128x128, 128x1 (per-column K blocks).",
)
@click.option(
    "--scale-mode",
    type=click.Choice(SCALE_MODES),
    default="floor",
    show_default=True,
    help="UE8M0 scale rule (spec 2.5).",
)
@click.option("--out", "out_path", required=True, metavar="CODES.npy", help="uint8 element codes.")
@click.option(
    "--scales", "scales_path", required=True, metavar="SCALES.npy", help="uint8 UE8M0 scale codes."
)
def quantize_cmd(x_path, fmt, block, scale_mode, out_path, scales_path):
    """Quantise float32 data to element codes plus UE8M0 block scales.

    Every element format: the scale rule uses its emax and largest value (e2m1: 2
    and 6, e2m3: 2 and 7.5, e3m2: 4 and 28, e4m3fnuz: 7 and 240, e5m2fnuz: 15 and
    57344).  Codes are one a byte, FP4/FP6 in the low bits.

    \b
    Example:
      fp8emu quantize --x X.npy --block 1x128 --scale-mode ceil --out A.npy --scales SA.npy
    """
    import os

    from emu.io import check_writable, load_npy, save_all
    from emu.numerics.quant import quantize

    try:
        br, bc = (int(v) for v in block.lower().split("x"))
    except ValueError:
        raise UsageError(f"--block {block!r}: expected RxC, e.g. 1x128") from None
    if br < 1 or bc < 1:
        raise UsageError(f"--block {block!r}: block sizes must be >= 1")
    check_writable(out_path, "--out")
    check_writable(scales_path, "--scales")
    if os.path.abspath(out_path) == os.path.abspath(scales_path):
        raise UsageError(f"--out and --scales are the same file ({out_path})")
    x = load_npy(x_path, "--x")
    if x.ndim != 2:
        raise UsageError(f"--x {x_path}: expected a 2-D array, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise UsageError(f"--x {x_path}: expected float32 data, got dtype {x.dtype}")
    codes, scales = quantize(x, fmt, (br, bc), scale_mode)
    save_all([(out_path, codes, "--out"), (scales_path, scales, "--scales")])
