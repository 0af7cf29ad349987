"""Toolkit commands: compare, validate, vectors, sweep (see docs/designer.md).

Heavy modules (the kernels, matplotlib) are imported inside the commands so that
``fp8emu --help`` stays fast.
"""

from __future__ import annotations

import json
import math
import os
import sys

import click

from emu.cli.core import config_options
from emu.errors import UsageError
from emu.numerics.config import resolve
from emu.numerics.formats import formats_with_role
from emu.numerics.quant import SCALE_MODES

_DISTS = ("normal", "uniform", "lognormal", "outliers")
_REFS = ("exact", "exact-fp32", "numpy-fp32")


def _input_options(f):
    """--dist/--m/--n/--k/--seed/--mean/--scale-mode for generated inputs."""
    opts = [
        click.option(
            "--dist",
            type=click.Choice(_DISTS),
            default="normal",
            show_default=True,
            help="Distribution of generated FP32 inputs.",
        ),
        click.option("--m", type=int, default=128, show_default=True, help="Rows of A."),
        click.option("--n", type=int, default=128, show_default=True, help="Columns of B."),
        click.option("--k", type=int, default=1024, show_default=True, help="Inner dimension."),
        click.option(
            "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed."
        ),
        click.option(
            "--mean",
            type=float,
            default=0.0,
            show_default=True,
            help="Added to every generated value.",
        ),
        click.option(
            "--scale-mode",
            type=click.Choice(SCALE_MODES),
            default="floor",
            show_default=True,
            help="UE8M0 scale rule used to quantise (spec 2.5).",
        ),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _isatty(stream) -> bool:
    """Progress bars only on a terminal: a script's stderr holds errors only."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _config_label(name, sets):
    return name + (f"[{','.join(sets)}]" if sets else "")


# ------------------------------------------------------------------ compare
@click.command("compare")
@click.option(
    "--a",
    "a_path",
    metavar="A.npy",
    help="(M, K) float32 data (quantised per config) or uint8 element codes of a_format "
    "(one a byte; packed FP4: A.npy:e2m1x2, two codes a byte along the last axis, "
    "element 2i in bits 3..0).",
)
@click.option("--b", "b_path", metavar="B.npy", help="(K, N), like --a.")
@click.option("--c", "c_path", metavar="C.npy", help="float32 (M, N) accumulator input.")
@click.option("--sa", "sa_path", metavar="SA.npy", help="UE8M0 codes of A (with code inputs).")
@click.option("--sb", "sb_path", metavar="SB.npy", help="UE8M0 codes of B (with code inputs).")
@_input_options
@click.option(
    "--preset", "presets_", multiple=True, metavar="NAME", help="A preset to compare (repeatable)."
)
@click.option(
    "--config",
    "configs",
    multiple=True,
    metavar="FILE.toml",
    type=click.Path(dir_okay=False),
    help="A config file to compare (repeatable).",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Override a field in every config (repeatable).",
)
@click.option(
    "--reference",
    "refs",
    multiple=True,
    type=click.Choice(_REFS),
    help="References to report (repeatable; default all three).",
)
@click.option("--json", "json_path", metavar="FILE.json", help="Also write the results as JSON.")
@click.option(
    "--fail-above",
    "limits",
    multiple=True,
    metavar="METRIC=VALUE",
    help="Exit 1 when a config's METRIC against the exact result exceeds VALUE "
    "(max_abs, max_rel, median_rel, normwise, max_ulp; repeatable).",
)
def compare_cmd(
    a_path,
    b_path,
    c_path,
    sa_path,
    sb_path,
    dist,
    m,
    n,
    k,
    seed,
    mean,
    scale_mode,
    presets_,
    configs,
    sets,
    refs,
    json_path,
    limits,
):
    """Run one GEMM under one or more configs and measure each result against the
    exact result of the quantised inputs, the exact result rounded once to fp32,
    and numpy's float32 matmul (BLAS) of the dequantised inputs.

    Reports max abs error, max and median relative error, normwise error
    ||D - R||_2 / ||R||_2, the bit-exact count and a histogram of ULP distances in
    the result format (acc_format, or promote_format with promotion).

    \b
    Examples:
      fp8emu compare --preset h100 --preset deepseek-v3 --k 4096 --mean 1
      fp8emu compare --preset default --dist outliers --scale-mode ceil --json out.json
      fp8emu compare --a X.npy --b W.npy --preset mxfp8 --config my_chip.toml
      fp8emu compare --a A_codes.npy --b B_codes.npy --preset h100 --reference exact
      fp8emu compare --config my_chip.toml --k 4096 --fail-above max_rel=1e-3

    Exit status: 0, or 1 when a --fail-above limit is exceeded.
    """
    from emu.io import check_writable, load_codes, load_npy
    from emu.toolkit.compare import compare, format_table, generate, json_safe

    checks = _parse_limits(limits)
    if json_path:
        check_writable(json_path, "--json")
    cfgs = [(_config_label(p, sets), resolve(p, None, sets)) for p in presets_]
    cfgs += [
        (_config_label(os.path.splitext(os.path.basename(p))[0], sets), resolve(None, p, sets))
        for p in configs
    ]
    if not cfgs:
        cfgs = [(_config_label("default", sets), resolve(None, None, sets))]
    paths = dict(a=a_path, b=b_path, c=c_path, sa=sa_path, sb=sb_path)
    c = load_npy(c_path, "--c") if c_path else None
    codes = x = y = None
    if a_path or b_path:
        if not (a_path and b_path):
            raise UsageError("give both --a and --b (or neither, to generate inputs)")
        ctx = click.get_current_context()
        given = [
            f"--{p}"
            for p in ("dist", "m", "n", "k", "seed", "mean")
            if ctx.get_parameter_source(p) == click.core.ParameterSource.COMMANDLINE
        ]
        if given:
            raise UsageError(
                f"{'/'.join(given)} describe generated inputs; they do not go with --a/--b"
            )
        a = load_codes(a_path, "--a", [cfg.a_format for _, cfg in cfgs])
        b = load_codes(b_path, "--b", [cfg.b_format for _, cfg in cfgs])
        if a.dtype == b.dtype == "uint8":
            codes = (
                a,
                b,
                load_npy(sa_path, "--sa") if sa_path else None,
                load_npy(sb_path, "--sb") if sb_path else None,
            )
            _check_codes(codes, c, cfgs, paths)
        elif a.dtype.kind == "f" and b.dtype.kind == "f":
            if sa_path or sb_path:
                raise UsageError("--sa/--sb go with uint8 code inputs, not float data")
            _check_data(a, b, c, paths)
            x, y = a.astype("float32"), b.astype("float32")
        else:
            raise UsageError(
                f"--a/--b: expected both float data or both uint8 codes, "
                f"got {a.dtype} and {b.dtype}"
            )
        source = {
            "a": a_path,
            "b": b_path,
            "c": c_path,
            "sa": sa_path,
            "sb": sb_path,
            "kind": "codes" if codes else "fp32 data",
            "scale_mode": scale_mode,
        }
    else:
        if sa_path or sb_path:
            raise UsageError("--sa/--sb need --a/--b code inputs")
        x, y = generate(dist, m, n, k, seed, mean)
        _check_data(x, y, c, dict(paths, a=None, b=None))
        source = {
            "generated": dist,
            "m": m,
            "n": n,
            "k": k,
            "seed": seed,
            "mean": mean,
            "scale_mode": scale_mode,
        }
    rows = compare(
        cfgs, x=x, y=y, c=c, scale_mode=scale_mode, codes=codes, references=refs or _REFS
    )
    click.echo(format_table(rows))
    if json_path:
        from emu.io import save_text

        doc = {
            "inputs": source,
            "configs": {name: cfg.to_dict() for name, cfg in cfgs},
            "results": rows,
        }
        save_text(json_path, json.dumps(json_safe(doc), indent=1) + "\n", "--json")
    over = [
        f"{r['config']}: {name} = {r[name]:.3e} > {lim:.3e}"
        for r in rows
        if r["reference"] == "exact"
        for name, lim in checks
        if r[name] > lim
    ]
    if over:
        click.echo("compare: limit exceeded: " + "; ".join(over), err=True)
        sys.exit(1)


def _opt(name, paths):
    """'--a A.npy' (or '--m/--k' style text for generated inputs)."""
    p = paths.get(name)
    return (
        f"--{name} {p}"
        if p
        else {"a": "generated A (--m x --k)", "b": "generated B (--k x --n)"}.get(name, f"--{name}")
    )


def _check_data(x, y, c, paths):
    """Shapes of fp32 data inputs (and C), each error naming its option and file."""
    for name, arr, dims in (("a", x, "(M, K)"), ("b", y, "(K, N)")):
        if arr.ndim != 2:
            raise UsageError(
                f"{_opt(name, paths)}: expected a 2-D {dims} array, got shape {arr.shape}"
            )
        if 0 in arr.shape:
            raise UsageError(
                f"{_opt(name, paths)}: expected a non-empty array, got shape {arr.shape}"
            )
    if y.shape[0] != x.shape[1]:
        raise UsageError(
            f"{_opt('b', paths)}: shape {y.shape} does not fit "
            f"{_opt('a', paths)} {x.shape}: expected ({x.shape[1]}, N)"
        )
    _check_c(c, (x.shape[0], y.shape[1]), paths)


def _check_c(c, shape, paths):
    if c is None:
        return
    if c.dtype != "float32":
        raise UsageError(f"{_opt('c', paths)}: expected float32, got dtype {c.dtype}")
    if c.shape != shape:
        raise UsageError(f"{_opt('c', paths)}: expected shape {shape}, got {c.shape}")


def _check_codes(codes, c, cfgs, paths):
    """Element code inputs against every config (operands.check), naming the option."""
    from emu.cli.core import _name_option
    from emu.numerics.operands import check

    a, b, sa, sb = codes
    for name, arr in (("a", a), ("b", b)):
        if arr.ndim == 2 and 0 in arr.shape:
            raise UsageError(
                f"{_opt(name, paths)}: expected a non-empty array, got shape {arr.shape}"
            )
    for label, cfg in cfgs:
        try:
            check(a, b, c, sa, sb, cfg)
        except UsageError as e:
            msg = _name_option(str(e), paths)
            raise UsageError(msg if len(cfgs) == 1 else f"{msg} (config {label})") from None


_LIMIT_METRICS = ("max_abs", "max_rel", "median_rel", "normwise", "max_ulp")


def _parse_limits(limits):
    """--fail-above METRIC=VALUE strings -> [(metric, value)]."""
    out = []
    for item in limits:
        name, _, val = item.partition("=")
        if name not in _LIMIT_METRICS:
            raise UsageError(
                f"--fail-above {item!r}: metric must be one of {', '.join(_LIMIT_METRICS)}"
            )
        try:
            v = float(val)
        except ValueError:
            v = math.nan
        if math.isnan(v):
            raise UsageError(f"--fail-above {item!r}: expected METRIC=NUMBER") from None
        out.append((name, v))
    return out


# ------------------------------------------------------------------ validate
_LAYOUT_FILES = {  # --dir: the files of each layout (option, name)
    "text": (("--a", "a.txt"), ("--b", "b.txt"), ("--c", "c.txt"), ("--d", "d.txt"),
             ("--sa", "sa.txt"), ("--sb", "sb.txt")),
    "hex": (("--a", "a.hex"), ("--b", "b.hex"), ("--c", "c.hex"), ("--d", "d.hex"),
            ("--sa", "sa.hex"), ("--sb", "sb.hex")),
    "testfloat": (("--testfloat", "testfloat.txt"),),
}  # fmt: skip


@click.command("validate")
@config_options
@click.option(
    "--a",
    "a_path",
    metavar="a.txt",
    help="Rows of A: K fp32 hex words per line (--layout hex: a.hex, 2K hex digits).",
)
@click.option("--b", "b_path", metavar="b.txt", help="Columns of B, likewise.")
@click.option(
    "--c",
    "c_path",
    metavar="c.txt",
    help="C: one word per line (absent = +0): 32 binary or 8 hex digits (fp32), or "
    "16 binary or 4 hex digits (a 16-bit result format's code).",
)
@click.option(
    "--d",
    "d_path",
    metavar="d.txt",
    help="The results to check: one word per line, in any of the forms of --c.",
)
@click.option(
    "--sa",
    "sa_path",
    metavar="sa.txt",
    help="UE8M0 codes of each row, 2 hex digits per K block (absent = 7F).",
)
@click.option("--sb", "sb_path", metavar="sb.txt", help="UE8M0 codes of each column, likewise.")
@click.option(
    "--npz",
    "npz_path",
    metavar="CASES.npz",
    help="Instead of text files: arrays a, b, d and optional c, sa, sb: test "
    "cases (a, b: cases x K) or a whole GEMM (a: M x K, b: K x N, d: M x N).",
)
@click.option(
    "--dir",
    "dir_path",
    metavar="DIR",
    help="Take the files of --layout from DIR (as written by `fp8emu vectors`) unless given.",
)
@click.option(
    "--layout",
    type=click.Choice(tuple(_LAYOUT_FILES)),
    help="With --dir: which files of `fp8emu vectors` to read: text (a/b/c/d/sa/sb.txt, "
    "the default), hex ($readmemh a/b/c/d/sa/sb.hex, widths from manifest.json) or "
    "testfloat (testfloat.txt).",
)
@click.option(
    "--format",
    "elem_format",
    type=click.Choice(formats_with_role("element")),
    help="Operand format of A and B (overrides a_format and b_format).",
)
@click.option(
    "--any-nan",
    is_flag=True,
    help="Accept any NaN of the result format (default: NaN must be the canonical "
    "0x7FFFFFFF in 32-bit words, 0x7FFF in 16-bit fp16/bf16 words, bit exact).",
)
@click.option(
    "--show",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many mismatches to list.",
)
@click.option("--json", "json_path", metavar="FILE.json", help="Also write the report as JSON.")
@click.option(
    "--all",
    "json_all",
    is_flag=True,
    help="With --json: list every case (inputs, the emulator's and the dump's words, "
    "ULP distance, match), not only the mismatches.",
)
@click.pass_context
def validate_cmd(
    ctx,
    config,
    a_path,
    b_path,
    c_path,
    d_path,
    sa_path,
    sb_path,
    npz_path,
    dir_path,
    layout,
    elem_format,
    any_nan,
    show,
    json_path,
    json_all,
):
    """Compare the emulator with result dumps of another implementation (an RTL
    simulation, silicon), bit for bit, one dot product per test case.

    Text layout: a.txt and b.txt hold one case per line, K words of 8 hex digits
    (the FP8 value widened to fp32; b is the case's column of B); c.txt and d.txt
    one word per line: 32 binary or 8 hex digits (an fp32 word), or for fp16/bf16
    results 16 binary or 4 hex digits (the 16-bit code); sa.txt / sb.txt the UE8M0
    codes (2 hex digits, one per scale block).  --dir DIR --layout hex reads the
    $readmemh files of `fp8emu vectors` instead, --layout testfloat its
    testfloat.txt.  NaN must be the canonical 0x7FFFFFFF (32-bit words) or 0x7FFF
    (16-bit words) unless --any-nan.  Exit status 0 when every case matches, 1 when
    any differs, 2 for bad input.

    \b
    Examples:
      fp8emu validate --preset h100 --a a.txt --b b.txt --c c.txt --d rtl_d.txt
      fp8emu validate --config vec/config.toml --dir vec --d rtl_d.txt
      fp8emu validate --config vec/config.toml --dir vec --layout hex --d rtl_d.hex
      fp8emu validate --preset default --npz dump.npz --show 20 --json r.json --all
    """
    from emu.toolkit import validate as V
    from emu.toolkit.metrics import result_format

    if elem_format:
        config = config.replace(a_format=elem_format, b_format=elem_format)
    if json_all and not json_path:
        raise UsageError("--all lists every case in the --json report: give --json FILE")
    if layout and not dir_path:
        raise UsageError(f"--layout {layout}: reads the files of --dir DIR; give --dir")
    layout = layout or "text"
    if json_path:
        from emu.io import check_writable

        check_writable(json_path, "--json")
    fr = result_format(config).name
    names = None
    manifest = None
    tf_path = None
    if dir_path:
        if not os.path.isdir(dir_path):
            raise UsageError(f"--dir: {dir_path}: no such directory")
        if layout != "text":
            manifest = _read_manifest(dir_path, layout)
        given = {"--a": a_path, "--b": b_path, "--c": c_path, "--d": d_path}
        given.update({"--sa": sa_path, "--sb": sb_path})
        if layout == "testfloat":
            extra = [o for o in ("--a", "--b", "--c", "--sa", "--sb") if given[o]]
            if extra:
                raise UsageError(
                    f"--layout testfloat reads every input from testfloat.txt; "
                    f"give only --d (not {', '.join(extra)})"
                )
        picked = {}
        for opt, name in _LAYOUT_FILES[layout]:
            if given.get(opt):
                picked[opt] = given[opt]
                continue
            p = os.path.join(dir_path, name)
            required = opt in ("--a", "--b", "--d", "--testfloat")
            if opt in ("--sa", "--sb") and not config.scale_block:
                continue
            picked[opt] = p if (required or os.path.exists(p)) else None
        a_path, b_path = picked.get("--a"), picked.get("--b")
        c_path, sa_path, sb_path = picked.get("--c"), picked.get("--sa"), picked.get("--sb")
        tf_path = picked.get("--testfloat")
        d_path = given["--d"] if layout == "testfloat" else picked.get("--d")
        from emu.io import add_input, check_not_input

        for opt, p in (("--a", a_path), ("--b", b_path), ("--c", c_path), ("--d", d_path)):
            add_input(p, opt)
        for opt, p in (("--sa", sa_path), ("--sb", sb_path), ("--dir", tf_path)):
            add_input(p, opt)
        add_input(os.path.join(dir_path, "manifest.json"), "--dir")
        if json_path:
            check_not_input(json_path, "--json")
        note = _manifest_note(dir_path, config)
        names = _manifest_names(dir_path)
    else:
        note = None
    kw = dict(a_format=config.a_format, b_format=config.b_format, scale_block=config.scale_block)
    if npz_path:
        if a_path or b_path or d_path:
            raise UsageError("give --npz or the text files (--a/--b/--d), not both")
        try:  # every error about the archive names it
            cases = V.read_npz(npz_path, **kw, result_format=fr)
            rep = V.check(cases, config, any_nan=any_nan)
        except UsageError as e:
            msg = str(e)
            if not msg.startswith("--npz"):
                msg = (
                    f"--npz: {msg}"
                    if msg.startswith(f"{npz_path}: ")
                    else f"--npz: {npz_path}: {msg}"
                )
            raise UsageError(msg) from None
    else:
        if layout == "testfloat":
            cases = V.read_testfloat(
                tf_path,
                k=manifest["k"],
                scale_block=config.scale_block,
                result_format=fr,
                c_format=manifest["c_format"],
                d_path=d_path,
                what="--dir",
            )
        else:
            missing = [o for o, p in (("--a", a_path), ("--b", b_path), ("--d", d_path)) if not p]
            if missing:
                raise UsageError(f"missing {', '.join(missing)} (or give --npz / --dir)")
            if layout == "hex":
                cases = V.read_hex(
                    a_path,
                    b_path,
                    d_path,
                    c_path,
                    sa_path,
                    sb_path,
                    scale_block=config.scale_block,
                    result_format=fr,
                    c_format=manifest["c_format"],
                    k=None if given["--a"] else manifest["k"],
                )
            else:
                cases = V.read_text(
                    a_path, b_path, d_path, c_path, sa_path, sb_path, **kw, result_format=fr
                )
        if names is not None and len(names) == len(cases):
            cases.names = names
        rep = V.check(cases, config, any_nan=any_nan)
    click.echo(V.format_report(rep, show))
    if json_path:
        from emu.io import save_text
        from emu.toolkit.compare import json_safe

        doc = V.report_doc(rep, config, cases, every=json_all)
        save_text(json_path, json.dumps(json_safe(doc), indent=1) + "\n", "--json")
    if note:  # only once the check has run: an error is the one line, without a note
        click.echo(note, err=True)
    ctx.exit(0 if rep.ok else 1)


def _read_manifest(dir_path, layout) -> dict:
    """The fields of DIR/manifest.json that --layout hex / testfloat need: k and the
    C format (checked), the widths of the layout's files."""
    from emu.numerics.formats import fmt
    from emu.toolkit.validate import word_bits

    path = os.path.join(dir_path, "manifest.json")
    why = f"--layout {layout} needs {path}, written by `fp8emu vectors`"
    try:
        with open(path, encoding="utf-8") as fh:
            m = json.load(fh)
    except FileNotFoundError:
        raise UsageError(f"--dir: {why}: no such file") from None
    except (OSError, ValueError, RecursionError) as e:
        raise UsageError(f"--dir: {path}: not a readable manifest ({type(e).__name__})") from None
    if not isinstance(m, dict):
        raise UsageError(f"--dir: {path}: not a manifest of fp8emu vectors")
    k = m.get("k")
    files = m.get("files")
    if not isinstance(k, int) or isinstance(k, bool) or k < 1 or not isinstance(files, dict):
        raise UsageError(f"--dir: {path}: no k and files of fp8emu vectors")
    c_format = m.get("c_format", m.get("result_format", "fp32"))
    try:
        f = fmt(str(c_format))
        if not f.fits_fp32:
            raise UsageError("")
    except UsageError:
        raise UsageError(f"--dir: {path}: c_format {c_format!r} is not a result format") from None
    name = "testfloat.txt" if layout == "testfloat" else "c.hex"
    entry = files.get(name)
    if not isinstance(entry, dict):
        raise UsageError(
            f"--dir: {path}: lists no {name} (made by an fp8emu vectors without it; "
            "write the vectors again)"
        )
    if layout == "hex" and entry.get("width_bits") != word_bits(f):
        raise UsageError(
            f"--dir: {path}: c.hex has {entry.get('width_bits')}-bit words, but "
            f"{f.name} words have {word_bits(f)} bits"
        )
    return {"k": k, "c_format": f.name}


def _manifest_names(dir_path):
    """The case names of DIR/manifest.json, or None."""
    try:
        with open(os.path.join(dir_path, "manifest.json"), encoding="utf-8") as fh:
            names = json.load(fh).get("case_names")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    if isinstance(names, list) and all(isinstance(x, str) for x in names):
        return names
    return None


def _manifest_note(dir_path, config) -> str | None:
    """The note for stderr when DIR/manifest.json was written under another config
    (printed after the report, never before an error line)."""
    try:
        with open(os.path.join(dir_path, "manifest.json"), encoding="utf-8") as fh:
            made = json.load(fh).get("config", {})
        diff = sorted(k for k, v in config.to_dict().items() if k in made and made[k] != v)
    except (OSError, ValueError, AttributeError, TypeError, RecursionError):
        return None
    if not diff:
        return None
    return (
        f"note: {dir_path}/manifest.json was generated under another config "
        f"(differs in {', '.join(diff)}); expected results are recomputed under "
        f"the config given here"
    )


# ------------------------------------------------------------------ vectors
@click.command("vectors")
@config_options
@click.option(
    "--out", "out_dir", required=True, metavar="DIR", help="Output directory (created if missing)."
)
@click.option(
    "--k",
    type=int,
    help="Values per dot product "
    "(default: two promotion intervals, two scale blocks or 2 x fused, >= 64).",
)
@click.option(
    "--random",
    "n_random",
    type=int,
    default=256,
    show_default=True,
    help="Number of random cases after the directed ones.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed."
)
@click.option("--no-directed", is_flag=True, help="Random cases only.")
@click.option(
    "--c-zero",
    is_flag=True,
    help="Every C is +0 (a MAC that resets its accumulator); directed cases that need "
    "another C are skipped.",
)
@click.option(
    "--no-specials",
    is_flag=True,
    help="No NaN/Inf operands, NaN scales (0xFF), NaN/Inf C, nor cases whose result is "
    "NaN or Inf (overflow), for datapaths without them.",
)
def vectors_cmd(config, out_dir, k, n_random, seed, no_directed, c_zero, no_specials):
    """Export test vectors for an RTL test bench under a config: directed corner
    cases (ties at every rounding point, subnormals, saturation, NaN/Inf, UE8M0
    0x00/0xFE/0xFF, cancellation, alignment-window edges, carry-out) and random
    cases, with the emulator's expected results.

    Writes $readmemh files (a.hex, b.hex, sa.hex, sb.hex: one case per line, element
    k in bits [8k+7:8k]; c.hex, d.hex: one word per line in the result format's
    width, 4 hex digits for fp16/bf16, else 8), the text layout of `fp8emu validate`
    (a.txt, b.txt, c.txt, d.txt, sa.txt, sb.txt: values widened to fp32 words), a
    TestFloat-style testfloat.txt (one case per line: the codes of A and B, the
    scale codes, C, then the expected D, in hex), config.toml and manifest.json
    (every file with its layout and width, the case names).  DIR must be new,
    empty, or an earlier output of this command: its files are replaced, and those
    the new run does not write (sa.*, sb.* without scales) removed.  At most 65536
    values per dot product, 2^20 random cases, and 2^23 values (cases x K) in all.

    \b
    Examples:
      fp8emu vectors --preset h100 --out vec_h100
      fp8emu validate --config vec_h100/config.toml --dir vec_h100
      fp8emu vectors --config my_chip.toml --k 256 --random 1000 --out vec
      fp8emu vectors --preset exact --set acc_format=fp16 --c-zero --no-specials --out v16
    """
    from emu.io import check_not_input, save_all
    from emu.toolkit.vectors import FILE_NAMES, earlier_files, generate, render

    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError(f"--out {out_dir}: exists and is not a directory")
    parent = os.path.dirname(os.path.abspath(out_dir))
    if not os.path.isdir(parent):
        raise UsageError(f"--out {out_dir}: directory {parent} does not exist")
    where = out_dir if os.path.isdir(out_dir) else parent
    if not os.access(where, os.W_OK):
        raise UsageError(f"--out {out_dir}: directory {where} is not writable")
    for name in FILE_NAMES:  # before the work: no file of the directory is an input
        check_not_input(os.path.join(out_dir, name), "--out")
    earlier = earlier_files(out_dir)
    cases, skipped = generate(
        config,
        k,
        n_random,
        seed,
        directed_cases=not no_directed,
        c_zero=c_zero,
        no_specials=no_specials,
    )
    files = render(cases, config, skipped, seed, c_zero=c_zero, no_specials=no_specials)
    stale = [(os.path.join(out_dir, n), "--out") for n in earlier if n not in files]
    created = not os.path.exists(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {out_dir}: cannot create the directory ({e.strerror})") from None
    try:  # every file or none of them; then the earlier run's other files go
        save_all(
            [(os.path.join(out_dir, name), text, "--out") for name, text in files.items()],
            remove=stale,
        )
    except BaseException:
        if created:
            try:
                os.rmdir(out_dir)
            except OSError:
                pass
        raise
    nd = len(cases) - n_random
    click.echo(
        f"wrote {len(cases)} cases ({nd} directed, {n_random} random; "
        f"{len(skipped)} directed cases skipped, see manifest.json) with "
        f"K = {len(cases.a[0])} to {out_dir}"
    )
    click.echo(
        f"check: fp8emu validate --config {os.path.join(out_dir, 'config.toml')} --dir {out_dir}"
    )


# ------------------------------------------------------------------ sweep
@click.command("sweep")
@config_options
@click.option(
    "--vary",
    "varies",
    multiple=True,
    required=True,
    metavar="KNOB=VALUES",
    help="A knob and its values: a config field or k, m, n, dist, scale_mode, "
    "mean, seed; values v1,v2,... or lo:hi[:step].  Once or twice.",
)
@_input_options
@click.option(
    "--reference",
    "refs",
    multiple=True,
    type=click.Choice(_REFS),
    help="References to record (repeatable; default exact).",
)
@click.option("--csv", "csv_path", metavar="FILE.csv", help="Write every point as CSV.")
@click.option(
    "--plot",
    "plot_path",
    metavar="FILE.png",
    help="Plot --metric against the first knob (one line per second-knob value).",
)
@click.option(
    "--metric",
    default="max_rel",
    show_default=True,
    type=click.Choice(["max_abs", "max_rel", "median_rel", "normwise", "bit_exact", "max_ulp"]),
    help="Metric to plot.",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    help="Run the points on the Dask cluster whose scheduler is at ADDRESS "
    "(tcp://host:8786); needs pip install fp8emu[dask].",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Run the points on a Dask LocalCluster of N worker processes on this "
    "machine; needs pip install fp8emu[dask].",
)
def sweep_cmd(
    config,
    varies,
    dist,
    m,
    n,
    k,
    seed,
    mean,
    scale_mode,
    refs,
    csv_path,
    plot_path,
    metric,
    dask_address,
    workers,
):
    """Vary one or two knobs and record the metrics of `compare` at every point;
    prints a table, writes CSV and a PNG plot.

    \b
    Examples:
      fp8emu sweep --preset h100 --vary promote_every=0,32,128,512 --k 4096 --mean 1 \\
          --csv promote.csv --plot promote.png
      fp8emu sweep --preset h100 --vary align_bits=10:16:2 --vary k=256,1024,4096
      fp8emu sweep --preset default --vary scale_mode=floor,ceil,rceil,even --dist outliers
      fp8emu sweep --preset h100 --vary acc_format=e8m13,fp32 --vary dist=normal,uniform
      fp8emu sweep --preset h100 --vary align_bits=8:40 --k 4096 --workers 2
      fp8emu sweep --preset h100 --vary align_bits=8:40 --k 4096 --dask tcp://host:8786
    """
    import contextlib

    from emu.io import check_writable, same_file, save_all
    from emu.toolkit.sweep import format_table, parse_vary, plan, plot_png, sweep, to_csv

    for p, what in ((csv_path, "--csv"), (plot_path, "--plot")):
        if p:
            check_writable(p, what)
    if csv_path and plot_path and same_file([csv_path, plot_path]):
        raise UsageError(f"--csv and --plot are the same file ({plot_path})")
    vs = [parse_vary(v) for v in varies]
    inputs = dict(m=m, n=n, k=k, dist=dist, seed=seed, mean=mean, scale_mode=scale_mode)
    refs = refs or ("exact",)
    if dask_address is not None and workers is not None:
        raise UsageError("--dask and --workers: give one (a running cluster, or local workers)")
    points = plan(config, vs, inputs, refs)  # every point checked before any work
    with contextlib.ExitStack() as stack:
        client = None
        if dask_address is not None or workers is not None:
            from emu.distributed import connect

            option = "--dask" if dask_address is not None else "--workers"
            client = stack.enter_context(connect(dask_address, workers=workers, option=option))
        with click.progressbar(
            length=len(points),
            label="sweep",
            file=sys.stderr,
            show_pos=True,
            hidden=not _isatty(sys.stderr),
        ) as bar:
            rows = sweep(
                config, vs, inputs, refs, progress=bar.update, points=points, client=client
            )
    click.echo(format_table(rows, vs))
    outputs = []
    if csv_path:
        outputs.append((csv_path, to_csv(rows), "--csv"))
    if plot_path:
        varied = {x for x, _ in vs}
        fields = ("fused", "align_bits", "acc_format", "acc_round", "scale_block", "promote_every")
        title = (
            " ".join(f"{f}={getattr(config, f)}" for f in fields if f not in varied)
            + "\n"
            + " ".join(f"{kk}={v}" for kk, v in inputs.items() if kk not in varied)
        )
        outputs.append((plot_path, plot_png(rows, vs, metric, refs[0], title), "--plot"))
    save_all(outputs)  # both or neither
