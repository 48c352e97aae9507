"""statuses(): many batches answered from list pages, not one request per batch."""

from __future__ import annotations

import math

import httpx2
import pytest

from batchmon.openai_batches import ApiServerError, BatchClient
from batchmon.sim import FaultConfig, Simulator
from tests.fixtures.sim import LiveSim
from tests.helpers.clients import sim_batch_client
from tests.helpers.requests import make_batches


@pytest.mark.parametrize("count", [1, 10, 250])
async def test_recent_batches_cost_one_request_per_hundred(
    simulator: Simulator, sim_client: BatchClient, count: int
) -> None:
    make_batches(simulator, 40)  # older history the pages must not wade through
    wanted = make_batches(simulator, count)
    simulator.advance(10)  # past validating: each batch has moved on
    served_before = simulator.requests_served

    report = await sim_client.statuses(wanted)

    assert set(report.batches) == set(wanted)
    assert report.missing == set()
    for batch_id, batch in report.batches.items():
        assert batch.status == simulator.batch(batch_id).status == "in_progress"
    budget = math.ceil(count / 100) + 1
    assert report.requests <= budget
    assert report.requests == simulator.requests_served - served_before
    assert sim_client.requests_made == report.requests
    if count >= 10:
        assert report.requests < count  # what one retrieve per batch would cost


async def test_unknown_ids_are_reported_missing(
    simulator: Simulator, sim_client: BatchClient
) -> None:
    (real,) = make_batches(simulator, 1)

    report = await sim_client.statuses([real, "batch_doesnotexist", real])

    assert list(report.batches) == [real]
    assert report.missing == {"batch_doesnotexist"}
    assert report.requests == 2  # one page, then one retrieve that answers 404
    assert report.retrieved == 1


async def test_no_ids_cost_nothing(sim_client: BatchClient) -> None:
    report = await sim_client.statuses([])
    assert report == type(report)(batches={}, missing=set(), requests=0)
    assert sim_client.requests_made == 0


async def test_an_old_batch_behind_many_new_ones_is_retrieved_not_paged_for(
    simulator: Simulator, sim_client: BatchClient
) -> None:
    (old,) = make_batches(simulator, 1)
    newer = make_batches(simulator, 450, seconds_apart=1)

    report = await sim_client.statuses([old, newer[-1]])

    assert set(report.batches) == {old, newer[-1]}
    # one page found the new batch; paging for a single id costs as much as fetching it
    assert (report.pages, report.retrieved, report.requests) == (1, 1, 2)


async def test_created_after_stops_paging_at_the_oldest_wanted_batch(
    simulator: Simulator, sim_client: BatchClient
) -> None:
    make_batches(simulator, 300, seconds_apart=1)
    floor = int(simulator.now()) + 1
    wanted = make_batches(simulator, 120, seconds_apart=1)
    gone = ["batch_deleted_a", "batch_deleted_b"]

    report = await sim_client.statuses([*wanted, *gone], created_after=floor)

    assert set(report.batches) == set(wanted)
    assert report.missing == set(gone)
    # two pages cover the 120 and reach older batches: no third page, two 404 lookups
    assert (report.pages, report.retrieved, report.requests) == (2, 2, 4)


async def test_statuses_over_a_real_socket(live_sim: LiveSim, live_client: BatchClient) -> None:
    wanted = make_batches(live_sim.simulator, 150)
    served_before = live_sim.simulator.requests_served

    report = await live_client.statuses(wanted)

    assert set(report.batches) == set(wanted)
    assert report.requests == 2 == live_sim.simulator.requests_served - served_before


async def test_a_failed_lookup_raises_its_own_typed_error(
    simulator: Simulator, asgi_http_client: httpx2.AsyncClient
) -> None:
    old = make_batches(simulator, 2)
    make_batches(simulator, 300)
    newest = make_batches(simulator, 10)
    simulator.faults.configure(FaultConfig(server_error_rate=1.0, match=r"^GET /v1/batches/batch_"))
    client = sim_batch_client(asgi_http_client, max_retries=0)

    with pytest.raises(ApiServerError) as caught:
        await client.statuses([*old, *newest])

    assert caught.value.status_code in (500, 503)
    assert "retried on the next poll" in caught.value.hint


async def test_many_newer_batches_of_other_software_cost_pages_not_retrieves(
    simulator: Simulator, sim_client: BatchClient
) -> None:
    ours = make_batches(simulator, 100)
    make_batches(simulator, 400)  # another app's, in the same project, all newer
    served_before = simulator.requests_served

    report = await sim_client.statuses(ours)

    assert set(report.batches) == set(ours)
    assert report.requests == simulator.requests_served - served_before
    assert (report.pages, report.retrieved) == (5, 0)  # 500 batches, 100 a page
    assert report.requests == 5  # one retrieve per batch would have cost 100


async def test_a_few_old_batches_behind_many_new_ones_are_retrieved(
    simulator: Simulator, sim_client: BatchClient
) -> None:
    ours = make_batches(simulator, 4)
    make_batches(simulator, 1000)

    report = await sim_client.statuses(ours)

    assert set(report.batches) == set(ours)
    assert report.requests <= 2 + len(ours)  # a page or two, then one retrieve each
