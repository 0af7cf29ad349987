"""The ``fp8emu`` command line.  Commands live in small modules and are imported only
when used, so that ``fp8emu --help`` and a warm start stay fast.

Exit status: 0 success, 1 a check found differences, 2 usage or input error, 3 an
internal error (a bug in fp8emu), 130 interrupted.  Errors are one line on stderr,
never a traceback (set FP8EMU_TRACEBACK=1 to see the traceback of an internal error).
"""

from __future__ import annotations

import importlib  # noqa: E402
import os
import sys
import warnings  # noqa: E402

import click  # noqa: E402

from emu import (
    __version__,  # noqa: E402
    _interrupt,  # noqa: E402  (installed Ctrl-C handling as emu loaded)
)
from emu._interrupt import install_sigint_handler  # noqa: E402, F401
from emu.errors import UsageError  # noqa: E402

# command name -> "module:attribute"; each module owns its commands.
COMMANDS = {
    "gemm": "emu.cli.core:gemm_cmd",
    "presets": "emu.cli.core:presets_cmd",
    "quantize": "emu.cli.core:quantize_cmd",
    "asm": "emu.cli.programs:asm_cmd",
    "disasm": "emu.cli.programs:disasm_cmd",
    "run": "emu.cli.programs:run_cmd",
    "compare": "emu.cli.tools:compare_cmd",
    "validate": "emu.cli.tools:validate_cmd",
    "vectors": "emu.cli.tools:vectors_cmd",
    "sweep": "emu.cli.tools:sweep_cmd",
    "probe": "emu.cli.fit:probe_cmd",
    "fit": "emu.cli.fit:fit_cmd",
}

# command name -> the parameters that name output files or directories.  Every other
# file or directory parameter is an input: the CLI registers it as it parses it
# (emu.io.add_input), and no output of the command may be the same file
# (emu.io.check_not_input, in check_writable and save_all).
OUTPUTS = {
    "gemm": ("out_path",),
    "quantize": ("out_path", "scales_path"),
    "asm": ("out_path",),
    "disasm": ("out_path",),
    "compare": ("json_path",),
    "validate": ("json_path",),
    "vectors": ("out_dir",),
    "sweep": ("csv_path", "plot_path"),
    "probe": ("out_dir",),
    "fit": ("out_path", "json_path"),
}


_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


class _BrokenPipe(Exception):
    """The reader of stdout went away (``fp8emu ... | head``)."""


class _Interrupted(Exception):
    """Ctrl-C inside a command (click would print a blank line and 'Aborted!')."""


class LazyGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted() from None
        except BrokenPipeError:
            raise _BrokenPipe() from None  # click would turn it into exit 1

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        spec = COMMANDS.get(name)
        if spec is None:
            return None
        mod, attr = spec.split(":")
        return _prepare_paths(getattr(importlib.import_module(mod), attr), OUTPUTS.get(name, ()))


def _names_a_path(param) -> bool:
    """Options and arguments that take a file or directory name: a click.Path, or a
    metavar such as A.npy, FILE.toml, PROG.s|PROG.bin or DIR (not NAME=FILE pairs)."""
    mv = param.metavar or ""
    return "=" not in mv and (isinstance(param.type, click.Path) or "." in mv or mv == "DIR")


def _nonempty_path(ctx, param, value):
    if value == "" or (isinstance(value, tuple) and "" in value):
        raise click.BadParameter("empty file name", ctx=ctx, param=param)
    return value


def _input_path(ctx, param, value):
    """Register an input file parameter's value(s) with emu.io (see OUTPUTS)."""
    from emu.io import PACKED, add_input

    what = max(param.opts, key=len) if isinstance(param, click.Option) else ""
    for v in value if isinstance(value, tuple) else (value,):
        if v is not None:
            add_input(v, what)
            path, sep, suffix = str(v).rpartition(":")
            if sep and suffix.lower() in PACKED:  # FILE.npy:e2m1x2 reads FILE.npy
                add_input(path, what)
    return value


def _prepare_paths(cmd, outputs=()):
    """Every file parameter of a command: an empty file name (``--out ""``, an unset
    shell variable) is a usage error, never "option not given"; and each one not in
    ``outputs`` is registered as an input of the command."""
    if getattr(cmd, "_fp8emu_paths_checked", False):
        return cmd
    for p in cmd.params:
        if _names_a_path(p):
            checks = [_nonempty_path] + ([] if p.name in outputs else [_input_path])
            if p.callback is not None:
                checks.append(p.callback)
            p.callback = lambda ctx, param, v, checks=tuple(checks): _chain(ctx, param, v, checks)
    cmd._fp8emu_paths_checked = True
    return cmd


def _chain(ctx, param, value, checks):
    for check in checks:
        value = check(ctx, param, value)
    return value


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fp8emu")
def cli():
    """fp8emu: a bit-accurate emulator of an FP8 tensor core (E4M3/E5M2 operands,
    UE8M0 block scales, configurable accumulator).

    \b
    Examples:
      fp8emu presets
      fp8emu gemm --a A.npy --b B.npy --preset h100 --out D.npy
      fp8emu run examples/tiled_gemm.s --max-steps 100000

    Exit status: 0 success, 1 a check found differences, 2 usage or input error,
    3 internal error (a bug: please report it).
    """


def fail(msg: str, code: int = 2):
    """Print one error line to stderr and exit."""
    click.echo(f"fp8emu: error: {msg}", err=True)
    sys.exit(code)


def main(argv=None):
    """Console entry point: every error is one line on stderr, exit status 2 (3 for
    an internal error, 130 for Ctrl-C).  numpy's RuntimeWarnings (overflow in a cast
    of the user's own inf/huge data, ...) are not errors and are not printed."""
    from emu.io import command_inputs

    try:
        _interrupt.running = True
        with warnings.catch_warnings(), command_inputs():
            warnings.simplefilter("ignore", RuntimeWarning)
            rv = cli.main(args=argv, prog_name="fp8emu", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        fail("aborted", 130)
    except _NO_ARGS as e:  # bare `fp8emu`: help, then one line
        click.echo(e.format_message())
        fail(f"no command given (see {e.ctx.command_path} --help)")
    except click.ClickException as e:
        msg = e.format_message().replace("\n", " ")
        ctx = getattr(e, "ctx", None)
        args = sys.argv[1:] if argv is None else list(argv)
        where = (
            f"{ctx.command_path}: "
            if ctx is not None
            else f"fp8emu {args[0]}: "
            if args and args[0] in COMMANDS
            else "fp8emu: "
        )
        fail(f"{where}{msg}")
    except UsageError as e:
        fail(str(e).replace("\n", " "))
    except (KeyboardInterrupt, _Interrupted):
        fail("interrupted", 130)
    except (BrokenPipeError, _BrokenPipe):  # `fp8emu ... | head`: stop quietly
        _quiet_stdout()
        sys.exit(141)
    except MemoryError:
        fail("out of memory (try a smaller problem)")
    except Exception as e:  # a bug: still one line, status 3
        if _too_big(e):
            fail(f"out of memory: the problem is too large ({e})")
        if os.environ.get("FP8EMU_TRACEBACK"):
            raise
        msg = f"{type(e).__name__}: {e}".replace("\n", " ")
        fail(
            f"internal error: {msg} (a bug in fp8emu; please report it with the "
            "command line; FP8EMU_TRACEBACK=1 shows the traceback)",
            3,
        )
    finally:
        _interrupt.running = False
    sys.exit(rv if isinstance(rv, int) else 0)


def _quiet_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so Python's exit flush is silent."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _too_big(e: Exception) -> bool:
    """numpy's errors for arrays larger than the address space."""
    return isinstance(e, ValueError) and any(
        s in str(e)
        for s in (
            "array is too big",
            "Maximum allowed dimension exceeded",
            "maximum supported dimension",
            "too large to be allocated",
        )
    )
