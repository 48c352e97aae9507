"""A longer fuzz run of the result-line parser (hypothesis), for minutes, not seconds.

    .venv/bin/python benchmarks/fuzz_results.py --seconds 180

Feeds random bytes, random JSON and near-valid OpenAI lines (cut, corrupted, mistyped)
through ResultParser and checks what the test suite checks: it never raises, each line
gives one outcome, ``ok`` means a list of clean string tags, a failure has a reason.
Prints how many lines and files were run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batchmon.core.results import ResultParser
from tests.reliability.strategies import raw_lines

KNOWN = ["a1", "a2", "a3"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="how long to fuzz")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    stats = {"files": 0, "lines": 0, "ok": 0}
    deadline = time.monotonic() + args.seconds

    @settings(
        max_examples=2_000,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(raw_lines(), max_size=20), st.booleans())
    def fuzz(lines: list[bytes], known: bool) -> None:
        stats["files"] += 1
        results = ResultParser(KNOWN if known else None)
        for n, raw in enumerate(lines, start=1):
            outcome = results.feed(raw, n)
            stats["lines"] += 1
            assert outcome.line_no == n
            if outcome.ok:
                stats["ok"] += 1
                assert isinstance(outcome.custom_id, str) and outcome.custom_id
                assert isinstance(outcome.tags, list)
                assert all(isinstance(t, str) and t for t in outcome.tags)
            else:
                assert outcome.reason and outcome.error_code

    started = time.monotonic()
    while time.monotonic() < deadline:
        fuzz()
    took = time.monotonic() - started
    print(
        f"fuzzed ResultParser for {took:.0f} s: {stats['files']} files, "
        f"{stats['lines']} lines ({stats['ok']} ok), 0 failures"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
