"""The CLI's exit codes: the package-wide table, re-exported where CLI code looks for it."""

from batchmon.exit_codes import (
    EXIT_CONFIG,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    error_exit,
    exit_for,
)

__all__ = [
    "EXIT_CONFIG",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "error_exit",
    "exit_for",
]
