"""Argument types for the command line: durations and counts, checked as they are parsed.

A bad value is an argparse error (one line, exit 2) before anything is opened.
"""

from __future__ import annotations

import argparse
import re
import uuid
from collections.abc import Callable
from datetime import timedelta

from batchmon.core.formatting import format_duration
from batchmon.core.tokens import parse_optional_image_size

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``5m``, ``1.5h``, ``2d`` -> timedelta (argparse type)."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: use a number with s, m, h or d (e.g. 60s, 5m)"
        )
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    return timedelta(seconds=seconds)


def duration_at_least(minimum: timedelta, why: str) -> Callable[[str], timedelta]:
    """An argparse type: a duration no shorter than ``minimum`` (``why`` says the reason)."""

    def parse(text: str) -> timedelta:
        value = parse_duration(text)
        if value < minimum:
            least = format_duration(minimum.total_seconds())
            raise argparse.ArgumentTypeError(f"{text!r} is too short: at least {least} ({why})")
        return value

    return parse


def positive_int(text: str) -> int:
    """An integer >= 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def image_size(text: str) -> tuple[int, int] | None:
    """``WIDTHxHEIGHT`` in pixels, e.g. ``640x480``, or ``unknown`` (None) (argparse type)."""
    try:
        return parse_optional_image_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def job_id(text: str) -> str:
    """A job id as ``batchmon jobs`` prints it (a UUID), normalised (argparse type)."""
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a job id: `batchmon jobs` lists them"
        ) from None


def usd(text: str) -> float:
    """A positive amount of US dollars, ``12.5`` or ``$12.50`` (argparse type)."""
    try:
        value = float(text.strip().lstrip("$").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in USD (e.g. 25)") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive amount in USD")
    return value
