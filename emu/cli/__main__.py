"""``python -m emu.cli``: the fp8emu command line."""

from emu.cli import install_sigint_handler, main

install_sigint_handler()  # already done while emu.cli loaded; harmless twice
main()
