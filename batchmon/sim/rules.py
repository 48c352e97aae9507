"""The deterministic rules that decide what the simulator answers.

Tests (and the demo) predict every result with these functions: the tags a request gets,
whether a scripted share of requests fails, and the order of the output file.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote, urlsplit

VOCABULARY: tuple[str, ...] = (
    "outdoor",
    "indoor",
    "portrait",
    "landscape",
    "daylight",
    "night",
    "colorful",
    "monochrome",
    "closeup",
    "wide-angle",
    "people",
    "nature",
    "urban",
    "vintage",
    "minimal",
    "texture",
)

_WORD = re.compile(r"[a-z]+")
_MIN_WORD_LEN = 3
_MAX_URL_WORDS = 3


def stable_fraction(*parts: str) -> float:
    """A number in [0, 1) fixed by `parts`: the same inputs always give the same value."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _url_words(image_url: str) -> list[str]:
    path = urlsplit(image_url).path if "://" in image_url else image_url
    stem = unquote(path.rsplit("/", 1)[-1]).rsplit(".", 1)[0].lower()
    words: list[str] = []
    for word in _WORD.findall(stem):
        if len(word) >= _MIN_WORD_LEN and word not in words:
            words.append(word)
    return words[:_MAX_URL_WORDS]


def predicted_tags(image_url: str) -> list[str]:
    """The tags the simulated model returns for an image.

    Words of three or more letters from the URL's file name (at most three, in order),
    then two or three words picked from VOCABULARY by a hash of the whole URL.
    Example: ".../red-fox_01.jpg" -> ["red", "fox", <2-3 vocabulary words>].
    """
    tags = _url_words(image_url)
    digest = hashlib.sha256(image_url.encode("utf-8")).digest()
    extra = 2 + digest[0] % 2
    for byte in digest[1:]:
        if extra == 0:
            break
        word = VOCABULARY[byte % len(VOCABULARY)]
        if word not in tags:
            tags.append(word)
            extra -= 1
    return tags


def request_fails(custom_id: str, fail_fraction: float) -> bool:
    """Whether a request is one of the scripted failures (sim_fail_fraction)."""
    return fail_fraction > 0 and stable_fraction("fail", custom_id) < fail_fraction


def processing_order(batch_id: str, custom_ids: list[str]) -> list[int]:
    """Indices of the requests in the order the simulator processes and writes them.

    OpenAI does not keep input order in the output file; neither do we, but
    deterministically, so a test can rely on the shuffle and never on the order.
    """
    order = sorted(
        range(len(custom_ids)), key=lambda i: stable_fraction("order", batch_id, custom_ids[i])
    )
    if len(order) > 1 and order == sorted(order):
        order.reverse()  # never hand back input order, even when the hash happens to
    return order
