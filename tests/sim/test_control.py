"""The /_sim control routes let the CLI and the demo script the simulator over HTTP."""

from __future__ import annotations

import httpx2

from batchmon.sim import FaultConfig, Simulator
from tests.fixtures.sim import SIM_API_KEY, LiveSim

from .helpers import tagging_file, upload_and_create

AUTH = {"Authorization": f"Bearer {SIM_API_KEY}"}


async def test_control_routes_over_loopback(live_sim: LiveSim) -> None:
    sim = live_sim.simulator
    batch_id = upload_and_create(sim, tagging_file(4), metadata={"sim_stall_finalizing": "1"})
    async with httpx2.AsyncClient(base_url=live_sim.root_url, headers=AUTH) as http:
        before = sim.now()
        moved = (await http.post("/_sim/clock/advance", json={"seconds": 3600})).json()
        assert moved["now"] == before + 3600
        assert sim.batch(batch_id).status == "finalizing"

        scripted = await http.post(
            f"/_sim/batches/{batch_id}/script", json={"stall_finalizing": False}
        )
        assert scripted.status_code == 200 and scripted.json()["status"] == "completed"

        faults = await http.post("/_sim/faults", json={"seed": 4, "rate_limit_rate": 0.5})
        assert faults.json()["rate_limit_rate"] == 0.5
        assert sim.faults.config == FaultConfig(seed=4, rate_limit_rate=0.5)
        assert (await http.get("/_sim/faults")).json() == faults.json()
        await http.post("/_sim/faults", json={})

        state = (await http.get("/_sim/state")).json()
    assert state["now"] == sim.now()
    assert state["batches"] == [
        {
            "id": batch_id,
            "status": "completed",
            "request_counts": {"total": 4, "completed": 4, "failed": 0},
            "script": sim.batch_script(batch_id).to_dict(),
        }
    ]
    assert state["files"] == 2
    assert state["faults"]["rate_limit_rate"] == 0.0


async def test_script_a_failure_share_mid_flight(simulator: Simulator) -> None:
    batch_id = upload_and_create(simulator, tagging_file(10), metadata={"sim_duration": "10"})
    simulator.advance(10)  # 5 s validating, then 5 of 10 requests done
    simulator.script_batch(batch_id, {"fail_fraction": 1.0})
    simulator.advance(60)
    counts = simulator.batch(batch_id).request_counts
    assert counts is not None and (counts.completed, counts.failed) == (5, 5)
