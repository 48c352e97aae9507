"""The job planner: no batch passes a limit, every line lands once, in order, streamed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchmon.core.planner import (
    MAX_BYTES,
    MAX_REQUESTS,
    PlanError,
    PlanLimits,
    Planner,
    plan_batches,
    summarize,
)
from batchmon.core.pricing import estimate_cost
from batchmon.core.requests import CHAT_COMPLETIONS, RESPONSES, build_tag_request, to_jsonl
from batchmon.core.tokens import EMBEDDINGS, request_tokens

MODELS = ("gpt-4o-mini", "gpt-4.1-mini", "gpt-4o")
Job = tuple[list[dict[str, Any]], PlanLimits]
"""A job's request lines and the limits to plan them within, as ``jobs()`` draws them."""


def tag_line(
    n: int, model: str = "gpt-4o-mini", endpoint: str = CHAT_COMPLETIONS
) -> dict[str, Any]:
    return build_tag_request(
        f"asset-{n}", f"https://img.example.test/{n}.jpg", model=model, endpoint=endpoint
    )


@st.composite
def jobs(draw: st.DrawFn) -> Job:
    count = draw(st.integers(min_value=0, max_value=60))
    lines = []
    for n in range(count):
        model = draw(st.sampled_from(MODELS))
        endpoint = draw(st.sampled_from((CHAT_COMPLETIONS, RESPONSES)))
        prompt = draw(st.text(min_size=1, max_size=300))
        lines.append(
            build_tag_request(
                f"a{n}",
                f"https://img.example.test/{n}.jpg",
                model=model,
                endpoint=endpoint,
                prompt=prompt,
            )
        )
    biggest = max((len(to_jsonl([line])) for line in lines), default=1)
    heaviest = max((request_tokens(line["body"], line["url"]) for line in lines), default=1)
    fraction = draw(st.sampled_from((0.5, 0.9, 1.0)))
    token_limits = {
        model: int(heaviest / fraction) + 1 + draw(st.integers(0, 4 * heaviest))
        for model in draw(st.sets(st.sampled_from(MODELS)))
    }
    limits = PlanLimits(
        max_requests=draw(st.integers(min_value=1, max_value=12)),
        max_bytes=biggest + draw(st.integers(min_value=0, max_value=6 * biggest)),
        token_limits=token_limits,
        token_fraction=fraction,
    )
    return lines, limits


@settings(max_examples=150, deadline=None)
@given(jobs())
def test_no_batch_passes_a_limit_and_every_line_is_in_one_batch_in_order(job: Job) -> None:
    lines, limits = job
    batches = list(plan_batches(lines, limits))

    placed: list[str] = []
    for batch in batches:
        assert batch.jsonl is not None
        uploaded = [json.loads(row) for row in batch.jsonl.decode("ascii").splitlines()]
        assert batch.request_count <= limits.max_requests
        assert batch.byte_size == len(batch.jsonl) <= limits.max_bytes
        assert batch.jsonl == to_jsonl(uploaded)  # exactly the bytes that will be uploaded
        budget = limits.token_budget(batch.model)
        assert budget is None or batch.estimated_tokens <= budget
        assert {(row["body"]["model"], row["url"]) for row in uploaded} == {
            (batch.model, batch.endpoint)
        }
        assert [row["custom_id"] for row in uploaded] == list(batch.custom_ids)
        placed += batch.custom_ids

    assert sorted(placed) == sorted(line["custom_id"] for line in lines)
    assert len(placed) == len(set(placed))
    for model in MODELS:
        for endpoint in (CHAT_COMPLETIONS, RESPONSES):
            wanted = [
                line["custom_id"]
                for line in lines
                if (line["body"]["model"], line["url"]) == (model, endpoint)
            ]
            got = [
                cid
                for batch in batches
                if (batch.model, batch.endpoint) == (model, endpoint)
                for cid in batch.custom_ids
            ]
            assert got == wanted  # one model's batches, read in order, are its lines in order


@settings(max_examples=100, deadline=None)
@given(jobs())
def test_a_batch_is_closed_only_when_the_next_line_would_not_fit(job: Job) -> None:
    lines, limits = job
    by_id = {line["custom_id"]: line for line in lines}
    batches = list(plan_batches(lines, limits))
    for position, earlier in enumerate(batches):
        key = (earlier.model, earlier.endpoint)
        nxt = next((b for b in batches[position + 1 :] if (b.model, b.endpoint) == key), None)
        if nxt is None:
            continue
        line = by_id[nxt.custom_ids[0]]
        budget = limits.token_budget(earlier.model)
        assert (
            earlier.request_count == limits.max_requests
            or earlier.byte_size + len(to_jsonl([line])) > limits.max_bytes
            or (
                budget is not None
                and earlier.estimated_tokens + request_tokens(line["body"], line["url"]) > budget
            )
        )


def test_limits_default_to_openais_per_file_limits() -> None:
    assert PlanLimits().max_requests == MAX_REQUESTS == 50_000
    assert PlanLimits().max_bytes == MAX_BYTES == 200_000_000


def test_a_job_is_split_by_the_models_token_budget_and_costed_at_batch_prices() -> None:
    per_line = request_tokens(tag_line(0)["body"])
    limits = PlanLimits(token_limits={"gpt-4o-mini": 10 * per_line}, token_fraction=0.5)
    batches = list(plan_batches((tag_line(n) for n in range(23)), limits, keep_lines=False))
    assert [b.request_count for b in batches] == [5, 5, 5, 5, 3]
    assert all(b.jsonl is None for b in batches)
    first = batches[0]
    assert first.estimated_tokens == 5 * per_line
    assert first.cost == estimate_cost(
        "gpt-4o-mini", {"input_tokens": 5 * per_line, "output_tokens": 500}, {"completed": 5}
    )
    plan = summarize(batches)
    assert (plan.batches, plan.requests) == (5, 23)
    assert plan.batch_usd == pytest.approx(sum(b.cost.batch_usd or 0 for b in batches))
    assert plan.saving_usd == pytest.approx(plan.batch_usd)  # batches cost half


def test_an_output_cap_is_costed_but_not_queued() -> None:
    line = tag_line(1)
    line["body"]["max_completion_tokens"] = 40
    (batch,) = plan_batches([line])
    assert batch.estimated_output_tokens == 40
    assert batch.estimated_tokens == request_tokens(line["body"])


def test_a_model_without_a_price_plans_without_a_cost() -> None:
    batches = list(plan_batches([tag_line(1, model="gpt-9-preview"), tag_line(2)]))
    assert batches[0].cost.batch_usd is None and batches[1].cost.batch_usd is not None
    assert summarize(batches).batch_usd is None and summarize(batches).saving_usd is None


def test_lines_are_read_one_at_a_time_and_batches_handed_out_when_full() -> None:
    pulled = 0

    def lines() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for n in range(1000):
            pulled += 1
            yield tag_line(n)

    batches = plan_batches(lines(), PlanLimits(max_requests=100))
    first = next(batches)
    assert first.request_count == 100
    assert pulled == 101  # the line that did not fit, and no more
    assert sum(b.request_count for b in batches) == 900


def test_interleaved_models_fill_their_own_batches() -> None:
    lines = [tag_line(n, model=MODELS[n % 2]) for n in range(10)]
    batches = list(plan_batches(lines, PlanLimits(max_requests=3)))
    assert [(b.model, b.request_count) for b in batches] == [
        ("gpt-4o-mini", 3),
        ("gpt-4.1-mini", 3),
        ("gpt-4o-mini", 2),
        ("gpt-4.1-mini", 2),
    ]
    assert [b.sequence for b in batches] == [1, 2, 3, 4]


def test_embedding_inputs_are_capped_across_a_batch() -> None:
    def line(n: int) -> dict[str, Any]:
        body = {"model": "text-embedding-3-small", "input": ["x"] * 20_000}
        return {"custom_id": f"e{n}", "method": "POST", "url": EMBEDDINGS, "body": body}

    batches = list(plan_batches(line(n) for n in range(5)))
    assert [b.request_count for b in batches] == [2, 2, 1]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"url": CHAT_COMPLETIONS, "body": {"model": "m"}}, "request line 1 has no custom_id"),
        ({"custom_id": "x", "body": {"model": "m"}}, "request line 1 (x) has no url"),
        ({"custom_id": "x", "url": CHAT_COMPLETIONS, "body": {}}, "(x) has no body.model"),
    ],
)
def test_a_malformed_line_is_refused_with_a_one_line_reason(
    line: dict[str, Any], message: str
) -> None:
    with pytest.raises(PlanError, match=message.replace("(", r"\(").replace(")", r"\)")):
        list(plan_batches([line]))


def test_a_line_no_batch_can_take_is_refused_before_it_is_planned() -> None:
    limits = PlanLimits(token_limits={"gpt-4o-mini": 1000})
    planner = Planner(limits)
    with pytest.raises(PlanError) as refused:
        planner.add(tag_line(7))
    assert "asset-7" in str(refused.value) and "\n" not in str(refused.value)
    assert planner.finish() == []
    with pytest.raises(PlanError, match="bytes; a batch file may hold 100"):
        list(plan_batches([tag_line(1)], PlanLimits(max_bytes=100)))


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="token_fraction"):
        PlanLimits(token_fraction=0)
    with pytest.raises(ValueError, match="at least one request"):
        PlanLimits(max_requests=0)
