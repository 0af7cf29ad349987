"""The project's error types.  A UsageError is bad input: the CLI prints it as one
line and exits with status 2.  A MachineFault is a runtime fault of a program."""


class UsageError(Exception):
    """Bad input from the user (arguments, files, configs, programs): exit status 2."""


class MachineFault(UsageError):
    """A program stopped at run time (pc, instruction and reason in the message)."""
