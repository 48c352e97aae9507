"""The simulator's state: files, batches, the clock and the fault settings.

The HTTP layer (app.py) is a thin skin over these methods, so tests and the control
endpoints can drive the same object. Every method is thread-safe: a test thread may
advance the clock while uvicorn serves requests in another thread.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openai.types import Batch

from .clock import Clock, ManualClock
from .errors import ApiError, bad_request, not_found
from .faults import FaultConfig, FaultInjector
from .lifecycle import CANCELLABLE, TERMINAL, WINDOW_SECONDS, Produced, SimBatch, Timing
from .outputs import SUPPORTED_ENDPOINTS
from .script import DEFAULT_DURATION, BatchScript, ScriptError
from .validation import validate_input
from .webhooks import SimWebhooks, WebhookEndpoint

FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
BATCH_FILE_TTL = 30 * 24 * 3600
MAX_METADATA_KEYS = 16

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
    ) -> None:
        self.clock: Clock = clock if clock is not None else ManualClock()
        self.api_key = api_key
        self.faults = FaultInjector(faults)
        self.seed = seed
        self.default_duration = default_duration
        self.timing = timing or Timing()
        self.requests_served = 0
        self._lock = threading.RLock()
        self._files: dict[str, SimFile] = {}
        self._batches: dict[str, SimBatch] = {}
        self._seq = 0
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
        if found is None:
            raise not_found("file", file_id, param="file_id")
        return found

    def _batch(self, batch_id: str, now: float) -> SimBatch:
        found = self._batches.get(batch_id)
        if found is None:
            raise not_found("batch", batch_id, param="batch_id")
        self._advance(found, now)
        return found

    def _advance(self, batch: SimBatch, now: float) -> None:
        entered = batch.advance(now, self._store_outputs)
        if entered and self._listeners:
            for status in entered:
                for listener in list(self._listeners):
                    listener(batch.to_dict(now), status)

    def _store_outputs(self, batch: SimBatch, produced: Produced) -> None:
        at = int(batch.times.get(f"{batch.status}_at", self.now()))
        if produced.output is not None:
            batch.output_file_id = self._add_file(
                produced.output, f"{batch.id}_output.jsonl", "batch_output", at
            ).id
        if produced.errors is not None:
            batch.error_file_id = self._add_file(
                produced.errors, f"{batch.id}_error.jsonl", "batch_output", at
            ).id

    def _add_file(self, data: bytes, filename: str, purpose: str, created: int) -> SimFile:
        file_id, seq = self._next_id("file-")
        expires = created + BATCH_FILE_TTL if purpose in ("batch", "batch_output") else None
        stored = SimFile(file_id, seq, filename, purpose, data, created, expires)
        self._files[file_id] = stored
        return stored

    # -- files ------------------------------------------------------------------------

    def upload_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        if purpose not in FILE_PURPOSES:
            raise bad_request(
                f"'{purpose}' is not one of {list(FILE_PURPOSES)} - 'purpose'", param="purpose"
            )
        if purpose == "batch" and not filename.lower().endswith(".jsonl"):
            raise bad_request(
                "Invalid file format for Batch API. Must be .jsonl", param="file", code=None
            )
        with self._lock:
            return self._add_file(data, filename, purpose, int(self.now())).to_dict()

    def get_file(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            return self._file(file_id).to_dict()

    def file_content(self, file_id: str) -> bytes:
        with self._lock:
            return self._file(file_id).data

    def delete_file(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            self._file(file_id)
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
            files = sorted(self._files.values(), key=lambda f: f.seq, reverse=order == "desc")
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
    ) -> dict[str, Any]:
        if endpoint not in SUPPORTED_ENDPOINTS:
            raise bad_request(
                f"The simulator serves batches for {', '.join(SUPPORTED_ENDPOINTS)}; "
                f"got '{endpoint}'.",
                param="endpoint",
            )
        if completion_window not in WINDOW_SECONDS:
            raise bad_request(
                f"Invalid completion_window '{completion_window}'; supported: '24h'.",
                param="completion_window",
            )
        _check_metadata(metadata)
        try:
            script = BatchScript.from_metadata(metadata, self.default_duration)
        except ScriptError as exc:
            raise bad_request(str(exc), param=exc.param) from exc
        with self._lock:
            source = self._files.get(input_file_id)
            if source is None:
                raise bad_request(
                    f"Invalid input_file_id: no file with id '{input_file_id}'.",
                    param="input_file_id",
                )
            if source.purpose != "batch":
                raise bad_request(
                    f"File '{input_file_id}' has purpose '{source.purpose}'; a batch input "
                    "file must be uploaded with purpose 'batch'.",
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
                validation=validate_input(source.data, endpoint),
                timing=self.timing,
            )
            self._batches[batch_id] = batch
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
            if batch.status in TERMINAL:
                raise ApiError(
                    409,
                    f"Cannot cancel a batch with status '{batch.status}'.",
                    param=None,
                    code=None,
                )
            if batch.status in CANCELLABLE:
                batch.cancel(now)
                entered = True
            else:
                entered = False  # already cancelling: cancelling again changes nothing
            body = batch.to_dict(now)
        if entered:
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


def _check_metadata(metadata: dict[str, str] | None) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise bad_request("metadata must be an object of string values.", param="metadata")
    if len(metadata) > MAX_METADATA_KEYS:
        raise bad_request(f"metadata may have at most {MAX_METADATA_KEYS} keys.", param="metadata")
    for key, value in metadata.items():
        if not isinstance(key, str) or len(key) > 64:
            raise bad_request(
                "metadata keys must be strings of at most 64 characters.", param="metadata"
            )
        if not isinstance(value, str) or len(value) > 512:
            raise bad_request(
                f"metadata.{key} must be a string of at most 512 characters.",
                param=f"metadata.{key}",
            )
