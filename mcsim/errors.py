"""Exceptions raised for bad user input, and the exit statuses of the command line."""

#: The run finished, or the command did what was asked.
EXIT_OK = 0
#: A result read back is incomplete or unusable (a ``.partial``, a missing MPI part file), or
#: ``mcsim validate`` found a failing check.
EXIT_INCOMPLETE = 1
#: Bad input or a refused action, reported before any work: configuration, command line,
#: unsafe or colliding path, damaged or hostile checkpoint or file, an output claimed by
#: another run, a resource estimate beyond what the machine has.
EXIT_CONFIG = 2
#: An input/output failure during a run (disk full, file-system error); the message says
#: what was kept.
EXIT_IO = 74
#: The run wrote a checkpoint and stopped before the end (wall-time limit, SIGTERM, SIGUSR1,
#: SIGHUP); continue it with ``mcsim run --restart CKPT``.
EXIT_CHECKPOINTED = 75
#: Interrupted by Ctrl-C (SIGINT), 128 + 2 as shells report it.
EXIT_INTERRUPTED = 130


#: Longest rendering of an offending value in a ConfigError message.
_SHOWN_CHARS = 120


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type, out of range or inconsistent.

    The message always names the key (dotted path), the offending value and what is allowed.
    """

    def __init__(self, key: str, value, allowed: str):
        self.key = key
        self.value = value
        self.allowed = allowed
        shown = repr(value)
        if len(shown) > _SHOWN_CHARS:  # one readable line, whatever was passed in
            shown = f"{shown[:_SHOWN_CHARS - 20]}... ({len(shown)} characters)"
        super().__init__(f"{key} = {shown}: {allowed}")
