"""The scripted sessions of the conformance vectors, run on the Python client over a scripted
socket: same frames sent, same events delivered (exactly once), same notices, errors, states
and final position as the TypeScript client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from sms_ws_client import Client, ClientHandler, Filter, ResumeFailed, Resumed, SmsWsError, StateChanged, StreamPosition
from sms_ws_client.events import SmsEvent
from sms_ws_client.transport import TransportClosed

TS_NOW = 1767268800.0  # 2026-01-01T12:00:00Z, the generator's clock


class ScriptSocket:
    def __init__(self, frames: list[str], close: tuple[int, str] | None, quiet: asyncio.Event) -> None:
        self.frames = frames
        self.close_with = close
        self.quiet = quiet
        self.sent: list[Any] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def recv(self) -> str | bytes:
        if self.frames:
            return self.frames.pop(0)
        if self.close_with is not None:
            raise TransportClosed(*self.close_with)
        self.quiet.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self, code: int, reason: str) -> None:
        pass

    async def abort(self) -> None:
        pass


class Recorder(ClientHandler):
    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.notices: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.states: list[str] = []

    async def on_event(self, event: SmsEvent) -> None:
        self.delivered.append(event.event_id)

    async def on_resumed(self, r: Resumed) -> None:
        self.notices.append({"kind": "resumed", "replayed": r.replayed, **_asked(r.from_, r.positions)})

    async def on_resume_failed(self, r: ResumeFailed) -> None:
        n: dict[str, Any] = {"kind": "resumeFailed", "reason": r.reason, **_asked(r.from_, r.positions)}
        if r.disconnected_at is not None:
            n["disconnectedAt"] = r.disconnected_at
        self.notices.append(n)

    async def on_error(self, error: SmsWsError) -> None:
        self.errors.append({"code": error.code, "closeCode": error.close_code, "fatal": error.fatal})

    async def on_state(self, change: StateChanged) -> None:
        self.states.append(change.state)


def _asked(from_: StreamPosition | None, positions: tuple[StreamPosition, ...] | None) -> dict[str, Any]:
    """What the client asked to resume from, in the TS notice's shape: ``from`` or ``positions``."""
    if from_ is not None:
        return {"from": from_.to_json()}
    if positions is not None:
        return {"positions": [p.to_json() for p in positions]}
    return {}


def _groups(script: list[dict[str, Any]]) -> list[tuple[list[str], tuple[int, str] | None]]:
    groups: list[tuple[list[str], tuple[int, str] | None]] = []
    for step in script:
        if step.get("open"):
            groups.append(([], None))
        elif "recv" in step:
            groups[-1][0].append(step["recv"])
        elif "close" in step:
            groups[-1] = (groups[-1][0], (step["close"], step.get("reason", "")))
    return groups


def _options(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "resumeFrom" in raw:
        given = raw["resumeFrom"]
        if isinstance(given, list):  # admin socket on K partitions: all K, in order
            out["resume_from"] = [StreamPosition(p["epoch"], p["seq"]) for p in given]
        else:
            out["resume_from"] = StreamPosition(given["epoch"], given["seq"])
    if "filter" in raw:
        f = raw["filter"]
        out["filter"] = Filter(types=f.get("types"), statuses=f.get("statuses"), message_ids=f.get("messageIds"))
    if "tenantHint" in raw:
        out["tenant_hint"] = raw["tenantHint"]
    assert set(raw) <= {"resumeFrom", "filter", "tenantHint"}, f"unknown session option in the vectors: {raw}"
    return out


async def run_session(session: dict[str, Any]) -> dict[str, Any]:
    quiet = asyncio.Event()
    groups = _groups(session["script"])
    sockets: list[tuple[str, ScriptSocket | None]] = []

    async def connector(url: str) -> ScriptSocket:
        n = len(sockets)
        if n >= len(groups):
            sockets.append((url, None))
            quiet.set()
            await asyncio.Event().wait()  # a socket that never opens
        frames, close = groups[n]
        sock = ScriptSocket(list(frames), close, quiet)
        sockets.append((url, sock))
        return sock

    rec = Recorder()
    client = Client("ws://gateway.test/ws", api_key="KEY", handler=rec, connector=connector, ping_interval=0, random=lambda: 0.0, clock=lambda: TS_NOW, **_options(session["options"]))
    client.start()
    closed = asyncio.ensure_future(client._done.wait())
    await asyncio.wait_for(asyncio.wait([asyncio.ensure_future(quiet.wait()), closed], return_when=asyncio.FIRST_COMPLETED), 5)
    position = client.position
    positions = client.positions
    result = {
        "sockets": [{"url": url, "sent": sock.sent if sock else []} for url, sock in sockets],
        "delivered": list(rec.delivered),
        "notices": list(rec.notices),
        "errors": list(rec.errors),
        "states": list(rec.states),
        "final": {
            "state": client.state,
            "position": position.to_json() if position else None,
            "positions": [p.to_json() for p in positions] if positions else None,
        },
    }
    await client.close()
    closed.cancel()
    return result


def _sessions() -> list[dict[str, Any]]:
    from sms_ws_client.vectors import load_vectors

    sessions: list[dict[str, Any]] = load_vectors()["sessions"]
    return sessions


@pytest.mark.parametrize("session", _sessions(), ids=lambda s: str(s["name"]))
async def test_session(session: dict[str, Any]) -> None:
    got = await run_session(session)
    want = session["expect"]
    for key in ("sockets", "delivered", "notices", "errors", "states", "final"):
        assert got[key] == want[key], f"{session['name']}: {key}"


def test_there_are_sessions_for_every_close_code() -> None:
    from sms_ws_client.close_codes import CLOSE_ACTIONS

    names = {s["name"] for s in _sessions()}
    for code in CLOSE_ACTIONS:
        assert f"close {code}" in names
