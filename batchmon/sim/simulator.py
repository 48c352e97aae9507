"""The simulator's state: files, batches, the clock and the fault settings.

The HTTP layer (app.py) is a thin skin over these methods, so tests and the control
endpoints can drive the same object. Every method is thread-safe: a test thread may
advance the clock while uvicorn serves requests in another thread.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from openai.types import Batch

from .clock import Clock, ManualClock
from .errors import ApiError, bad_request, file_not_found, not_found
from .faults import FaultConfig, FaultInjector
from .lifecycle import CANCELLABLE, TERMINAL, WINDOW_SECONDS, Produced, SimBatch, Timing
from .models import base_model
from .outputs import SUPPORTED_ENDPOINTS
from .params import BATCH_FILE_TTL, check_metadata
from .queue import QueueLimits, input_file_missing, token_limit_reached
from .script import DEFAULT_DURATION, BatchScript, ScriptError
from .tokens import enqueued_tokens
from .validation import ValidationResult, validate_input
from .webhooks import SimWebhooks, WebhookEndpoint

FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
ENQUEUED = frozenset({"in_progress", "finalizing"})

Listener = Callable[[dict[str, Any], str], None]
"""Called with the batch object and the status it just entered."""


@dataclass
class SimFile:
    id: str
    seq: int
    filename: str
    purpose: str
    data: bytes
    created_at: int
    expires_at: int | None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }
        if self.expires_at is not None:
            body["expires_at"] = self.expires_at
        return body

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class Simulator:
    """An in-memory OpenAI Batch API whose batches live on `clock` time."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        api_key: str | None = None,
        faults: FaultConfig | None = None,
        seed: int = 0,
        default_duration: float = DEFAULT_DURATION,
        timing: Timing | None = None,
        webhook: WebhookEndpoint | None = None,
        queue: QueueLimits | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else ManualClock()
        self.api_key = api_key
        self.faults = FaultInjector(faults)
        self.seed = seed
        self.default_duration = default_duration
        self.timing = timing or Timing()
        self.queue = queue or QueueLimits()
        """Per-model enqueued-token limits (off unless set; see batchmon.sim.queue)."""
        self.requests_served = 0
        self._lock = threading.RLock()
        self._files: dict[str, SimFile] = {}
        self._batches: dict[str, SimBatch] = {}
        self._seq = 0
        self._validating: dict[str, SimBatch] = {}
        self._admitting = False
        self._listeners: list[Listener] = []
        self.webhooks = SimWebhooks(self, webhook)
        """Webhook delivery: configure(), deliver_due() (see batchmon.sim.webhooks)."""
        self._listeners.append(self.webhooks.listener)

    # -- helpers ----------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        """Move the clock forward (shorthand for clock.advance)."""
        return self.clock.advance(seconds)

    def request_id(self, n: int) -> str:
        """The `x-request-id` of the n-th request served (OpenAI's `req_` + 32 hex form)."""
        return "req_" + hashlib.sha256(f"{self.seed}:request:{n}".encode()).hexdigest()[:32]

    def add_listener(self, listener: Listener) -> None:
        """Hear each status a batch enters (when a request or sweep() notices it)."""
        with self._lock:
            self._listeners.append(listener)

    def _next_id(self, prefix: str) -> tuple[str, int]:
        self._seq += 1
        digest = hashlib.sha256(f"{self.seed}:{prefix}:{self._seq}".encode()).hexdigest()
        return f"{prefix}{digest[:24]}", self._seq

    def _file(self, file_id: str) -> SimFile:
        found = self._files.get(file_id)
        if found is None or found.expired(self.now()):
            raise file_not_found(file_id)
        return found

    def _batch(self, batch_id: str, now: float) -> SimBatch:
        found = self._batches.get(batch_id)
        if found is None:
            raise not_found("batch", batch_id, param="batch_id")
        self._advance(found, now)
        return found

    def _advance(self, batch: SimBatch, now: float) -> None:
        self._admit(now)
        self._step(batch, now)

    def _admit(self, now: float) -> None:
        """Decide, in the order they happened, the validations that ended by `now`.

        Whether the input file still exists, and whether the model's queue has room, are
        facts about that moment; every other batch is brought to it first, so the answer
        does not depend on which batch a client happened to look at.
        """
        if self._admitting or not self._validating:
            return
        self._admitting = True
        try:
            while True:
                due = [
                    b
                    for b in self._validating.values()
                    if b.status == "validating" and b.validation_ends <= now
                ]
                for gone in [b for b in self._validating.values() if b.status != "validating"]:
                    del self._validating[gone.id]
                if not due:
                    return
                batch = min(due, key=lambda b: (b.validation_ends, b.seq))
                del self._validating[batch.id]
                batch.late_error = self._late_error(batch, batch.validation_ends)
                self._step(batch, batch.validation_ends)
        finally:
            self._admitting = False

    def _late_error(self, batch: SimBatch, at: float) -> dict[str, Any] | None:
        source = self._files.get(batch.input_file_id)
        if source is None or source.expired(at):
            return input_file_missing(batch.input_file_id, self.queue.organization)
        model = batch.validation.model
        limit = self.queue.limit_for(model)
        if limit is None or model is None or not batch.validation.ok:
            return None
        if batch.script.fail_validation:
            return None
        for other in self._batches.values():
            if other is not batch and other.id not in self._validating:  # those wait their turn
                self._step(other, at)
        key = base_model(model)
        used = sum(
            other.enqueued_tokens
            for other in self._batches.values()
            if other.status in ENQUEUED and base_model(other.validation.model or "") == key
        )
        if used + batch.enqueued_tokens <= limit:
            return None
        shown = batch.validation.snapshot or model
        return token_limit_reached(shown, self.queue.organization, limit)

    def _step(self, batch: SimBatch, now: float) -> None:
        entered = batch.advance(now, self._store_outputs)
        if entered and self._listeners:
            for status in entered:
                for listener in list(self._listeners):
                    listener(batch.to_dict(now), status)

    def _store_outputs(self, batch: SimBatch, produced: Produced) -> None:
        at = int(batch.times.get(f"{batch.status}_at", self.now()))
        ttl = batch.output_ttl
        if produced.output is not None:
            batch.output_file_id = self._add_file(
                produced.output, f"{batch.id}_output.jsonl", "batch_output", at, ttl
            ).id
        if produced.errors is not None:
            batch.error_file_id = self._add_file(
                produced.errors, f"{batch.id}_error.jsonl", "batch_output", at, ttl
            ).id

    def _add_file(
        self, data: bytes, filename: str, purpose: str, created: int, ttl: int | None = None
    ) -> SimFile:
        """Store a file; batch files live 30 days unless `ttl` (expires_after) says otherwise."""
        file_id, seq = self._next_id("file-")
        if ttl is None and purpose in ("batch", "batch_output"):
            ttl = BATCH_FILE_TTL
        expires = created + ttl if ttl is not None else None
        stored = SimFile(file_id, seq, filename, purpose, data, created, expires)
        self._files[file_id] = stored
        return stored

    # -- files ------------------------------------------------------------------------

    def upload_file(
        self, data: bytes, filename: str, purpose: str, *, expires_after: int | None = None
    ) -> dict[str, Any]:
        """Store an upload; `expires_after` is the seconds after upload it expires."""
        if purpose not in FILE_PURPOSES:
            raise bad_request(
                f"'{purpose}' is not one of {list(FILE_PURPOSES)} - 'purpose'", param="purpose"
            )
        if purpose == "batch" and not filename.lower().endswith(".jsonl"):
            raise bad_request(
                "Invalid file format for Batch API. Must be .jsonl", param="file", code=None
            )
        with self._lock:
            return self._add_file(data, filename, purpose, int(self.now()), expires_after).to_dict()

    def get_file(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            return self._file(file_id).to_dict()

    def file_content(self, file_id: str) -> bytes:
        with self._lock:
            return self._file(file_id).data

    def delete_file(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            self._file(file_id)
            self.sweep()  # what happened before the delete saw the file
            del self._files[file_id]
            return {"id": file_id, "object": "file", "deleted": True}

    def list_files(
        self,
        *,
        purpose: str | None = None,
        limit: int = 10_000,
        order: str = "desc",
        after: str | None = None,
    ) -> dict[str, Any]:
        if not 1 <= limit <= 10_000:
            raise bad_request("limit must be between 1 and 10000.", param="limit")
        if order not in ("asc", "desc"):
            raise bad_request("order must be 'asc' or 'desc'.", param="order")
        with self._lock:
            now = self.now()
            live = [f for f in self._files.values() if not f.expired(now)]
            files = sorted(live, key=lambda f: f.seq, reverse=order == "desc")
            if purpose is not None:
                files = [f for f in files if f.purpose == purpose]
            page, has_more = _page(files, after, limit, "file")
            data = [f.to_dict() for f in page]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else "",
            "last_id": data[-1]["id"] if data else "",
            "has_more": has_more,
        }

    # -- batches ----------------------------------------------------------------------

    def create_batch(
        self,
        *,
        input_file_id: str,
        endpoint: str,
        completion_window: str = "24h",
        metadata: dict[str, str] | None = None,
        output_expires_after: int | None = None,
    ) -> dict[str, Any]:
        """Create a batch. An unknown input_file_id is accepted, as OpenAI accepts it: the
        batch fails when validation ends (see _late_error)."""
        if endpoint not in SUPPORTED_ENDPOINTS:
            # OpenAI's answer, as llama-stack's tests recorded it: "Invalid value:
            # '/v1/invalid/endpoint'. Supported values are: '/v1/chat/completions', ...,
            # and '/v1/responses'." (code invalid_value).
            quoted = [f"'{e}'" for e in sorted(SUPPORTED_ENDPOINTS)]
            supported = ", ".join(quoted[:-1]) + ", and " + quoted[-1]
            raise bad_request(
                f"Invalid value: '{endpoint}'. Supported values are: {supported}.",
                param="endpoint",
                code="invalid_value",
            )
        if completion_window not in WINDOW_SECONDS:
            raise bad_request(
                f"Invalid completion_window '{completion_window}'; supported: '24h'.",
                param="completion_window",
            )
        check_metadata(metadata)
        try:
            script = BatchScript.from_metadata(metadata, self.default_duration)
        except ScriptError as exc:
            raise bad_request(str(exc), param=exc.param) from exc
        with self._lock:
            source = self._files.get(input_file_id)
            if source is not None and source.purpose != "batch":
                raise bad_request(
                    f"Invalid input_file_id: file '{input_file_id}' has purpose "
                    f"'{source.purpose}'; a batch input file must have purpose 'batch'.",
                    param="input_file_id",
                )
            now = self.now()
            batch_id, seq = self._next_id("batch_")
            batch = SimBatch(
                id=batch_id,
                seq=seq,
                endpoint=endpoint,
                input_file_id=input_file_id,
                completion_window=completion_window,
                metadata=dict(metadata) if metadata is not None else None,
                created=float(int(now)),
                script=script,
                validation=(
                    validate_input(source.data, endpoint)
                    if source is not None
                    else ValidationResult()
                ),
                timing=self.timing,
                output_ttl=output_expires_after,
            )
            batch.enqueued_tokens = enqueued_tokens(
                (r.body for r in batch.validation.requests), endpoint, self.queue.image_size
            )
            self._batches[batch_id] = batch
            self._validating[batch_id] = batch
            body = batch.to_dict(now)
        for listener in list(self._listeners):
            listener(body, "validating")
        return body

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            now = self.now()
            return self._batch(batch_id, now).to_dict(now)

    def batch(self, batch_id: str) -> Batch:
        """The batch as the SDK's type (for tests and tools in this process)."""
        return Batch.model_validate(self.get_batch(batch_id))

    def list_batches(self, *, limit: int = 20, after: str | None = None) -> dict[str, Any]:
        if not 1 <= limit <= 100:
            raise bad_request("limit must be between 1 and 100.", param="limit")
        with self._lock:
            now = self.now()
            newest_first = sorted(self._batches.values(), key=lambda b: b.seq, reverse=True)
            page, has_more = _page(newest_first, after, limit, "batch")
            data = []
            for batch in page:
                self._advance(batch, now)
                data.append(batch.to_dict(now))
        body: dict[str, Any] = {"object": "list", "data": data, "has_more": has_more}
        if data:
            body["first_id"] = data[0]["id"]
            body["last_id"] = data[-1]["id"]
        return body

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            now = self.now()
            batch = self._batch(batch_id, now)
            if batch.status in ("cancelling", "cancelled"):
                return batch.to_dict(now)  # OpenAI answers a repeated cancel with the batch
            if batch.status in TERMINAL:
                raise ApiError(
                    409,
                    f"Cannot cancel a batch with status '{batch.status}'.",
                    param=None,
                    code=None,
                )
            assert batch.status in CANCELLABLE
            batch.cancel(now)
            body = batch.to_dict(now)
        for listener in list(self._listeners):
            listener(body, "cancelling")
        return body

    def script_batch(self, batch_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change how a batch behaves from now on (keys as BatchScript.updated takes)."""
        with self._lock:
            now = self.now()
            batch = self._batch(batch_id, now)
            try:
                script = batch.script.updated(changes)
            except ScriptError as exc:
                raise bad_request(str(exc), param=exc.param) from exc
            batch.rescript(script, now)
            self._advance(batch, now)
            return batch.to_dict(now)

    def batch_script(self, batch_id: str) -> BatchScript:
        """The script a batch currently follows."""
        with self._lock:
            return self._batch(batch_id, self.now()).script

    def sweep(self) -> None:
        """Bring every batch up to the current time (fires listeners for what changed)."""
        with self._lock:
            now = self.now()
            for batch in list(self._batches.values()):
                self._advance(batch, now)

    def configure(
        self,
        *,
        queue: dict[str, Any] | None = None,
        cancelling_seconds: float | None = None,
    ) -> None:
        """Change the queue limits (JSON as QueueLimits.from_dict takes) and the time a
        cancel takes; ValueError names a setting that cannot be used."""
        limits = QueueLimits.from_dict(queue) if queue is not None else None
        if cancelling_seconds is not None and (
            not isinstance(cancelling_seconds, int | float)
            or isinstance(cancelling_seconds, bool)
            or cancelling_seconds < 0
        ):
            raise ValueError("cancelling_seconds must be a number >= 0")
        with self._lock:
            self.sweep()  # the old limits decided what already happened
            if limits is not None:
                self.queue = limits
            if cancelling_seconds is not None:
                self.timing = replace(self.timing, cancelling=float(cancelling_seconds))
                for batch in self._batches.values():
                    if batch.status != "cancelling":
                        batch.timing = self.timing

    def state(self) -> dict[str, Any]:
        """A summary for people and tools: time, batches, files, faults injected."""
        with self._lock:
            now = self.now()
            batches = []
            for batch in sorted(self._batches.values(), key=lambda b: b.seq):
                self._advance(batch, now)
                body = batch.to_dict(now)
                batches.append(
                    {
                        "id": batch.id,
                        "status": batch.status,
                        "request_counts": body["request_counts"],
                        "script": batch.script.to_dict(),
                    }
                )
            return {
                "now": now,
                "batches": batches,
                "files": len(self._files),
                "faults": self.faults.config.to_dict(),
                "faults_injected": dict(self.faults.counts),
                "queue": self.queue.to_dict(),
                "timing": asdict(self.timing),
                "requests_served": self.requests_served,
            }


def _page(items: list[Any], after: str | None, limit: int, kind: str) -> tuple[list[Any], bool]:
    start = 0
    if after is not None:
        ids = [item.id for item in items]
        if after not in ids:
            raise bad_request(f"No {kind} found with id '{after}' to list after.", param="after")
        start = ids.index(after) + 1
    page = items[start : start + limit]
    return page, start + limit < len(items)
