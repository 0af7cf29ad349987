"""The ``fp8emu`` command line.  Commands live in small modules and are imported only
when used, so that ``fp8emu --help`` and a warm start stay fast.

Exit status: 0 success, 1 a check found differences, 2 usage or input error.
"""
from __future__ import annotations

import importlib
import sys

import click

from . import __version__
from .errors import UsageError

# command name -> "module:attribute"; each module owns its commands.
COMMANDS = {
    "gemm": "emu.cli_core:gemm_cmd",
    "presets": "emu.cli_core:presets_cmd",
    "quantize": "emu.cli_core:quantize_cmd",
    "asm": "emu.cli_programs:asm_cmd",
    "disasm": "emu.cli_programs:disasm_cmd",
    "run": "emu.cli_programs:run_cmd",
    "compare": "emu.cli_tools:compare_cmd",
    "validate": "emu.cli_tools:validate_cmd",
    "vectors": "emu.cli_tools:vectors_cmd",
    "sweep": "emu.cli_tools:sweep_cmd",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        spec = COMMANDS.get(name)
        if spec is None:
            return None
        mod, attr = spec.split(":")
        return getattr(importlib.import_module(mod), attr)


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

    Exit status: 0 success, 1 a check found differences, 2 usage or input error.
    """


def fail(msg: str, code: int = 2):
    """Print one error line to stderr and exit."""
    click.echo(f"fp8emu: error: {msg}", err=True)
    sys.exit(code)


def main(argv=None):
    """Console entry point: every error is one line on stderr, exit status 2."""
    try:
        rv = cli.main(args=argv, prog_name="fp8emu", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        fail("aborted", 130)
    except click.ClickException as e:
        msg = e.format_message().replace("\n", " ")
        ctx = getattr(e, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        fail(f"{where}{msg}")
    except UsageError as e:
        fail(str(e).replace("\n", " "))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except MemoryError:
        fail("out of memory (try a smaller problem)")
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
