"""An admin Python client on a partitioned stream (STREAM_PARTITIONS=4, docs/partitioning.md,
"Positions") against a real fleet: the node it is on is SIGKILLed, events published while it has
no socket come back through ``resume.positions`` (one position per partition), every event exactly
once and in order per tenant. Without per-partition positions the resume fails (``epoch``) and the
events published meanwhile are lost, so the test can fail."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from sms_ws_client import Client, ClientHandler, ResumeFailed, Resumed, SmsEvent
from sms_ws_client.partitions import partition_of
from sms_ws_client.publisher import publish_sms_status
from sms_ws_client.transport import Transport, websockets_connector
from tests.integration.fleet import Fleet

K = 4
DEADLINE = 30.0


@pytest.fixture()
def partitioned_fleet() -> Iterator[Fleet]:
    f = Fleet(nodes=2, partitions=K)
    yield f
    f.stop()


class Recorder(ClientHandler):
    def __init__(self) -> None:
        self.events: list[SmsEvent] = []
        self.resumed: list[Resumed] = []
        self.failed: list[ResumeFailed] = []

    async def on_event(self, event: SmsEvent) -> None:
        self.events.append(event)

    async def on_resumed(self, r: Resumed) -> None:
        self.resumed.append(r)

    async def on_resume_failed(self, r: ResumeFailed) -> None:
        self.failed.append(r)


async def until(condition: Callable[[], bool], what: str) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), DEADLINE)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def tenants_of_every_partition() -> list[str]:
    by_partition: list[list[str]] = [[] for _ in range(K)]
    n = 0
    while any(len(ts) < 2 for ts in by_partition):
        tenant = f"Py{n}"
        if len(by_partition[partition_of(tenant, K)]) < 2:
            by_partition[partition_of(tenant, K)].append(tenant)
        n += 1
    return [t for ts in by_partition for t in ts]


async def test_admin_client_resumes_every_partition_exactly_after_a_sigkill(partitioned_fleet: Fleet) -> None:
    fleet = partitioned_fleet
    tenants = tenants_of_every_partition()
    target = {"node": 0}  # what the "load balancer" sends new connections to

    async def connector(url: str) -> Transport:
        return await websockets_connector(fleet.urls[target["node"]])

    rec = Recorder()
    client = Client("ws://unused.invalid/ws", api_key=fleet.info["adminKey"], handler=rec, connector=connector, initial_delay=0.05, max_delay=0.2)
    nc = await fleet.producer()
    published: list[tuple[str, str]] = []

    async def publish_rounds(prefix: str, rounds: int) -> None:
        for _ in range(rounds):
            for tenant in tenants:
                mid = f"{prefix}-{len(published)}"
                await publish_sms_status(nc, {"messageId": mid, "tenantId": tenant, "appId": "app", "status": "sent"})
                published.append((mid, tenant))

    try:
        async with client:
            await until(lambda: client.state == "live", "the client live")
            assert client.positions is None  # no partition has delivered an event yet
            await publish_rounds("before", 3)
            await until(lambda: len(rec.events) >= len(published), "the events before the crash")
            before = client.positions
            assert before is not None and [p.epoch.split("@")[0] for p in before] == [f"p{k}/{K}" for k in range(K)]
            assert client.position is None  # one position cannot describe K partitions

            await fleet.acommand("signal", node=0, signal="SIGKILL")
            await until(lambda: client.state != "live", "the client noticing the crash")
            await publish_rounds("missed", 4)  # stored while the client has no socket
            missed = len(published) - len(rec.events)
            target["node"] = 1

            await until(lambda: bool(rec.resumed or rec.failed), "resumed or resume_failed")
            assert rec.failed == []
            assert rec.resumed == [Resumed(missed, None, tuple(before))]
            await publish_rounds("live", 2)
            await until(lambda: len(rec.events) >= len(published), "every event")

            ids = [e.message_id for e in rec.events]
            assert len(set(ids)) == len(ids) and sorted(ids) == sorted(mid for mid, _ in published)
            for tenant in tenants:
                assert [e.message_id for e in rec.events if e.tenant_id == tenant] == [mid for mid, t in published if t == tenant]
            last = await stream_last_seqs(fleet)
            assert [p.seq for p in client.positions or []] == last
    finally:
        await nc.close()


async def stream_last_seqs(fleet: Fleet) -> list[int]:
    """Each partition stream's last sequence, read with the admin role."""
    admin = await fleet.producer("admin")
    try:
        js = admin.jetstream()
        return [(await js.stream_info(f"SMS_EVENTS_{k}")).state.last_seq for k in range(K)]
    finally:
        await admin.close()


