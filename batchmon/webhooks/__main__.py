"""`python -m batchmon.webhooks`: the same server as `batchmon webhook`."""

from __future__ import annotations

import argparse
import logging
import sys

from batchmon.webhooks.serve import add_arguments, add_connection_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m batchmon.webhooks",
        description="Receive OpenAI batch webhooks and apply finished batches at once.",
    )
    add_arguments(parser)
    add_connection_arguments(parser)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
