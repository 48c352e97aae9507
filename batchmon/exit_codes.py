"""The one exit-code table, and which error gets which code.

The CLI, the webhook server and the desktop all end with these codes, so a service
manager or script can tell a configuration problem (fix the settings, restarting will
not help) from a failed operation (worth trying again). Kept at the top of the package,
free of Qt and of the CLI, so every entry point can import it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the error classes load lazily, see error_exit
    from batchmon.openai_batches import BatchApiError

EXIT_OK = 0
"""Done."""

EXIT_ERROR = 1
"""An operation failed (API, database, network): trying again later may work."""

EXIT_USAGE = 2
"""The command line was wrong (argparse's own code)."""

EXIT_CONFIG = 3
"""Configuration is missing or rejected (no key, a key OpenAI refuses, bad settings)."""

EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C or a second signal (128 + SIGINT, as shells report it)."""


def error_exit(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and the one line to print for an error a person can act on.

    None for anything else: that is a bug, and its traceback should be seen. The error
    classes are imported here, not at module level, so that importing the table stays
    cheap for ``batchmon --help`` and the desktop's start-up.
    """
    from batchmon.config import ConfigError
    from batchmon.openai_batches import AuthenticationFailed, BatchApiError
    from batchmon.store.protocol import StoreError

    if isinstance(exc, AuthenticationFailed):
        return EXIT_CONFIG, _with_hint(exc)
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG, str(exc)
    if isinstance(exc, BatchApiError):
        return EXIT_ERROR, _with_hint(exc)
    if isinstance(exc, StoreError | OSError):  # a RetryNotPossible is a StoreError
        return EXIT_ERROR, str(exc)
    return None


def exit_for(exc: Exception, program: str) -> int:
    """Print ``program: error: ...`` for a known error and return its code.

    Anything :func:`error_exit` does not know is raised again, traceback and all.
    """
    known = error_exit(exc)
    if known is None:
        raise exc
    code, message = known
    print(f"{program}: error: {message}", file=sys.stderr)
    return code


def _with_hint(exc: BatchApiError) -> str:
    """``message. hint`` without doubling a period the message already ends with."""
    return f"{exc.message.rstrip().rstrip('.')}. {exc.hint}"
