"""Split a job's request lines into batches OpenAI will accept, streamed.

A batch must hold at most 50,000 requests, at most 200 MB of JSONL (the bytes that are
uploaded, newline included) and, so that it can ever start, fewer estimated prompt tokens
than its model's enqueued-token limit: the planner fills each batch to a fraction of that
limit. One batch never mixes models or endpoints (OpenAI refuses it). Lines are read
one at a time and a batch is handed out as soon as it is full, so a 250,000-line job
holds only its open batches in memory. Why these numbers: docs/jobs.md.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from batchmon.core.pricing import Cost, estimate_cost
from batchmon.core.requests import to_jsonl
from batchmon.core.tokens import EMBEDDINGS, request_tokens, requested_output_tokens

MAX_REQUESTS = 50_000
MAX_BYTES = 200_000_000
"""OpenAI says "200 MB" without saying which; this is the smaller reading."""
MAX_EMBEDDING_INPUTS = 50_000
DEFAULT_TOKEN_FRACTION = 0.9
"""Room for the estimate's error: the queue's own count is not published."""
ASSUMED_OUTPUT_TOKENS = 100
"""Per request without an output cap, for the cost estimate only (tags are short)."""

TokenEstimator = Callable[[Mapping[str, Any], str], int]


class PlanError(ValueError):
    """A request line that no batch can take; nothing has been planned past it."""


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """What one batch may hold. ``token_limits`` maps a model to its enqueued-token limit.

    A model with no known limit (and no ``default_token_limit``) is bounded by requests
    and bytes only, until the limit is learned.
    """

    max_requests: int = MAX_REQUESTS
    max_bytes: int = MAX_BYTES
    token_limits: Mapping[str, int] = field(default_factory=dict)
    default_token_limit: int | None = None
    token_fraction: float = DEFAULT_TOKEN_FRACTION

    def __post_init__(self) -> None:
        if self.max_requests < 1 or self.max_bytes < 1:
            raise ValueError("a batch must be allowed at least one request and one byte")
        if not 0 < self.token_fraction <= 1:
            raise ValueError(f"token_fraction must be in (0, 1], not {self.token_fraction}")

    def token_budget(self, model: str) -> int | None:
        """Estimated tokens one batch of ``model`` may hold, or None when unbounded."""
        limit = self.token_limits.get(model, self.default_token_limit)
        return None if limit is None else int(limit * self.token_fraction)


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """One batch to upload: its JSONL (None when only planning) and its figures."""

    sequence: int
    model: str
    endpoint: str
    custom_ids: tuple[str, ...]
    byte_size: int
    estimated_tokens: int
    estimated_output_tokens: int
    cost: Cost
    jsonl: bytes | None = None

    @property
    def request_count(self) -> int:
        return len(self.custom_ids)


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """A whole job's plan at a glance: what the confirmation shows before submitting."""

    batches: int
    requests: int
    byte_size: int
    estimated_tokens: int
    batch_usd: float | None
    standard_usd: float | None

    @property
    def saving_usd(self) -> float | None:
        if self.batch_usd is None or self.standard_usd is None:
            return None
        return self.standard_usd - self.batch_usd


@dataclass(slots=True)
class _OpenBatch:
    model: str
    endpoint: str
    first_line: int
    custom_ids: list[str] = field(default_factory=list)
    jsonl: io.BytesIO | None = None
    byte_size: int = 0
    tokens: int = 0
    output_tokens: int = 0
    embedding_inputs: int = 0


def _embedding_inputs(endpoint: str, body: Mapping[str, Any]) -> int:
    if endpoint != EMBEDDINGS:
        return 0
    given = body.get("input")
    if isinstance(given, list) and given and not isinstance(given[0], int):
        return len(given)
    return 1


def _line_parts(number: int, line: Mapping[str, Any]) -> tuple[str, str, str, Mapping[str, Any]]:
    custom_id, endpoint, body = line.get("custom_id"), line.get("url"), line.get("body")
    if not isinstance(custom_id, str) or not custom_id:
        raise PlanError(f"request line {number} has no custom_id")
    if not isinstance(endpoint, str) or not endpoint:
        raise PlanError(f"request line {number} ({custom_id}) has no url (endpoint)")
    if not isinstance(body, Mapping) or not isinstance(body.get("model"), str):
        raise PlanError(f"request line {number} ({custom_id}) has no body.model")
    return custom_id, endpoint, body["model"], body


class Planner:
    """Feed lines with :meth:`add`; full batches come back at once, the rest from :meth:`finish`.

    Batches of one model and endpoint keep the lines' order; ``sequence`` numbers the
    batches in the order they are handed out.
    """

    def __init__(
        self,
        limits: PlanLimits | None = None,
        *,
        estimate: TokenEstimator = request_tokens,
        keep_lines: bool = True,
        assumed_output_tokens: int = ASSUMED_OUTPUT_TOKENS,
    ) -> None:
        self.limits = limits or PlanLimits()
        self._estimate = estimate
        self._keep_lines = keep_lines
        self._assumed_output = assumed_output_tokens
        self._open: dict[tuple[str, str], _OpenBatch] = {}
        self._lines_seen = 0
        self._handed_out = 0

    def add(self, line: Mapping[str, Any]) -> PlannedBatch | None:
        """Place one line; returns the batch it closed (its key's previous one), if any.

        Raises PlanError for a line with no custom_id, url or model, or one that alone
        passes a limit: no batch could ever take it.
        """
        number = self._lines_seen + 1
        custom_id, endpoint, model, body = _line_parts(number, line)
        encoded = to_jsonl((line if isinstance(line, dict) else dict(line),))
        tokens = self._estimate(body, endpoint)
        inputs = _embedding_inputs(endpoint, body)
        self._refuse_if_alone_too_big(number, custom_id, model, len(encoded), tokens, inputs)
        cap = requested_output_tokens(body)
        output = self._assumed_output if cap is None else cap
        self._lines_seen = number

        key = (model, endpoint)
        current = self._open.get(key)
        closed = None
        if current is not None and not self._fits(current, len(encoded), tokens, inputs):
            closed = self._close(self._open.pop(key))
            current = None
        if current is None:
            current = self._open[key] = _OpenBatch(model, endpoint, number)
            if self._keep_lines:  # one growing buffer: no second copy when the batch closes
                current.jsonl = io.BytesIO()
        current.custom_ids.append(custom_id)
        if current.jsonl is not None:
            current.jsonl.write(encoded)
        current.byte_size += len(encoded)
        current.tokens += tokens
        current.output_tokens += output
        current.embedding_inputs += inputs
        return closed

    def finish(self) -> list[PlannedBatch]:
        """The batches still open, in the order of their first line."""
        still_open = sorted(self._open.values(), key=lambda batch: batch.first_line)
        self._open.clear()
        return [self._close(batch) for batch in still_open]

    def _refuse_if_alone_too_big(
        self, number: int, custom_id: str, model: str, size: int, tokens: int, inputs: int
    ) -> None:
        where = f"request line {number} ({custom_id})"
        if size > self.limits.max_bytes:
            raise PlanError(
                f"{where} is {size:,} bytes; a batch file may hold {self.limits.max_bytes:,}"
            )
        budget = self.limits.token_budget(model)
        if budget is not None and tokens > budget:
            raise PlanError(
                f"{where} needs about {tokens:,} tokens, more than a {model} batch may queue "
                f"({budget:,}); shorten it or raise the limit"
            )
        if inputs > MAX_EMBEDDING_INPUTS:
            raise PlanError(f"{where} has {inputs:,} embedding inputs; a batch may hold 50,000")

    def _fits(self, batch: _OpenBatch, size: int, tokens: int, inputs: int) -> bool:
        limits = self.limits
        budget = limits.token_budget(batch.model)
        return (
            len(batch.custom_ids) < limits.max_requests
            and batch.byte_size + size <= limits.max_bytes
            and (budget is None or batch.tokens + tokens <= budget)
            and batch.embedding_inputs + inputs <= MAX_EMBEDDING_INPUTS
        )

    def _close(self, batch: _OpenBatch) -> PlannedBatch:
        self._handed_out += 1
        usage = {"input_tokens": batch.tokens, "output_tokens": batch.output_tokens}
        return PlannedBatch(
            sequence=self._handed_out,
            model=batch.model,
            endpoint=batch.endpoint,
            custom_ids=tuple(batch.custom_ids),
            byte_size=batch.byte_size,
            estimated_tokens=batch.tokens,
            estimated_output_tokens=batch.output_tokens,
            cost=estimate_cost(batch.model, usage, {"completed": len(batch.custom_ids)}),
            jsonl=batch.jsonl.getvalue() if batch.jsonl is not None else None,
        )


def plan_batches(
    lines: Iterable[Mapping[str, Any]],
    limits: PlanLimits | None = None,
    *,
    keep_lines: bool = True,
    estimate: TokenEstimator = request_tokens,
) -> Iterator[PlannedBatch]:
    """Batches for ``lines``, each handed out as soon as it is full (see :class:`Planner`)."""
    planner = Planner(limits, estimate=estimate, keep_lines=keep_lines)
    for line in lines:
        closed = planner.add(line)
        if closed is not None:
            yield closed
    yield from planner.finish()


def summarize(batches: Iterable[PlannedBatch]) -> PlanSummary:
    """Totals of a plan; costs are None when any batch's model has no known price."""
    count = requests = size = tokens = 0
    batch_usd: float | None = 0.0
    standard_usd: float | None = 0.0
    for batch in batches:
        count += 1
        requests += batch.request_count
        size += batch.byte_size
        tokens += batch.estimated_tokens
        if batch_usd is None or batch.cost.batch_usd is None:
            batch_usd = None
        else:
            batch_usd += batch.cost.batch_usd
        if standard_usd is None or batch.cost.standard_usd is None:
            standard_usd = None
        else:
            standard_usd += batch.cost.standard_usd
    return PlanSummary(count, requests, size, tokens, batch_usd, standard_usd)
