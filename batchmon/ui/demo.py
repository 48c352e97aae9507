"""The embedded default: a complete, offline batchmon that shows itself off in a minute.

With nothing configured (or ``--demo``), batchmon runs everything it normally talks to
inside its own process: the embedded PostgreSQL in the user data dir, the OpenAI batch
simulator on 127.0.0.1 (uvicorn on the same event loop), and the server-side worker.
It seeds image assets and submits a handful of batches on compressed time (a simulated
day passes in a minute), so a newcomer sees progress, a validation failure, a partial
failure and an expiry, with notifications and a working Retry, without any account.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psycopg
import uvicorn

from batchmon.core.status import StuckLimits
from batchmon.engine.jobs import create_job
from batchmon.engine.submit import submit_assets
from batchmon.engine.worker import PassReport, Worker, WorkerConfig
from batchmon.openai_batches import BatchClient
from batchmon.sim import ScaledClock, Simulator, Timing, create_app
from batchmon.store.embedded import EmbeddedPostgres
from batchmon.store.postgres import PostgresStore
from batchmon.ui.time_base import scaled_time_base

log = logging.getLogger(__name__)

DEMO_API_KEY = "sk-batchmon-demo"
DAY = 86_400.0
DEMO_SEED = 4
"""With this seed the partial batch fails 4 of its 16 requests (its 25 %), every run."""
_DEMO_TABLES = (
    "public.asset_results, public.assets, public.openai_batches, public.batch_poll_runs, "
    "public.batchmon_jobs, public.batchmon_job_batches, public.batchmon_model_limits"
)


@dataclass(frozen=True, slots=True)
class DemoBatch:
    """One scripted batch: what it tags, and how the simulator should treat it.

    ``seconds`` is how long it stays in progress, in real seconds at the default pace.
    """

    label: str
    subjects: tuple[str, ...]
    seconds: float
    script: dict[str, str] = field(default_factory=dict)


#: What the demo submits at start: a mix of the outcomes a person must learn to handle.
DEMO_BATCHES: tuple[DemoBatch, ...] = (
    DemoBatch("quick", ("cat", "dog", "bicycle", "harbour", "lighthouse", "tulip"), 8),
    DemoBatch(
        "catalogue",
        tuple(f"{w}-{i}" for i in range(1, 5) for w in ("sofa", "lamp", "rug", "chair", "vase")),
        30,
    ),
    DemoBatch(
        "partial",
        tuple(f"street-{i:02d}" for i in range(1, 17)),
        20,
        # Rate limits inside a batch are OpenAI's most common partial failure, and Retry
        # resends them by default (a bad image URL would only fail again).
        {"sim_fail_fraction": "0.25", "sim_fail_code": "rate_limit_exceeded"},
    ),
    DemoBatch("rejected", tuple(f"scan-{i}" for i in range(1, 7)), 5, {"sim_fail_validation": "1"}),
    DemoBatch(
        "expiring",
        tuple(f"archive-{i:02d}" for i in range(1, 13)),
        90,
        {"sim_expire": "0.5"},
    ),
)


DEMO_JOB_MODEL = "gpt-4.1-mini"
DEMO_QUEUE_LIMIT = 20_000
"""The demo simulator's enqueued-token limit for DEMO_JOB_MODEL (switched on for it alone,
so the other demo batches never meet it). An image of unknown size is 2,489 estimated
tokens on this model, so the big job's 30 images are about four times the limit: planned
as five batches of six, sent one at a time as the one in progress finishes."""

#: A job larger than the demo queue's limit: it visibly queues and drains.
DEMO_JOB = DemoBatch("big-job", tuple(f"shelf-{i:02d}" for i in range(1, 31)), 0)

#: New uploads nobody has sent yet: what "Tag N untagged assets…" offers in the demo.
DEMO_UNTAGGED = DemoBatch("uploads", tuple(f"upload-{i:02d}" for i in range(1, 13)), 0)


@dataclass(frozen=True, slots=True)
class DemoPace:
    """How fast demo time runs: ``day_seconds`` real seconds per simulated day.

    The default (60) lets a 24-hour completion window run out within a minute, so the
    expiring batch expires while a newcomer watches. Tests pass a few seconds.
    """

    day_seconds: float = 60.0

    @property
    def scale(self) -> float:
        return DAY / self.day_seconds

    def sim_seconds(self, real_seconds_at_default_pace: float) -> float:
        """Simulated seconds for a duration given in real seconds at the default pace."""
        return real_seconds_at_default_pace * (self.day_seconds / 60.0) * self.scale

    def real(self, seconds_at_default_pace: float) -> float:
        return seconds_at_default_pace * self.day_seconds / 60.0


STUCK_AFTER_PHASES = 5
"""A demo batch is "stuck?" after five times its scripted phase length."""


def demo_stuck_limits(timing: Timing) -> StuckLimits:
    """Stuck limits on the demo's clock: a few of its own phase lengths, not OpenAI's hours.

    OpenAI's limits (an hour validating) would flag every demo batch within seconds,
    as a simulated day passes in a minute.
    """
    return StuckLimits(
        validating=STUCK_AFTER_PHASES * timing.validating,
        in_progress=None,
        finalizing=STUCK_AFTER_PHASES * timing.finalizing,
        cancelling=STUCK_AFTER_PHASES * timing.cancelling,
    )


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class _Server(uvicorn.Server):
    """uvicorn that reports readiness through a future (no polling for ``started``)."""

    def __init__(self, config: uvicorn.Config, ready: asyncio.Future[None]) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self._ready.done():
            self._ready.set_result(None)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The application owns SIGINT/SIGTERM (batchmon.ui.shutdown); uvicorn would
        # otherwise swap in its own handlers for as long as the simulator serves.
        yield

    def install_signal_handlers(self) -> None:  # uvicorn before capture_signals()
        return None


class DemoEnvironment:
    """Starts and stops the demo's database, simulator and worker."""

    def __init__(
        self, data_dir: Path, pace: DemoPace | None = None, *, seed: int = DEMO_SEED
    ) -> None:
        self.data_dir = data_dir
        self.pace = pace or DemoPace()
        self.seed = seed
        """Picks the demo's asset ids, and so which requests the simulator fails."""
        self.simulator = Simulator(
            ScaledClock(self.pace.scale),
            api_key=DEMO_API_KEY,
            timing=Timing(
                validating=self.pace.sim_seconds(3),
                finalizing=self.pace.sim_seconds(3),
                cancelling=self.pace.sim_seconds(2),
            ),
        )
        self.time_base = scaled_time_base(
            self.simulator.clock.now, self.pace.scale, demo_stuck_limits(self.simulator.timing)
        )
        """The demo's clock for the window: demo time, its own "stuck?" limits."""
        self.embedded = EmbeddedPostgres(data_dir / "postgres")
        self.database_url: str | None = None
        self.store: PostgresStore | None = None
        self.client: BatchClient | None = None
        self.base_url: str | None = None
        self._server: _Server | None = None
        self._server_task: asyncio.Task[None] | None = None
        self._worker: Worker | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self.submitted: list[str] = []
        self.job_id: str | None = None
        """The demo job, once created."""

    async def start(self) -> None:
        """Database, simulator and client; the store and client are ready afterwards."""
        self.database_url = await asyncio.to_thread(self.embedded.start)
        await asyncio.to_thread(_reset_tables, self.database_url)
        self.store = await PostgresStore.open(self.database_url)
        self.base_url = await self._serve_simulator()
        self.client = BatchClient(api_key=DEMO_API_KEY, base_url=self.base_url)

    async def _serve_simulator(self) -> str:
        sock = _free_socket()
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.simulator), log_level="warning", lifespan="off", access_log=False
        )
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._server = _Server(config, ready)
        self._server_task = asyncio.ensure_future(self._server.serve(sockets=[sock]))
        await asyncio.wait(
            [ready, self._server_task], timeout=10, return_when=asyncio.FIRST_COMPLETED
        )
        if not ready.done():
            raise RuntimeError("the demo's simulator did not start on 127.0.0.1")
        log.info("demo simulator on http://127.0.0.1:%d/v1", port)
        return f"http://127.0.0.1:{port}/v1"

    def start_worker(self, on_pass: Callable[[PassReport], object] | None = None) -> None:
        """The in-process server-side poller, on a pace that matches demo time.

        ``on_pass`` gets each pass's report (a test waits on it).
        """
        assert self.client is not None and self.store is not None
        config = WorkerConfig(
            interval=timedelta(seconds=max(0.5, self.pace.real(10))),
            # Demo time runs ahead of the database's clock, so a batch created later
            # looks younger than zero to it: every batch counts as old enough.
            min_age=-timedelta(days=365),
            lease=timedelta(minutes=1),
            worker_id="demo-worker",
        )
        self._worker = Worker(self.client, self.store, config)
        self._worker_task = asyncio.ensure_future(self._worker.run_forever(on_pass))

    async def submit_demo_batches(
        self, batches: Sequence[DemoBatch] = DEMO_BATCHES, *, job: DemoBatch | None = None
    ) -> list[str]:
        """Seed assets and submit the scripted batches; returns the new batch ids.

        The full demo (the default ``batches``) also creates :data:`DEMO_JOB`, whose
        batches the worker sends as queue room frees (``job`` picks another), and leaves
        :data:`DEMO_UNTAGGED` unsent for the Tag flow.
        """
        assert self.client is not None and self.store is not None
        assert self.database_url is not None
        chosen = job if job is not None else (DEMO_JOB if batches is DEMO_BATCHES else None)
        if chosen is not None:
            self.job_id = await self.submit_demo_job(chosen)
        if batches is DEMO_BATCHES:
            await asyncio.to_thread(insert_assets, self.database_url, DEMO_UNTAGGED, self.seed)
        for plan in batches:
            ids = await asyncio.to_thread(insert_assets, self.database_url, plan, self.seed)
            assets = await self.store.assets_by_ids(ids)
            metadata = {
                **plan.script,
                "sim_duration": f"{self.pace.sim_seconds(plan.seconds):.0f}",
                "demo": plan.label,
            }
            result = await submit_assets(self.client, self.store, assets, metadata=metadata)
            self.submitted.extend(batch.id for batch in result.batches)
        return list(self.submitted)

    async def submit_demo_job(self, plan: DemoBatch = DEMO_JOB) -> str:
        """Create a job larger than the demo queue's limit for its model; returns its id.

        The simulator's limit is switched on for DEMO_JOB_MODEL and the same limit is
        stored as configured, so the job is planned to fit and no batch is refused.
        """
        assert self.store is not None and self.database_url is not None
        self.simulator.configure(
            queue={"enqueued_token_limits": {DEMO_JOB_MODEL: DEMO_QUEUE_LIMIT}}
        )
        await self.store.set_model_limit(DEMO_JOB_MODEL, DEMO_QUEUE_LIMIT)
        ids = await asyncio.to_thread(insert_assets, self.database_url, plan, self.seed)
        created = await create_job(self.store, await self.store.assets_by_ids(ids), DEMO_JOB_MODEL)
        return created.job_id

    async def aclose(self) -> None:
        """Stop the worker, the simulator, the client, the store and the database."""
        if self._worker is not None and self._worker_task is not None:
            self._worker.request_stop()
            self._worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker_task
        if self.client is not None:
            await self.client.aclose()
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._server_task, 5)
        if self.store is not None:
            await self.store.close()
        await asyncio.to_thread(self.embedded.stop)


def _reset_tables(database_url: str) -> None:
    """The demo database is the demo's own: start each run from a clean slate."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"truncate table {_DEMO_TABLES} restart identity cascade")


_ASSET_NAMESPACE = uuid.UUID("6f1d2a4e-8b7c-4f0e-9a51-3c2d7e8f9b10")


def demo_asset_id(seed: int, label: str, subject: str) -> str:
    """A fixed id per demo asset: the simulator picks failures by a hash of the id,
    so the same seed fails the same requests on every run."""
    return str(uuid.uuid5(_ASSET_NAMESPACE, f"{seed}/{label}/{subject}"))


def insert_assets(database_url: str, plan: DemoBatch, seed: int = 0) -> list[str]:
    """Insert the demo assets of ``plan`` (fixed ids for ``seed``); returns their ids."""
    ids = [demo_asset_id(seed, plan.label, subject) for subject in plan.subjects]
    rows = [
        (asset_id, f"https://images.example.com/demo/{plan.label}/{subject}.jpg")
        for asset_id, subject in zip(ids, plan.subjects, strict=True)
    ]
    with psycopg.connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany("insert into public.assets (id, image_url) values (%s, %s)", rows)
    return ids
