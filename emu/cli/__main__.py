"""``python -m emu.cli``: the fp8emu command line."""

from emu.cli import main

main()
