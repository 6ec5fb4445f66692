"""The pure decisions of the SDK against the conformance vectors generated from the TS sources."""

from __future__ import annotations

import dataclasses
from typing import Any

from tests.conftest import REPO_VECTORS
from sms_ws_client import close_action
from sms_ws_client.client import _frames
from sms_ws_client.close_codes import HEARTBEAT_TIMEOUT_CLOSE
from sms_ws_client.frames import EventFrame, ServerFrame, parse_server_frame
from sms_ws_client.history import StreamPosition, history_query_string, history_url_of, HistoryFilter
from sms_ws_client.policy import EventIdWindow, backoff_delay_ms, plan_refresh, routed_url, token_tenant
from sms_ws_client.vectors import load_vectors

_FRAME_TYPES = {
    "Ping": "ping",
    "AuthOk": "auth_ok",
    "RefreshOk": "refresh_ok",
    "AuthError": "auth_error",
    "ResumedFrame": "resumed",
    "ResumeFailedFrame": "resume_failed",
    "WatchOk": "watch_ok",
    "EventFrame": "event",
    "Unknown": "unknown",
    "Invalid": "invalid",
}


def as_wire(frame: ServerFrame) -> dict[str, Any]:
    """The parsed frame in the vectors' (TypeScript) shape."""
    out: dict[str, Any] = {"type": _FRAME_TYPES[type(frame).__name__]}
    if isinstance(frame, EventFrame):
        out["event"] = frame.event.raw
        return out
    for f in dataclasses.fields(frame):
        value = getattr(frame, f.name)
        if value is not None:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def test_shipped_copy_equals_the_generated_vectors() -> None:
    assert load_vectors() == __import__("json").loads(REPO_VECTORS.read_text(encoding="utf-8"))


def test_every_close_code(vectors: dict[str, Any]) -> None:
    assert vectors["closeCodes"], "no close codes in the vectors"
    for c in vectors["closeCodes"]:
        a = close_action(c["code"])
        want = c["action"]
        assert a.kind == want["kind"], c
        assert a.error == want.get("error"), c
        assert a.fresh_credential == (want.get("freshCredential") is True), c
    for r in vectors["refusals"]:
        assert close_action(r["code"]).kind == r["action"]["kind"], r
    assert close_action(1006).kind == vectors["unlistedCloseAction"]["kind"]
    assert HEARTBEAT_TIMEOUT_CLOSE == vectors["heartbeatTimeoutClose"]


def test_server_frames(vectors: dict[str, Any]) -> None:
    for f in vectors["serverFrames"]:
        assert as_wire(parse_server_frame(f["frame"])) == f["parsed"], f["name"]


def test_backoff_and_refresh(vectors: dict[str, Any]) -> None:
    for b in vectors["backoff"]:
        assert backoff_delay_ms(b["attempt"], b["initialDelayMs"], b["maxDelayMs"], b["random"]) == b["delayMs"], b
    for r in vectors["refresh"]:
        delay, floor = plan_refresh(r["expMs"], r["nowMs"], r["floorMs"], r["random"])
        assert {"delayMs": delay, "nextFloorMs": floor} == r["plan"], r


def test_routing(vectors: dict[str, Any]) -> None:
    for t in vectors["routing"]["tokenTenant"]:
        assert token_tenant(t["token"]) == t["tenantId"], t
    for r in vectors["routing"]["routedUrl"]:
        assert routed_url(r["url"], r["tenantId"], r["slots"], r["random"]) == r["routed"], r


def test_dedupe_window(vectors: dict[str, Any]) -> None:
    d = vectors["dedupe"]
    w = EventIdWindow(d["capacity"])
    assert [w.add(i) for i in d["ids"]] == d["added"]
    assert len(w) <= d["capacity"]


def test_history_urls_and_queries(vectors: dict[str, Any]) -> None:
    h = vectors["history"]
    for u in h["urls"]:
        assert history_url_of(u["ws"]) == u["http"], u
    for q in h["queries"]:
        query = q["query"]
        after = query.get("after")
        f = query.get("filter")
        got = history_query_string(
            after=StreamPosition(after["epoch"], after["seq"]) if isinstance(after, dict) else after,
            since=query.get("since"),
            limit=query.get("limit"),
            filter=HistoryFilter(f.get("types"), f.get("statuses"), f.get("messageIds")) if f else None,
        )
        assert got == q["queryString"], q
    start = h["backfillStart"]
    assert history_query_string(since=start["since"], limit=start["limit"]) == "since=1970-01-01T00%3A00%3A00Z&limit=1000"


def test_watch_frames(vectors: dict[str, Any]) -> None:
    w = vectors["watchFrames"]
    assert [__import__("json").loads(f) for f in _frames("watch", [f"m{i}" for i in range(w["ids"])])] == [__import__("json").loads(f) for f in w["watch"]]
    assert [__import__("json").loads(f) for f in _frames("unwatch", ["m1"])] == [__import__("json").loads(f) for f in w["unwatch"]]


def test_version_is_shared_with_the_typescript_sdk(vectors: dict[str, Any]) -> None:
    import re
    from pathlib import Path

    import sms_ws_client

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^version = "([^"]+)"$', text, re.MULTILINE)
    assert found is not None
    assert found.group(1) == sms_ws_client.__version__ == vectors["sdkVersion"]
