"""Client behaviour the scripted sessions do not reach: the heartbeat watchdog, in-band token
refresh, watch()/unwatch() answers, the backfill over HTTP after resume_failed (retention), and
option validation. Real local sockets where there is I/O (an HTTP server on 127.0.0.1:0)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sms_ws_client import BackfillResult, Client, ClientHandler, Filter, SmsWsError, StateChanged
from sms_ws_client.transport import TransportClosed

EPOCH = "2026-01-01T00:00:00.000Z"


def status(event_id: str, seq: int) -> dict[str, Any]:
    return {"type": "sms_status", "eventId": event_id, "messageId": f"m-{event_id}", "appId": "A", "tenantId": "T", "status": "sent", "timestamp": EPOCH, "seq": seq}


class Socket:
    """A socket the test feeds; recv waits for the next frame or close."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str | TransportClosed] = asyncio.Queue()
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.aborted = False
        self.closed_with: int | None = None

    async def send(self, text: str) -> None:
        await self.sent.put(json.loads(text))

    async def recv(self) -> str | bytes:
        item = await self.inbox.get()
        if isinstance(item, TransportClosed):
            raise item
        return item

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = code

    async def abort(self) -> None:
        self.aborted = True

    def push(self, frame: dict[str, Any]) -> None:
        self.inbox.put_nowait(json.dumps(frame))


class Sockets:
    def __init__(self) -> None:
        self.opened: asyncio.Queue[Socket] = asyncio.Queue()

    async def connect(self, url: str) -> Socket:
        s = Socket()
        await self.opened.put(s)
        return s

    async def next(self) -> Socket:
        return await asyncio.wait_for(self.opened.get(), 5)


class Recorder(ClientHandler):
    def __init__(self) -> None:
        self.items: asyncio.Queue[Any] = asyncio.Queue()

    async def on_state(self, change: StateChanged) -> None:
        await self.items.put(change)

    async def on_backfilled(self, result: BackfillResult) -> None:
        await self.items.put(result)

    async def on_error(self, error: SmsWsError) -> None:
        await self.items.put(error)

    async def until(self, predicate: Any) -> Any:
        async def wait() -> Any:
            while True:
                item = await self.items.get()
                if predicate(item):
                    return item

        return await asyncio.wait_for(wait(), 5)


async def test_the_watchdog_drops_a_silent_socket_and_reconnects_with_resume() -> None:
    sockets = Sockets()
    rec = Recorder()
    client = Client("ws://t/ws", api_key="KEY", connector=sockets.connect, handler=rec, ping_interval=0.05, random=lambda: 0.0)
    async with client:
        first = await sockets.next()
        first.push({"type": "auth_ok", "epoch": EPOCH})
        first.push(status("a", 3))
        change = await rec.until(lambda i: isinstance(i, StateChanged) and i.state == "reconnecting")
        assert change.close_code == 4000 and first.aborted
        assert (await first.sent.get()) == {"type": "auth", "apiKey": "KEY"}
        second = await sockets.next()
        auth = await asyncio.wait_for(second.sent.get(), 5)
        assert auth == {"type": "auth", "apiKey": "KEY", "resume": {"epoch": EPOCH, "seq": 3}}


async def test_token_refresh_in_band_before_exp() -> None:
    sockets = Sockets()
    tokens = iter(["tok1", "tok2", "tok3"])
    now = 1_000_000.0

    async def get_token() -> str:
        return next(tokens)

    # When to refresh is plan_refresh's (checked against the vectors); this test checks what is
    # sent, on the same socket, with the next token.
    client = Client("ws://t/ws", get_token=get_token, connector=sockets.connect, ping_interval=0, random=lambda: 0.0, clock=lambda: now)
    async with client:
        s = await sockets.next()
        assert (await s.sent.get())["apiKey"] == "tok1"
        # exp 1 ms ahead: the plan would wait out its 5 s floor; lower the floor to keep the test fast.
        client._conn.refresh_floor_ms = 0  # type: ignore[union-attr]
        s.push({"type": "auth_ok", "epoch": EPOCH, "exp": now + 0.001})
        refresh = await asyncio.wait_for(s.sent.get(), 5)
        assert refresh == {"type": "refresh", "token": "tok2"}
        assert client.state == "live" and sockets.opened.empty(), "refreshed in band, no new socket"
    assert s.closed_with == 1000, "close() sends a close frame"
    assert str(client.state) == "closed"


async def test_watch_and_unwatch_resolve_with_the_servers_count() -> None:
    sockets = Sockets()
    client = Client("ws://t/ws", api_key="KEY", connector=sockets.connect, ping_interval=0, filter=Filter(message_ids=[]))
    async with client:
        s = await sockets.next()
        auth = await s.sent.get()
        assert auth["filter"] == {"messageIds": []}
        s.push({"type": "auth_ok", "epoch": EPOCH})
        pending = asyncio.ensure_future(client.watch(["m1", "m2"]))
        assert await asyncio.wait_for(s.sent.get(), 5) == {"type": "watch", "messageIds": ["m1", "m2"]}
        s.push({"type": "watch_ok", "count": 2})
        assert await asyncio.wait_for(pending, 5) == 2
        pending = asyncio.ensure_future(client.unwatch(["m1", "nope"]))
        assert await asyncio.wait_for(s.sent.get(), 5) == {"type": "unwatch", "messageIds": ["m1"]}
        s.push({"type": "watch_ok", "count": 1})
        assert await asyncio.wait_for(pending, 5) == 1
        # A drop before the answer: the client's own count; the next socket carries the set.
        pending = asyncio.ensure_future(client.watch(["m3"]))
        await asyncio.wait_for(s.sent.get(), 5)
        s.inbox.put_nowait(TransportClosed(1001, "bye"))
        assert await asyncio.wait_for(pending, 5) == 2
        s2 = await sockets.next()
        assert (await s2.sent.get())["filter"] == {"messageIds": ["m2", "m3"]}
    with pytest.raises(ValueError):
        await Client("ws://t/ws", api_key="KEY").watch(["x"])


@pytest.fixture()
def history_server() -> Iterator[tuple[str, list[str]]]:
    """GET /v1/events: two pages of what the stream still holds; records the queries."""
    queries: list[str] = []
    pages = {
        "": {"epoch": EPOCH, "events": [status("b", 8), status("c", 9)], "next": f"{EPOCH}:9"},
        "after": {"epoch": EPOCH, "events": [status("d", 10)], "next": None},
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            queries.append(self.path)
            if self.headers.get("authorization") != "Bearer KEY":
                self.send_response(401)
                self.end_headers()
                self.wfile.write(b'{"error":"Invalid API key"}')
                return
            body = json.dumps(pages["after" if "after=" in self.path else ""]).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/events", queries
    server.shutdown()
    server.server_close()


async def test_backfill_after_resume_failed_retention(history_server: tuple[str, list[str]]) -> None:
    url, queries = history_server
    sockets = Sockets()
    rec = Recorder()
    client = Client("ws://t/ws", api_key="KEY", connector=sockets.connect, handler=rec, ping_interval=0, random=lambda: 0.0, backfill=True, history_url=url)
    async with client:
        events = client.events()
        s = await sockets.next()
        s.push({"type": "auth_ok", "epoch": EPOCH})
        s.push(status("a", 5))
        s.inbox.put_nowait(TransportClosed(1006, ""))
        s2 = await sockets.next()
        s2.push({"type": "auth_ok", "epoch": EPOCH})
        s2.push({"type": "resume_failed", "reason": "retention"})
        s2.push(status("c", 9))  # live, and also in the backfill: delivered once
        result = await rec.until(lambda i: isinstance(i, BackfillResult))
        assert result.recovered == 2 and result.lost_before is not None and result.lost_before.seq == 8 and result.error is None
        got = [await asyncio.wait_for(events.__anext__(), 5) for _ in range(4)]
        assert sorted(e.event_id for e in got) == ["a", "b", "c", "d"]
    assert queries[0].endswith("since=1970-01-01T00%3A00%3A00Z&limit=1000")
    assert "after=" in queries[1]


async def test_history_failure_is_typed(history_server: tuple[str, list[str]]) -> None:
    url, _ = history_server
    client = Client("ws://t/ws", api_key="WRONG", history_url=url)
    with pytest.raises(SmsWsError) as caught:
        await client.history(limit=5)
    assert caught.value.code == "HISTORY_FAILED" and caught.value.http_status == 401


def test_options_are_validated_without_echoing_the_key() -> None:
    with pytest.raises(ValueError):
        Client("ws://t/ws")
    with pytest.raises(ValueError):
        Client("ws://t/ws", api_key="k", get_token=lambda: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError) as caught:
        Client("ws://t/ws", api_key="secret-key", tenant_hint="bad tenant")
    assert "secret-key" not in str(caught.value)
