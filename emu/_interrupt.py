"""Ctrl-C in the fp8emu console program: one line, exit 130, never a traceback.

Installed by the first module Python loads (``emu/__init__.py`` imports this before
numpy), and only when the process is the ``fp8emu`` program (``python -m emu.cli``
or the console script), never in a program that imports emu.  While ``emu.cli.main``
runs a command (``running``) Ctrl-C raises KeyboardInterrupt there, so main prints
the one line and the writers remove their temporary files; before that (modules
still loading) and after, the handler prints the line and exits 130 at once.
"""

from __future__ import annotations

import os
import signal
import sys

LINE = b"fp8emu: error: interrupted\n"
running = False


def _on_sigint(signum, frame):
    if running:
        raise KeyboardInterrupt
    try:
        os.write(2, LINE)
    finally:
        os._exit(130)


def install_sigint_handler() -> None:
    try:
        signal.signal(signal.SIGINT, _on_sigint)
    except (ValueError, OSError):  # not the main thread, or no signals here
        pass


def is_console() -> bool:
    """This process is the fp8emu program, not a program that imports emu."""
    argv0 = (getattr(sys, "argv", None) or [""])[0]
    return argv0 == "-m" or os.path.basename(argv0).split(".")[0] in ("fp8emu", "fp8emu-script")


if is_console():
    install_sigint_handler()
