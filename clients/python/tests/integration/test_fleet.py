"""The Python client and publisher against real `sms-ws serve` nodes and a real nats-server
with the production permissions (clients/testkit/launch-fleet.mjs)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from sms_ws_client import Client, ClientHandler, KickedError, SmsEvent, SmsStatusEvent, StateChanged
from sms_ws_client.publisher import publish_sms_status
from tests.integration.fleet import Fleet

DEADLINE = 30.0


async def wait_live(client: Client) -> None:
    async def poll() -> None:
        items = client.items()
        if client.state == "live":
            return
        async for item in items:
            if isinstance(item, StateChanged) and item.state == "live":
                return

    await asyncio.wait_for(poll(), DEADLINE)


async def collect(client: Client, run: str, count: int, received: list[SmsEvent]) -> None:
    """This run's events (unique messageId prefix per test: other tests share the fleet)."""
    async for event in client:
        if event.message_id.startswith(f"{run}-"):
            received.append(event)
            if len(received) >= count:
                return


async def publish_steadily(fleet: Fleet, run: str, count: int, interval: float) -> None:
    nc = await fleet.producer()
    try:
        for i in range(count):
            await publish_sms_status(nc, {"messageId": f"{run}-{i}", "appId": fleet.info["appId"], "tenantId": fleet.info["tenantId"], "status": "sent"})
            if interval:
                await asyncio.sleep(interval)
    finally:
        await nc.close()


def assert_exactly_once_in_order(received: list[SmsEvent], run: str, count: int) -> None:
    ours = [e for e in received if e.message_id.startswith(f"{run}-")]
    assert [e.message_id for e in ours] == [f"{run}-{i}" for i in range(count)]
    assert len({e.event_id for e in ours}) == count
    seqs = [e.seq for e in ours]
    assert all(s is not None for s in seqs) and seqs == sorted(seqs)  # type: ignore[type-var]


async def test_live_events_with_an_api_key(fleet: Fleet) -> None:
    run = f"live{time.monotonic_ns()}"
    async with Client(fleet.urls[0], api_key=fleet.info["apiKey"]) as client:
        await wait_live(client)
        received: list[SmsEvent] = []
        consumer = asyncio.ensure_future(collect(client, run, 20, received))
        await publish_steadily(fleet, run, 20, 0)
        await asyncio.wait_for(consumer, DEADLINE)
        assert_exactly_once_in_order(received, run, 20)
        first = received[0]
        assert isinstance(first, SmsStatusEvent)
        assert first.tenant_id == fleet.info["tenantId"] and first.app_id == fleet.info["appId"] and first.status == "sent"
        assert client.position is not None and client.position.seq == received[-1].seq


class States(ClientHandler):
    def __init__(self) -> None:
        self.states: list[StateChanged] = []
        self.errors: list[Exception] = []

    async def on_state(self, change: StateChanged) -> None:
        self.states.append(change)

    async def on_error(self, error: Exception) -> None:
        self.errors.append(error)


@pytest.mark.parametrize("ttl", [3, 7])
async def test_a_token_that_expires_mid_stream_loses_nothing(fleet: Fleet, ttl: int) -> None:
    """ttl 3 s: the refresh floor (5 s) comes after exp, so the server closes with 4419 and the
    client reconnects with a fresh token and resumes; ttl 7 s: the client refreshes in band."""
    run = f"tok{ttl}x{time.monotonic_ns()}"
    calls = 0

    async def get_token() -> str:
        nonlocal calls
        calls += 1
        return await fleet.token(ttl)

    handler = States()
    async with Client(fleet.urls[0], get_token=get_token, handler=handler) as client:
        await wait_live(client)
        received: list[SmsEvent] = []
        consumer = asyncio.ensure_future(collect(client, run, 50, received))
        await publish_steadily(fleet, run, 50, 0.2)  # 10 s: past exp at least once
        await asyncio.wait_for(consumer, DEADLINE)
    assert_exactly_once_in_order(received, run, 50)
    assert calls >= 2
    assert handler.errors == []
    closes = [s.close_code for s in handler.states if s.state == "reconnecting"]
    if ttl == 3:
        assert 4419 in closes
    else:
        assert closes == [], "an in-band refresh keeps the socket"


async def test_a_node_sigkilled_mid_stream_every_event_once_in_order(own_fleet: Fleet) -> None:
    run = f"kill{time.monotonic_ns()}"
    handler = States()
    client = Client("ws://unused.invalid/ws", api_key=own_fleet.info["apiKey"], handler=handler, connector=own_fleet.failover_connector(), initial_delay=0.05, max_delay=0.5)
    async with client:
        await wait_live(client)
        received: list[SmsEvent] = []
        consumer = asyncio.ensure_future(collect(client, run, 200, received))
        producer = asyncio.ensure_future(publish_steadily(own_fleet, run, 200, 0.01))
        while len([e for e in received if e.message_id.startswith(run)]) < 50:
            await asyncio.sleep(0.01)
        await own_fleet.acommand("signal", node=0, signal="SIGKILL")
        await asyncio.wait_for(producer, DEADLINE)
        await asyncio.wait_for(consumer, DEADLINE)
    assert_exactly_once_in_order(received, run, 200)
    assert any(s.state == "reconnecting" for s in handler.states)


async def test_a_kick_stops_the_client_with_the_typed_error(fleet: Fleet) -> None:
    client = Client(fleet.urls[1], api_key=fleet.info["apiKey"])
    async with client:
        await wait_live(client)
        kicked = await fleet.acommand("kick", tenant=fleet.info["tenantId"])
        assert kicked["kicked"] >= 1
        with pytest.raises(KickedError) as caught:
            await asyncio.wait_for(client.wait_closed(), DEADLINE)
    assert caught.value.close_code == 4410 and caught.value.code == "KICKED"
    assert client.state == "closed"


async def test_history_page_walk(fleet: Fleet) -> None:
    run = f"hist{time.monotonic_ns()}"
    await publish_steadily(fleet, run, 25, 0)
    client = Client(fleet.urls[0], api_key=fleet.info["apiKey"])  # history needs no socket
    seen: list[Any] = []
    page = await client.history(since="1970-01-01T00:00:00Z", limit=10)
    pages = 1
    while True:
        seen.extend(page.events)
        if page.next is None:
            break
        page = await client.history(after=page.next, limit=10)
        pages += 1
        assert pages < 1000
    ours = [e.message_id for e in seen if e.message_id.startswith(run)]
    assert ours == [f"{run}-{i}" for i in range(25)]
    assert pages >= 3
    seqs = [e.seq or 0 for e in seen]
    assert seqs == sorted(seqs)


async def test_100_clients_through_a_sigkill_and_a_sigterm_drain() -> None:
    """Three nodes, 100 clients spread over them; node 0 is SIGKILLed and node 1 SIGTERMed
    (drained) mid-stream: every client gets every event exactly once, in order."""
    fleet = Fleet(nodes=3)
    try:
        run = f"scale{time.monotonic_ns()}"
        total = 300
        handlers = [States() for _ in range(100)]
        clients = [
            Client("ws://unused.invalid/ws", api_key=fleet.info["apiKey"], handler=h, connector=fleet.failover_connector(start=i), initial_delay=0.1, max_delay=1.0)
            for i, h in enumerate(handlers)
        ]
        received: list[list[SmsEvent]] = [[] for _ in clients]
        for c in clients:
            c.start()
        await asyncio.gather(*(wait_live(c) for c in clients))
        consumers = [asyncio.ensure_future(collect(c, run, total, r)) for c, r in zip(clients, received)]
        producer = asyncio.ensure_future(publish_steadily(fleet, run, total, 0.02))

        async def when_every_client_has(n: int) -> None:
            while min(len(r) for r in received) < n:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(when_every_client_has(60), DEADLINE)
        await fleet.acommand("signal", node=0, signal="SIGKILL")
        await asyncio.wait_for(when_every_client_has(150), DEADLINE)
        term = await fleet.acommand("signal", node=1, signal="SIGTERM")
        assert term["code"] == 0, "the drained node exits cleanly"
        await asyncio.wait_for(producer, DEADLINE)
        await asyncio.wait_for(asyncio.gather(*consumers), 60)
        for r in received:
            assert_exactly_once_in_order(r, run, total)
        moved = sum(1 for h in handlers if any(s.state == "reconnecting" for s in h.states))
        assert moved >= 60, f"only {moved} clients were on the stopped nodes"
        assert all(h.errors == [] for h in handlers)
        await asyncio.gather(*(c.close() for c in clients))
    finally:
        fleet.stop()


async def test_publisher_direct_path_and_msg_id_dedupe(fleet: Fleet) -> None:
    """Direct: core NATS to the live subject, delivered without seq. Durable: the same eventId
    published twice is stored once (Nats-Msg-Id), so the client sees it once."""
    from sms_ws_client.publisher import publish_sms_inbound

    run = f"pub{time.monotonic_ns()}"
    tenant, app = fleet.info["tenantId"], fleet.info["appId"]
    async with Client(fleet.urls[0], api_key=fleet.info["apiKey"]) as client:
        await wait_live(client)
        received: list[SmsEvent] = []
        consumer = asyncio.ensure_future(collect(client, run, 3, received))
        direct = await fleet.producer("directProducer")
        durable = await fleet.producer()
        try:
            first = await publish_sms_status(durable, {"eventId": f"{run}-e1", "messageId": f"{run}-1", "appId": app, "tenantId": tenant, "status": "sent"})
            assert first.subject == f"in.sms.{tenant}.{app}.status"
            # The direct path is at most once (no stream): publish it once the node's live
            # subscription has provably delivered (the first durable event arrived).
            while not received:
                await asyncio.sleep(0.01)
            d = await publish_sms_inbound(direct, {"messageId": f"{run}-0", "tenantId": tenant, "appId": app, "from": "+15550001", "to": "+15550002", "body": "hi"}, direct=True)
            assert d.subject == f"sms.{tenant}.{app}.inbound" and d.seq is None
            again = await publish_sms_status(durable, {"eventId": f"{run}-e1", "messageId": f"{run}-1", "appId": app, "tenantId": tenant, "status": "sent"})
            assert again.seq == first.seq, "the same Nats-Msg-Id is stored once"
            await publish_sms_status(durable, {"messageId": f"{run}-2", "appId": app, "tenantId": tenant, "status": "delivered"})
        finally:
            await direct.close()
            await durable.close()
        await asyncio.wait_for(consumer, DEADLINE)
    assert [e.message_id for e in received] == [f"{run}-1", f"{run}-0", f"{run}-2"]
    assert received[0].seq == first.seq and received[1].seq is None
