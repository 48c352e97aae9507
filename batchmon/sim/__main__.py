"""`python -m batchmon.sim`: the same server as `batchmon sim`."""

from __future__ import annotations

import argparse
import sys

from .serve import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m batchmon.sim", description="Serve the OpenAI Batch API simulator."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
