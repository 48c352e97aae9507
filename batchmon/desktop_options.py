"""The desktop monitor's command-line options, defined once.

``batchmon`` with no command starts the desktop, which parses these; ``batchmon --help``
lists them too. Kept free of Qt so the CLI can show them without loading it.
"""

from __future__ import annotations

import argparse


def add_desktop_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add the desktop's options (``--demo`` and friends) to ``parser``."""
    parser.add_argument("--demo", action="store_true", help="run the offline demo")
    parser.add_argument(
        "--demo-day-seconds",
        type=float,
        default=60.0,
        help="demo pace: real seconds per simulated day (default 60)",
    )
    parser.add_argument(
        "--quit-after-show",
        action="store_true",
        help="show the window, connect, print how long each took, then quit (for benchmarks)",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window offscreen on a temporary embedded database and the simulator, "
        "run one sync pass, exit 0 (non-zero with the reason on failure)",
    )
