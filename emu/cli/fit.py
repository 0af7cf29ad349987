"""``fp8emu probe`` and ``fp8emu fit``: tell a chip's numerics from its outputs
(see docs/designer.md and emu/toolkit/fit.py).

numba and the kernels load only inside ``fit`` (``probe`` needs neither)."""

from __future__ import annotations

import json
import os
import sys

import click

from emu.errors import UsageError
from emu.numerics.formats import formats_with_role

PROBE_FILES = ("a.txt", "b.txt", "c.txt", "sa.txt", "sb.txt", "cases.npz", "manifest.json")


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# ------------------------------------------------------------------ probe
@click.command("probe")
@click.option(
    "--format",
    "elem_format",
    type=click.Choice(formats_with_role("element")),
    default="e4m3",
    show_default=True,
    help="Operand format of A (and of B unless --b-format).",
)
@click.option(
    "--b-format",
    "b_format",
    type=click.Choice(formats_with_role("element")),
    help="Operand format of B (default: --format).",
)
@click.option(
    "--k", type=int, help="Values per dot product (default 32; with --scales 2 x --scale-block)."
)
@click.option("--scales", is_flag=True, help="Cases with UE8M0 block scales (sa.txt, sb.txt).")
@click.option(
    "--scale-block",
    type=int,
    default=32,
    show_default=True,
    help="With --scales: K values per scale code, as the chip takes them.",
)
@click.option(
    "--out", "out_dir", required=True, metavar="DIR", help="Output directory (created if missing)."
)
@click.option(
    "--emulate-preset",
    metavar="NAME",
    help="Also write d.txt: what this preset returns (to try `fit` without a chip).",
)
@click.option(
    "--emulate-config",
    metavar="FILE.toml",
    type=click.Path(dir_okay=False),
    help="Also write d.txt: what this configuration returns.",
)
@click.option(
    "--emulate-set",
    "emulate_sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Change a field of the --emulate-* configuration (repeatable).",
)
def probe_cmd(
    elem_format, b_format, k, scales, scale_block, out_dir, emulate_preset, emulate_config,
    emulate_sets,
):  # fmt: skip
    """Write a small designed set of test cases that tells a matrix unit's numerics
    apart: run them on the chip, dump D, and `fp8emu fit` finds the configuration.

    Each case is one dot product, named after the field it pins (align_17,
    round_pos_13, fused_cut_8, ...; manifest.json lists the families and what each
    pins).  DIR gets a.txt, b.txt, c.txt (and sa.txt, sb.txt with --scales) in the
    text format of `fp8emu validate`, the same cases as cases.npz, and
    manifest.json.  Write the chip's results as DIR/d.txt (one fp32 word per line,
    32 binary digits) or add an array d to cases.npz.  DIR must be new, empty, or
    an earlier output of this command.

    \b
    Examples:
      fp8emu probe --format e4m3 --out probe
      fp8emu fit --dir probe --d chip_d.txt --out chip.toml
      fp8emu probe --scales --scale-block 32 --out probe_mx
      fp8emu probe --out try --emulate-preset h100 --emulate-set align_bits=16
    """
    from emu.io import check_not_input, save_all
    from emu.toolkit import probe as P

    emulate_cfg = None
    if emulate_preset or emulate_config or emulate_sets:
        from emu.numerics.config import resolve

        if not (emulate_preset or emulate_config):
            raise UsageError("--emulate-set goes with --emulate-preset or --emulate-config")
        if emulate_preset and emulate_config:
            raise UsageError("give --emulate-preset or --emulate-config, not both")
        emulate_cfg = resolve(emulate_preset, emulate_config, emulate_sets)
    if not scales and click.get_current_context().get_parameter_source("scale_block") == (
        click.core.ParameterSource.COMMANDLINE
    ):
        raise UsageError("--scale-block goes with --scales")
    earlier = _probe_dir(out_dir)
    for name in PROBE_FILES + ("d.txt",):
        check_not_input(os.path.join(out_dir, name), "--out")
    cases, bld = P.generate(elem_format, b_format, k, scales, scale_block)
    d = None
    if emulate_cfg is not None:
        from emu.numerics.operands import n_blocks
        from emu.toolkit.validate import emulate

        cfg = emulate_cfg.replace(a_format=bld.fa.name, b_format=bld.fb.name)
        if bool(cfg.scale_block) != bool(bld.bs) or (
            bld.bs
            and any(n_blocks(len(r), cfg.scale_block) != len(s) for r, s in zip(cases.a, cases.sa))
        ):
            raise UsageError(
                f"--emulate-*: the configuration's scale_block ({cfg.scale_block}) does not "
                f"fit the probe's scale layout ("
                + (f"--scales --scale-block {bld.bs}" if bld.bs else "no --scales")
                + ")"
            )
        import numpy as np

        with np.errstate(over="ignore", invalid="ignore"):
            d = emulate(cases, cfg)
    files = P.render(cases, bld, d, emulated=None if d is None else _describe(emulate_cfg))
    stale = [(os.path.join(out_dir, n), "--out") for n in earlier if n not in files]
    created = not os.path.exists(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {out_dir}: cannot create the directory ({e.strerror})") from None
    try:
        save_all(
            [(os.path.join(out_dir, n), data, "--out") for n, data in files.items()],
            remove=stale,
        )
    except BaseException:
        if created:
            try:
                os.rmdir(out_dir)
            except OSError:
                pass
        raise
    fams = P.family_table(bld)
    ks = sorted({len(r) for r in cases.a})
    click.echo(
        f"wrote {len(cases)} probe cases ({len(fams)} families, K = "
        f"{', '.join(map(str, ks))}, "
        f"{bld.fa.name} x {bld.fb.name}"
        + (f", UE8M0 scales per {bld.bs}" if bld.bs else "")
        + f") to {out_dir}"
        + (" with d.txt" if d is not None else "")
    )
    fmt = f" --format {bld.fa.name}" + (f" --b-format {bld.fb.name}" if bld.fb != bld.fa else "")
    d_hint = os.path.join(out_dir, "d.txt") if d is not None else "CHIP_D.txt"
    click.echo(f"then: fp8emu fit --dir {out_dir} --d {d_hint}{fmt} --out chip.toml")


def _describe(cfg) -> str:
    """A configuration in one line (the manifest says what d.txt was made under)."""
    return " ".join(f"{k}={v}" for k, v in cfg.to_dict().items())


def _probe_dir(out_dir) -> list:
    """Files of an earlier probe in out_dir (to replace; its d.txt only when that
    probe emulated it, never a chip's dump); UsageError for a directory that is
    neither new, empty, nor an earlier probe output."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError(f"--out {out_dir}: exists and is not a directory")
    parent = os.path.dirname(os.path.abspath(out_dir))
    if not os.path.isdir(parent):
        raise UsageError(f"--out {out_dir}: directory {parent} does not exist")
    where = out_dir if os.path.isdir(out_dir) else parent
    if not os.access(where, os.W_OK):
        raise UsageError(f"--out {out_dir}: directory {where} is not writable")
    try:
        entries = os.listdir(out_dir)
    except FileNotFoundError:
        return []
    except OSError as e:
        raise UsageError(f"--out {out_dir}: cannot read the directory ({e.strerror})") from None
    if not entries:
        return []
    try:
        with open(os.path.join(out_dir, "manifest.json"), encoding="utf-8") as fh:
            manifest = json.load(fh)
        ours = manifest.get("tool") == "fp8emu probe"
        emulated = bool(manifest.get("d_emulated"))
    except (OSError, ValueError, AttributeError, RecursionError):
        ours = emulated = False
    if not ours:
        raise UsageError(
            f"--out {out_dir}: the directory is not empty and holds no earlier fp8emu probe "
            "(no manifest.json of its own); give a new or empty directory"
        )
    names = PROBE_FILES + (("d.txt",) if emulated else ())
    return [n for n in names if os.path.isfile(os.path.join(out_dir, n))]


# ------------------------------------------------------------------ fit
@click.command("fit")
@click.option("--a", "a_path", metavar="a.txt", help="Rows of A: K fp32 hex words per line.")
@click.option("--b", "b_path", metavar="b.txt", help="Columns of B: K fp32 hex words per line.")
@click.option("--c", "c_path", metavar="c.txt", help="C: one fp32 word per line (absent = +0).")
@click.option("--d", "d_path", metavar="d.txt", help="The chip's results: one fp32 word per line.")
@click.option("--sa", "sa_path", metavar="sa.txt", help="UE8M0 codes of each row, per K block.")
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
    help="Take a/b/c/d/sa/sb.txt from DIR (as written by `fp8emu probe`) unless given.",
)
@click.option(
    "--format",
    "elem_format",
    type=click.Choice(formats_with_role("element")),
    help="Operand format of A (and B) [default: DIR's manifest, else e4m3].",
)
@click.option(
    "--b-format",
    "b_format",
    type=click.Choice(formats_with_role("element")),
    help="Operand format of B (default: --format).",
)
@click.option(
    "--space",
    "space_specs",
    multiple=True,
    metavar="FIELD=VALUES",
    help="Search these values of a field instead (v1,v2 or lo:hi[:step]; repeatable), "
    "e.g. --space fused=32 --space align_bits=0:64.",
)
@click.option(
    "--promotion",
    is_flag=True,
    help="Search promotion (promote_every/format/round) also without scales.",
)
@click.option(
    "--any-nan",
    is_flag=True,
    help="Accept any NaN payload (default: NaN must be 0x7FFFFFFF, bit exact).",
)
@click.option(
    "--show",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Classes (and twice as many missed cases) to list when nothing fits exactly.",
)
@click.option(
    "--out",
    "out_path",
    metavar="chip.toml",
    help="Write the chosen configuration as TOML (loadable with --config).",
)
@click.option("--json", "json_path", metavar="FILE.json", help="Also write the result as JSON.")
@click.pass_context
def fit_cmd(
    ctx, a_path, b_path, c_path, d_path, sa_path, sb_path, npz_path, dir_path, elem_format,
    b_format, space_specs, promotion, any_nan, show, out_path, json_path,
):  # fmt: skip
    """Search the configuration space for every configuration that returns the
    dumped results bit for bit, and report them in classes that give identical bits
    on these cases, naming the fields the cases do not determine.  When none
    explains every case: the best classes, their counts and the cases each misses.

    Inputs as for `fp8emu validate` (text files, --npz, or --dir from `fp8emu
    probe`); the space: every field of the configuration with the values that can
    matter for the data (fused: the divisors of K and k; align_bits: 0..40 and
    exact; acc_format: fp32, e8m22..e8m8, bf16, fp16; all roundings; subnormals,
    c_in_alignment; overflow and zero_sign; zero_exp (drop, -6, -7, -13) where
    the unscaled data can see it, else held out (--space zero_exp=... searches it);
    scales and promotion with --sa/--sb; lanes, join_bits, norm_bits at their
    defaults unless --space names them; group and scale_format at their defaults).
    Prints a table; --out
    writes the chosen member (the one nearest a preset) as TOML, --json everything.
    Exit status 0 when some configuration explains every case, 1 when none does,
    2 for bad input.

    \b
    Examples:
      fp8emu probe --out probe && (run probe/a.txt ... on the chip -> d.txt)
      fp8emu fit --dir probe --d d.txt --out chip.toml
      fp8emu fit --a a.txt --b b.txt --c c.txt --d d.txt --format e5m2 --json fit.json
      fp8emu fit --npz dump.npz --space fused=16,32 --space align_bits=10:30
    """
    from emu.io import add_input, check_not_input, check_writable

    for p, what in ((out_path, "--out"), (json_path, "--json")):
        if p:
            check_writable(p, what)
    if out_path and json_path:
        from emu.io import same_file

        if same_file([out_path, json_path]):
            raise UsageError(f"--out and --json are the same file ({json_path})")
    manifest_formats = None
    if dir_path:
        if not os.path.isdir(dir_path):
            raise UsageError(f"--dir: {dir_path}: no such directory")

        def pick(given, name, required=False):
            if given:
                return given
            p = os.path.join(dir_path, name)
            return p if (required or os.path.exists(p)) else None

        a_path, b_path = pick(a_path, "a.txt", True), pick(b_path, "b.txt", True)
        c_path, d_path = pick(c_path, "c.txt"), pick(d_path, "d.txt", True)
        sa_path, sb_path = pick(sa_path, "sa.txt"), pick(sb_path, "sb.txt")
        for opt, p in (
            ("--a", a_path),
            ("--b", b_path),
            ("--c", c_path),
            ("--d", d_path),
            ("--sa", sa_path),
            ("--sb", sb_path),
        ):
            add_input(p, opt)
        add_input(os.path.join(dir_path, "manifest.json"), "--dir")
        for p, what in ((out_path, "--out"), (json_path, "--json")):
            if p:
                check_not_input(p, what)
        manifest_formats = _manifest_formats(dir_path)
    if npz_path and (a_path or b_path or d_path):
        raise UsageError("give --npz or the text files (--a/--b/--d), not both")
    if not npz_path:
        missing = [o for o, p in (("--a", a_path), ("--b", b_path), ("--d", d_path)) if not p]
        if missing:
            raise UsageError(f"missing {', '.join(missing)} (or give --npz / --dir)")
    if elem_format is None and manifest_formats and not b_format:
        a_format, b_format = manifest_formats
    else:
        a_format = elem_format or "e4m3"
        b_format = b_format or a_format
    from emu.toolkit import fit as F

    space = F.parse_space(space_specs)
    if npz_path:
        try:
            cases, tiles = F.read_dump(npz_path=npz_path, a_format=a_format, b_format=b_format)
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
        cases, tiles = F.read_dump(a_path, b_path, d_path, c_path, sa_path, sb_path,
                                   a_format=a_format, b_format=b_format)  # fmt: skip
    if len(cases) > F.MAX_CASES:
        raise UsageError(f"{len(cases)} test cases, at most {F.MAX_CASES}")
    bar = _Bar(hidden=not _isatty(sys.stderr))
    try:
        res = F.fit(cases, a_format=a_format, b_format=b_format, space=space,
                    promotion=promotion, any_nan=any_nan, progress=bar.update,
                    b_tiles=tiles)  # fmt: skip
    finally:
        bar.close()
    click.echo(F.format_report(res, show, out_path))
    outputs = []
    if out_path:
        outputs.append((out_path, F.to_toml(res), "--out"))
    if json_path:
        from emu.toolkit.compare import json_safe

        outputs.append(
            (json_path, json.dumps(json_safe(F.to_json(res, show * 2)), indent=1) + "\n", "--json")
        )
    if outputs:
        from emu.io import save_all

        save_all(outputs)
    ctx.exit(0 if res.exact else 1)


def _manifest_formats(dir_path):
    try:
        with open(os.path.join(dir_path, "manifest.json"), encoding="utf-8") as fh:
            m = json.load(fh)
        a, b = m.get("a_format"), m.get("b_format")
        if a in formats_with_role("element") and b in formats_with_role("element"):
            return a, b
    except (OSError, ValueError, AttributeError, TypeError, RecursionError):
        pass
    return None


class _Bar:
    """click.progressbar on stderr, made once the total is known (the first call)."""

    def __init__(self, hidden: bool):
        self.hidden = hidden
        self.bar = None

    def update(self, n, total):
        if self.bar is None:
            self.bar = click.progressbar(
                length=total,
                label="fit",
                file=sys.stderr,
                show_pos=True,
                hidden=self.hidden,
            )
            self.bar.__enter__()
        self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
