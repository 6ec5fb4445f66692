"""What the client hands the application: filters in, and out the items (events, state changes,
resume outcomes, backfill results) through handlers and async iterators."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union

from .errors import SmsWsError
from .events import SmsEvent, SmsInboundEvent, SmsStatusEvent
from .history import BackfillResult, StreamPosition

State = Literal["connecting", "authenticating", "resuming", "live", "reconnecting", "closed"]


@dataclass(frozen=True)
class Filter:
    """Server-side filter; absent fields do not narrow. ``message_ids`` ([] for none yet) enables watch()."""

    types: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    message_ids: Sequence[str] | None = None

    def to_json(self, message_ids: Sequence[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.types is not None:
            out["types"] = list(self.types)
        if self.statuses is not None:
            out["statuses"] = list(self.statuses)
        ids = message_ids if message_ids is not None else self.message_ids
        if ids is not None:
            out["messageIds"] = list(ids)
        return out


@dataclass(frozen=True)
class StateChanged:
    state: State
    previous: State
    close_code: int | None = None
    close_reason: str | None = None
    #: With ``reconnecting``: reconnects in a row (1 = first) and the delay chosen.
    attempt: int | None = None
    delay_ms: int | None = None
    #: With ``closed`` after a fatal close code.
    error: SmsWsError | None = None


@dataclass(frozen=True)
class Resumed:
    """The replay after a reconnect is complete (duplicates the client dropped are counted)."""

    replayed: float
    #: The position resumed from (one stream); None when ``positions`` is set.
    from_: StreamPosition | None = None
    #: Admin client on a partitioned stream: the positions resumed from, one per partition.
    positions: tuple[StreamPosition, ...] | None = None


@dataclass(frozen=True)
class ResumeFailed:
    """Events may have been missed: ``retention``, ``epoch``, ``limit``, ``unavailable`` or ``no_position``."""

    reason: str
    from_: StreamPosition | None = None
    #: When the last live connection was lost (ISO 8601), if there was one.
    disconnected_at: str | None = None
    #: Admin client on a partitioned stream: the positions it asked to resume from.
    positions: tuple[StreamPosition, ...] | None = None


Item = Union[SmsEvent, StateChanged, Resumed, ResumeFailed, BackfillResult]


class ClientHandler:
    """Override the callbacks you need; each is awaited in order, on the client's task."""

    async def on_event(self, event: SmsEvent) -> None:
        pass

    async def on_state(self, change: StateChanged) -> None:
        pass

    async def on_resumed(self, resumed: Resumed) -> None:
        pass

    async def on_resume_failed(self, failed: ResumeFailed) -> None:
        pass

    async def on_backfilled(self, result: BackfillResult) -> None:
        pass

    async def on_error(self, error: SmsWsError) -> None:
        pass


class _End:
    def __init__(self, error: SmsWsError | None) -> None:
        self.error = error


class ItemIterator:
    """One consumer's buffer: everything from its creation on; ends when the client closes,
    raising the fatal error (if any) after the last item."""

    def __init__(self, queues: set[asyncio.Queue[Item | _End]], ended: _End | None, only_events: bool) -> None:
        self._queues = queues
        self._only_events = only_events
        self._queue: asyncio.Queue[Item | _End] = asyncio.Queue()
        self._done = False
        if ended is not None:
            self._queue.put_nowait(ended)
        else:
            queues.add(self._queue)

    def __aiter__(self) -> ItemIterator:
        return self

    async def __anext__(self) -> Any:
        while not self._done:
            item = await self._queue.get()
            if isinstance(item, _End):
                self._done = True
                self._queues.discard(self._queue)
                if item.error is not None:
                    raise item.error
                break
            if not self._only_events or isinstance(item, (SmsStatusEvent, SmsInboundEvent)):
                return item
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self._done = True
        self._queues.discard(self._queue)
