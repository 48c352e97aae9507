"""The deterministic rules tests rely on to predict every simulated result."""

from __future__ import annotations

from batchmon.sim import predicted_tags
from batchmon.sim.rules import VOCABULARY, processing_order, request_fails


def test_tags_come_from_the_file_name_then_the_vocabulary() -> None:
    tags = predicted_tags("https://cdn.example.com/u/42/Red-Fox_in-snow.JPG?x=1")
    assert tags[:3] == ["red", "fox", "snow"]
    extra = tags[3:]
    assert 2 <= len(extra) <= 3
    assert all(word in VOCABULARY for word in extra)
    assert len(set(tags)) == len(tags)


def test_tags_are_deterministic_and_differ_between_images() -> None:
    url = "https://cdn.example.com/a/beach-sunset.png"
    assert predicted_tags(url) == predicted_tags(url)
    vocab_picks = {tuple(predicted_tags(f"https://x/{i}.png")) for i in range(50)}
    assert len(vocab_picks) > 10


def test_a_url_without_words_still_gets_tags() -> None:
    tags = predicted_tags("")
    assert 2 <= len(tags) <= 3


def test_processing_order_is_a_permutation_that_is_not_input_order() -> None:
    for n in (2, 3, 10, 100):
        ids = [f"id-{i}" for i in range(n)]
        order = processing_order("batch_x", ids)
        assert sorted(order) == list(range(n))
        assert order != list(range(n))
        assert order == processing_order("batch_x", ids)


def test_scripted_failures_hit_about_the_requested_share() -> None:
    ids = [f"asset-{i}" for i in range(2000)]
    failed = sum(request_fails(i, 0.25) for i in ids)
    assert 400 < failed < 600
    assert not any(request_fails(i, 0.0) for i in ids)
    assert all(request_fails(i, 1.0) for i in ids)
