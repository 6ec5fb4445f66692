"""History over HTTP (``GET /v1/events``): one page with the client's credential, and the
backfill that pages through what the stream still holds after ``resume_failed`` (retention).
Standard library only: urllib in a worker thread."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from .errors import HistoryError, SmsWsError
from .events import SmsEvent, event_from_dict
from .frames import check_event

#: Bound on the pages one backfill reads (at 1000 events each).
BACKFILL_MAX_PAGES = 1000
#: Bound on one response body read into memory.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class StreamPosition:
    """Where a client is in the stream: store it and pass it back as ``resume_from``."""

    epoch: str
    seq: int

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "seq": self.seq}


@dataclass(frozen=True)
class HistoryFilter:
    types: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    message_ids: Sequence[str] | None = None


@dataclass(frozen=True)
class HistoryPage:
    epoch: str
    #: Oldest first, each with its ``seq``.
    events: list[SmsEvent]
    #: The ``after`` of the following page; None when nothing more exists now.
    next: str | None


@dataclass(frozen=True)
class BackfillResult:
    from_: StreamPosition
    recovered: int
    #: Events of the scope with from_.seq < seq < lost_before.seq were deleted before being read.
    lost_before: StreamPosition | None
    error: SmsWsError | None = field(default=None)


def history_url_of(ws_url: str) -> str:
    """``ws(s)://host/ws`` -> ``http(s)://host/v1/events``; "" when the URL does not parse."""
    try:
        parts = urlsplit(ws_url)
    except ValueError:
        return ""
    if not parts.scheme or not parts.netloc:
        return ""
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "/v1/events", "", ""))


def _iso(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    utc = value.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def history_query_string(
    *,
    after: StreamPosition | str | None = None,
    since: datetime | str | None = None,
    limit: int | None = None,
    filter: HistoryFilter | None = None,
) -> str:
    if after is not None and since is not None:
        raise ValueError("history: give after or since, not both")
    params: list[tuple[str, str]] = []
    if after is not None:
        params.append(("after", after if isinstance(after, str) else f"{after.epoch}:{after.seq}"))
    if since is not None:
        params.append(("since", _iso(since)))
    if limit is not None:
        params.append(("limit", str(limit)))
    if filter is not None:
        if filter.types is not None:
            params.append(("types", ",".join(filter.types)))
        if filter.statuses is not None:
            params.append(("statuses", ",".join(filter.statuses)))
        if filter.message_ids is not None:
            params.append(("messageIds", ",".join(filter.message_ids)))
    return urlencode(params)


def _get(url: str, credential: str, timeout: float) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {credential}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as res:  # noqa: S310 (http/https only)
            return int(res.status), res.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return int(err.code), err.read(64 * 1024).decode("utf-8", "replace")


async def fetch_history_page(url: str, credential: str, query: str, timeout: float = 30.0) -> HistoryPage:
    """One page. Raises HistoryError with the server's status and reason."""
    if not url.startswith(("http://", "https://")):
        raise HistoryError("HISTORY_FAILED", "history: no http(s) endpoint (set history_url)")
    try:
        status, text = await asyncio.to_thread(_get, f"{url}?{query}" if query else url, credential, timeout)
    except (OSError, ValueError) as err:
        raise HistoryError("HISTORY_FAILED", f"history request failed: {err}") from err
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = None
    if status != 200:
        reason = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else text[:200]
        raise HistoryError("HISTORY_FAILED", f"history: HTTP {status}: {reason}", http_status=status)
    if not isinstance(body, dict) or not isinstance(body.get("epoch"), str) or not isinstance(body.get("events"), list):
        raise HistoryError("HISTORY_FAILED", "history: malformed page")
    events: list[SmsEvent] = []
    for o in body["events"]:
        if not isinstance(o, dict) or check_event(o) is not None:
            raise HistoryError("HISTORY_FAILED", "history: malformed event in page")
        events.append(event_from_dict(o))
    nxt = body.get("next")
    return HistoryPage(epoch=body["epoch"], events=events, next=nxt if isinstance(nxt, str) else None)


async def backfill(
    page: Callable[[str], Awaitable[HistoryPage]],
    from_: StreamPosition,
    deliver: Callable[[SmsEvent], Awaitable[bool]],
) -> BackfillResult:
    """Page through everything the stream still holds for the scope, oldest first."""
    recovered = 0
    lost_before: StreamPosition | None = None
    query = history_query_string(since="1970-01-01T00:00:00Z", limit=1000)
    try:
        for _ in range(BACKFILL_MAX_PAGES):
            p = await page(query)
            if p.epoch != from_.epoch:
                raise HistoryError("HISTORY_FAILED", "history: the stream was re-created during the backfill")
            for event in p.events:
                if lost_before is None and event.seq is not None:
                    lost_before = StreamPosition(p.epoch, event.seq)
                if await deliver(event):
                    recovered += 1
            if p.next is None:
                break
            query = history_query_string(after=p.next, limit=1000)
    except SmsWsError as err:
        return BackfillResult(from_, recovered, lost_before, err)
    return BackfillResult(from_, recovered, lost_before)
