"""BatchClient: every call batchmon makes to OpenAI's Batch and Files APIs.

It wraps ``openai.AsyncOpenAI`` so the rest of batchmon never sees the SDK: it answers
"what are these batches doing" cheaply (list pages, not one request per batch), streams
result files line by line, counts every HTTP request it sends (the status bar and the
benchmarks show it), and turns SDK exceptions into :mod:`.errors` with a hint a person
can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncGenerator, Awaitable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

import httpx2
import openai
from openai.pagination import AsyncCursorPage as AsyncPage
from openai.types import Batch, FileObject

from .errors import (
    ApiUnreachable,
    AuthenticationFailed,
    BadRequest,
    BatchAlreadyFinished,
    BatchApiError,
    BatchNotFound,
    FileDownloadIncomplete,
    FileNotFound,
    MalformedResponse,
    RateLimited,
    from_openai_error,
    from_transport_error,
    parse_retry_after,
)
from .lines import LineSplitter
from .shapes import checked_batch, checked_file, checked_page

__all__ = ["PAGE_SIZE", "BatchClient", "RequestTally", "StatusReport"]

PAGE_SIZE = 100
"""The largest ``limit`` ``GET /batches`` accepts: one page answers for 100 batches."""

LONGEST_WAIT = 10.0
"""Seconds of ``Retry-After`` the SDK may sleep inside a call; longer asks end the call."""

_T = TypeVar("_T")
_P = TypeVar("_P", bound=AsyncPage[Batch])
_MAX_CREATE_WAIT = 120.0


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Current state of the batches asked about, and what finding it cost.

    ``missing`` holds ids OpenAI does not know (404): deleted, another project's, or
    mistyped. ``requests`` counts HTTP requests this call sent, SDK retries included.
    ``listed`` holds every batch the list pages showed, asked about or not: a caller
    about to ask for more of them can use these instead of paging again.
    """

    batches: dict[str, Batch]
    missing: set[str]
    requests: int
    pages: int = 0
    retrieved: int = 0
    listed: dict[str, Batch] = field(default_factory=dict)


@dataclass(slots=True)
class RequestTally:
    """Requests sent by one client within a block (tracked through a context variable).

    Tallies nest: a request counts in every enclosing tally of its client, so a worker
    pass counts the list pages, retrieves and downloads its steps count for themselves.
    """

    owner: BatchClient
    parent: RequestTally | None = None
    requests: int = 0


_TALLY: ContextVar[RequestTally | None] = ContextVar("batchmon_request_tally", default=None)


@dataclass(slots=True)
class _Scan:
    """Progress of a list-page scan over the batches ``statuses`` was asked about."""

    remaining: set[str]
    found: dict[str, Batch] = field(default_factory=dict)
    listed: dict[str, Batch] = field(default_factory=dict)
    pages: int = 0


class BatchClient:
    """Async client for OpenAI batches and files; one per API key and base URL.

    Pass ``http_client`` to choose the transport (tests use ``httpx2.ASGITransport``);
    the client then only adds a request-counting hook to it (removed by ``aclose``) and
    leaves closing it to the caller; share one between two BatchClients and each counts
    the other's requests too. ``max_retries`` is the SDK's own retry budget for 408/409/429/5xx and
    connection errors; ``timeout`` is in seconds per request (per read while streaming).
    ``longest_wait``: a 429/503 asking for a longer ``Retry-After`` is not retried inside
    the call (the SDK would sleep up to two minutes, twice, holding up a whole worker
    pass); it raises :class:`RateLimited` with ``retry_after`` for the caller to plan.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
        max_retries: int = 2,
        timeout: float = 60.0,
        retrieve_concurrency: int = 8,
        longest_wait: float = LONGEST_WAIT,
    ) -> None:
        if not api_key or not api_key.strip():
            raise AuthenticationFailed(
                "No OpenAI API key is configured",
                hint="Set the OpenAI API key in batchmon's settings.",
            )
        if retrieve_concurrency < 1:
            raise ValueError("retrieve_concurrency must be at least 1")
        self._requests_made = 0
        self._longest_wait = longest_wait
        self._owns_http = http_client is None
        if http_client is None:
            http_client = openai.DefaultAsyncHttpxClient(
                event_hooks={"request": [self._count_request], "response": [self._no_long_wait]}
            )
        else:
            hooks = http_client.event_hooks
            http_client.event_hooks = {
                "request": [*hooks.get("request", []), self._count_request],
                "response": [*hooks.get("response", []), self._no_long_wait],
            }
        self._http = http_client
        self._max_retries = max_retries
        self._concurrency = retrieve_concurrency
        self._sdk = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            http_client=http_client,
            max_retries=max_retries,
            timeout=timeout,
        )
        # A retried POST /batches can create a second batch: creates are retried here,
        # and only when the server said it did nothing (429).
        self._sdk_no_retry = self._sdk.with_options(max_retries=0)

    def __repr__(self) -> str:
        return f"BatchClient(base_url={self.base_url!r}, requests_made={self._requests_made})"

    async def __aenter__(self) -> BatchClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def base_url(self) -> str:
        """The API root requests go to (never includes the key)."""
        return str(self._sdk.base_url)

    # -- request counting ---------------------------------------------------------------

    @property
    def requests_made(self) -> int:
        """HTTP requests sent since creation or the last reset, SDK retries included."""
        return self._requests_made

    def reset_request_count(self) -> int:
        """Start counting from zero; returns the count so far."""
        count, self._requests_made = self._requests_made, 0
        return count

    async def _count_request(self, request: httpx2.Request) -> None:
        # An httpx event hook runs once per request actually handed to the transport,
        # so the SDK's retries are counted too.
        self._requests_made += 1
        tally = _TALLY.get()
        while tally is not None:
            if tally.owner is self:
                tally.requests += 1
            tally = tally.parent

    async def _no_long_wait(self, response: httpx2.Response) -> None:
        # The SDK obeys x-should-retry before its own rules: a long wait is the caller's.
        if response.status_code in (429, 503):
            wait = parse_retry_after(response.headers)
            if wait is not None and wait > self._longest_wait:
                response.headers["x-should-retry"] = "false"

    @contextlib.contextmanager
    def counting(self) -> Iterator[RequestTally]:
        """Count the HTTP requests this client sends within the block (and its tasks).

        Only requests made by this task, or by tasks it starts inside the block, count:
        another coroutine sharing the client is not charged to it.
        """
        with self._tally() as tally:
            yield tally

    @contextlib.contextmanager
    def _tally(self) -> Iterator[RequestTally]:
        tally = RequestTally(self, _TALLY.get())
        token = _TALLY.set(tally)
        try:
            yield tally
        finally:
            _TALLY.reset(token)

    # -- plumbing -----------------------------------------------------------------------

    async def _call(
        self,
        what: str,
        awaitable: Awaitable[_T],
        *,
        not_found: type[BatchNotFound] = BatchNotFound,
    ) -> _T:
        try:
            return await awaitable
        except openai.OpenAIError as err:
            raise from_openai_error(err, what=what, not_found=not_found) from err
        except OSError as err:  # a transport that lets socket errors through unwrapped
            raise ApiUnreachable(f"{what}: the connection failed ({type(err).__name__})") from err
        except (ValueError, TypeError, AttributeError, KeyError) as err:
            # The SDK parsing a 200 that is not the API's JSON: an HTML page becomes a
            # str, broken JSON a JSONDecodeError, a wrong shape a TypeError later on.
            raise MalformedResponse(
                f"{what}: the answer was not the API's JSON ({type(err).__name__})"
            ) from err

    # -- batches ------------------------------------------------------------------------

    async def retrieve(self, batch_id: str) -> Batch:
        """One batch by id; :class:`BatchNotFound` if OpenAI does not know it."""
        if not batch_id:
            raise BatchNotFound("An empty batch id was given", hint="Pass a batch id (batch_...).")
        what = f"retrieve batch {batch_id}"
        return checked_batch(await self._call(what, self._sdk.batches.retrieve(batch_id)), what)

    async def statuses(
        self,
        ids: Iterable[str],
        *,
        created_after: int | Mapping[str, int] | None = None,
    ) -> StatusReport:
        """Current state of many batches for about one request per 100 of them.

        Reads ``GET /batches?limit=100`` pages (newest first) until every id is found,
        the list ends, the rest cannot be on later pages, or more pages would cost more
        than retrieving the rest; then retrieves the ids the pages did not cover, a few
        at a time. ``created_after`` is an optional lower
        bound on the batches' ``created_at`` (one for all, or per id): with it, paging
        stops as soon as a page reaches older batches.
        """
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return StatusReport(batches={}, missing=set(), requests=0)
        floors = _floors(wanted, created_after)
        with self._tally() as tally:
            scan = await self._scan_pages(wanted, floors)
            leftover = [batch_id for batch_id in wanted if batch_id in scan.remaining]
            retrieved, missing = await self._retrieve_many(leftover)
            batches = {**scan.found, **retrieved}
            ordered = {batch_id: batches[batch_id] for batch_id in wanted if batch_id in batches}
            return StatusReport(
                batches=ordered,
                missing=missing,
                requests=tally.requests,
                pages=scan.pages,
                retrieved=len(leftover),
                listed=scan.listed,
            )

    async def _scan_pages(self, wanted: list[str], floors: Mapping[str, int]) -> _Scan:
        scan = _Scan(remaining=set(wanted))
        page_budget = math.ceil(len(wanted) / PAGE_SIZE) + 1
        page = await self._list_page(self._sdk.batches.list(limit=PAGE_SIZE))
        while True:
            scan.pages += 1
            for batch in page.data:
                scan.listed[batch.id] = batch
                if batch.id in scan.remaining:
                    scan.remaining.discard(batch.id)
                    scan.found[batch.id] = batch
            if not scan.remaining or not page.data or not page.has_next_page():
                return scan
            oldest_listed = page.data[-1].created_at
            # Newest first: a batch created after this page's oldest one would have been
            # listed already. Only ids with no floor or an older one can still turn up.
            could_follow = [
                batch_id
                for batch_id in scan.remaining
                if floors.get(batch_id) is None or floors[batch_id] <= oldest_listed
            ]
            # Another page costs one request and may answer for all of them; retrieving
            # costs one request per id, for sure. Keep paging (past the pages the ids
            # would fill, e.g. when other software made many newer batches) while the
            # pages spent stay under half of what retrieving them would cost.
            if len(could_follow) < 2 or scan.pages >= max(page_budget, len(could_follow) // 2):
                return scan
            page = await self._list_page(page.get_next_page())

    async def _list_page(self, awaitable: Awaitable[_P]) -> _P:
        """One ``GET /batches`` page, refused unless it is a list of batch objects."""
        return checked_page(await self._call("list batches", awaitable), "list batches")

    async def _retrieve_many(self, ids: list[str]) -> tuple[dict[str, Batch], set[str]]:
        found: dict[str, Batch] = {}
        missing: set[str] = set()
        if not ids:
            return found, missing
        gate = asyncio.Semaphore(self._concurrency)

        async def one(batch_id: str) -> None:
            async with gate:
                try:
                    found[batch_id] = await self.retrieve(batch_id)
                except BatchNotFound:
                    missing.add(batch_id)

        try:
            async with asyncio.TaskGroup() as group:
                for batch_id in ids:
                    group.create_task(one(batch_id))
        except BaseExceptionGroup as failures:
            # The first failure stops the rest: a bad key or an outage fails them all.
            first = _first_api_error(failures)
            if first is None:
                raise
            raise first from None
        return found, missing

    async def find_batch_by_metadata(
        self,
        key: str,
        value: str,
        *,
        created_after: int | None = None,
        input_file_id: str | None = None,
    ) -> Batch | None:
        """The newest batch whose ``metadata[key] == value``, or None.

        Pages newest first and stops at the first batch created before ``created_after``
        (pass it: without it the whole history may be read). ``input_file_id`` narrows
        it to the batch created from that upload: after a lost create answer, the
        caller's own batch, not another process's with the same token.
        """
        page = await self._list_page(self._sdk.batches.list(limit=PAGE_SIZE))
        while True:
            for batch in page.data:
                if created_after is not None and batch.created_at < created_after:
                    return None
                if (
                    batch.metadata
                    and batch.metadata.get(key) == value
                    and (input_file_id is None or batch.input_file_id == input_file_id)
                ):
                    return batch
            if not page.data or not page.has_next_page():
                return None
            page = await self._list_page(page.get_next_page())

    async def create_batch(
        self,
        *,
        input_file_id: str,
        endpoint: str,
        completion_window: str = "24h",
        metadata: Mapping[str, str] | None = None,
    ) -> Batch:
        """Create a batch. Retried only on 429 (the server did nothing).

        The SDK would also retry 5xx and timeouts, which can create a batch twice; those
        surface as errors so the caller can look the batch up by a metadata token first.
        """
        what = f"create batch from {input_file_id}"
        meta: dict[str, str] | openai.Omit = dict(metadata) if metadata else openai.omit
        for attempt in range(self._max_retries + 1):
            try:
                created = await self._call(
                    what,
                    self._sdk_no_retry.batches.create(
                        input_file_id=input_file_id,
                        endpoint=cast(Any, endpoint),
                        completion_window=cast(Literal["24h"], completion_window),
                        metadata=meta,
                    ),
                )
                return checked_batch(created, what)
            except RateLimited as err:
                wait = err.retry_after if err.retry_after is not None else 0.5 * 2**attempt
                if attempt >= self._max_retries or wait > _MAX_CREATE_WAIT:
                    raise
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def cancel(self, batch_id: str) -> Batch:
        """Ask OpenAI to cancel; the batch passes through ``cancelling`` to ``cancelled``."""
        what = f"cancel batch {batch_id}"
        try:
            cancelled = await self._call(what, self._sdk.batches.cancel(batch_id))
        except BadRequest as err:
            if err.status_code != 409:
                raise
            raise BatchAlreadyFinished(
                err.message, status_code=409, request_id=err.request_id
            ) from err
        return checked_batch(cancelled, what)

    # -- files --------------------------------------------------------------------------

    async def upload_jsonl(self, data: bytes, *, filename: str = "batch.jsonl") -> FileObject:
        """Upload a batch input file (``purpose="batch"``)."""
        what = f"upload {filename}"
        uploaded = await self._call(
            what,
            self._sdk.files.create(file=(filename, data, "application/jsonl"), purpose="batch"),
        )
        return checked_file(uploaded, what)

    async def file_exists(self, file_id: str) -> bool:
        """Whether the file can still be read (batch files expire)."""
        if not file_id:
            return False
        try:
            await self._call(
                f"look up file {file_id}",
                self._sdk.files.retrieve(file_id),
                not_found=FileNotFound,
            )
        except FileNotFound:
            return False
        return True

    async def iter_output_lines(self, file_id: str) -> AsyncGenerator[bytes, None]:
        """The file's lines as bytes (without line endings), streamed.

        Only the current chunk and one unfinished line are held in memory. If the
        connection ends before the declared length, :class:`FileDownloadIncomplete` is
        raised and the cut-off last line is never yielded. Close the iterator (e.g. with
        ``contextlib.aclosing``) when stopping early, to free the connection.
        """
        if not file_id:
            raise FileNotFound("An empty file id was given", hint="The batch has no such file.")
        what = f"download file {file_id}"
        splitter = LineSplitter()
        started = False
        try:
            async with self._sdk.files.with_streaming_response.content(file_id) as response:
                started = True
                raw = response.http_response
                if _is_html(raw.headers):
                    raise MalformedResponse(
                        f"{what}: the answer was an HTML page, not the file's JSON lines"
                    )
                declared = _content_length(raw.headers)
                async for chunk in raw.aiter_bytes():
                    for line in splitter.feed(chunk):
                        yield line
                received = raw.num_bytes_downloaded
                if declared is not None and received < declared:
                    raise FileDownloadIncomplete(f"{what}: received {received} of {declared} bytes")
        except openai.OpenAIError as err:
            raise from_openai_error(err, what=what, not_found=FileNotFound) from err
        except httpx2.HTTPError as err:
            raise from_transport_error(err, what=what) from err
        except OSError as err:
            kind = FileDownloadIncomplete if started else ApiUnreachable
            raise kind(f"{what}: the connection failed ({type(err).__name__})") from err
        last = splitter.finish()
        if last is not None:
            yield last

    # -- lifecycle ----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the HTTP client if this object made it; unhook an injected one."""
        if self._owns_http:
            await self._sdk.close()
            return
        hooks = self._http.event_hooks
        self._http.event_hooks = {
            "request": [h for h in hooks.get("request", []) if h != self._count_request],
            "response": [h for h in hooks.get("response", []) if h != self._no_long_wait],
        }


def _floors(wanted: list[str], created_after: int | Mapping[str, int] | None) -> dict[str, int]:
    """The oldest created_at each wanted batch can have, where the caller knows it."""
    if created_after is None:
        return {}
    if isinstance(created_after, int):
        return dict.fromkeys(wanted, created_after)
    return {batch_id: created_after[batch_id] for batch_id in wanted if batch_id in created_after}


def _content_length(headers: httpx2.Headers) -> int | None:
    raw = headers.get("content-length")
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw)


def _is_html(headers: httpx2.Headers) -> bool:
    """A file download answered by a web page (a proxy's, a portal's), not by OpenAI."""
    return headers.get("content-type", "").split(";")[0].strip().lower() == "text/html"


def _first_api_error(group: BaseExceptionGroup[BaseException]) -> BatchApiError | None:
    for exc in group.exceptions:
        if isinstance(exc, BatchApiError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            nested = _first_api_error(exc)
            if nested is not None:
                return nested
    return None
