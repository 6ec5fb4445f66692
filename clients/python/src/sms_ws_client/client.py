"""Client: one logical subscription to the gateway, kept alive across sockets.

Per socket: [get_token] -> open -> auth (with the resume position when there is one) -> auth_ok
-> [replay -> resumed | resume_failed] -> live. When a socket goes away, the close code decides
(the table in the shipped conformance vectors): reconnect after a full-jitter backoff and resume,
or stop with a typed error. Every event passes through the eventId window, so what a resume
replays never reaches the application twice. Token sockets refresh in band before ``exp``; a
4419 is an ordinary reconnect with a fresh token. The same decisions as the TypeScript SDK,
checked against the same vectors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from .close_codes import HEARTBEAT_TIMEOUT_CLOSE, close_action
from .errors import SmsWsError, error_for
from .events import SmsEvent
from .frames import (
    AuthError,
    AuthOk,
    EventFrame,
    Invalid,
    RefreshOk,
    ResumedFrame,
    ResumeFailedFrame,
    WatchOk,
    parse_server_frame,
)
from .history import (
    HistoryFilter,
    HistoryPage,
    StreamPosition,
    backfill,
    fetch_history_page,
    history_query_string,
    history_url_of,
)
from .items import ClientHandler, Filter, Item, ItemIterator, Resumed, ResumeFailed, State, StateChanged, _End
from .partitions import MAX_PARTITIONS, partition_of
from .policy import MIN_REFRESH_DELAY_MS, EventIdWindow, backoff_delay_ms, is_tenant_id, plan_refresh, routed_url, token_tenant
from .transport import Connector, Transport, TransportClosed, websockets_connector
from .vectors import load_vectors

log = logging.getLogger("sms_ws_client")

GetToken = Callable[[], Awaitable[str]]

_DEFAULTS: dict[str, Any] = load_vectors()["defaults"]
#: Ids in the auth message itself; the rest go in watch frames of FRAME_IDS ids right behind it.
AUTH_IDS = 20
FRAME_IDS = 50


@dataclass
class _Conn:
    transport: Transport
    credential: str
    #: The position(s) sent in this socket's auth message, if it asked to resume.
    resume_from: list[StreamPosition] | None = None
    resume_settled: bool = False
    authenticated: bool = False
    auth_error: str | None = None
    auth_sent: bool = False
    exp_ms: float | None = None
    refresh_floor_ms: int = MIN_REFRESH_DELAY_MS
    refresh_task: asyncio.Task[None] | None = None
    watch_answers: list[asyncio.Future[int] | None] = field(default_factory=list)


class Client:
    """
    ``Client(url, api_key=...)`` (servers) or ``Client(url, get_token=async_fn)`` (short-lived
    tokens minted by your backend). ``async with client:`` runs it; ``async for event in client``
    yields SMS events; ``client.items()`` yields events and state changes, ``handler`` gets them
    as callbacks. Times are in seconds unless the name says ``_ms``.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        get_token: GetToken | None = None,
        handler: ClientHandler | None = None,
        filter: Filter | None = None,
        reconnect: bool = True,
        initial_delay: float = _DEFAULTS["initialDelayMs"] / 1000,
        max_delay: float = _DEFAULTS["maxDelayMs"] / 1000,
        ping_interval: float = _DEFAULTS["pingIntervalMs"] / 1000,
        resume: bool = True,
        resume_from: StreamPosition | Sequence[StreamPosition] | None = None,
        backfill: bool = False,
        history_url: str | None = None,
        dedupe_window: int = _DEFAULTS["dedupeWindow"],
        tenant_hint: str | None = None,
        tenant_slots: int = 1,
        token_timeout: float = _DEFAULTS["tokenTimeoutMs"] / 1000,
        connector: Connector | None = None,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(url, str) or not url:
            raise ValueError("Client: url must be a ws:// or wss:// URL")
        if (api_key is None) == (get_token is None):
            raise ValueError("Client: give exactly one of api_key and get_token")
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            raise ValueError("Client: api_key must be a non-empty string")  # never echo the key
        if initial_delay < 0 or max_delay < initial_delay:
            raise ValueError("Client: need 0 <= initial_delay <= max_delay")
        if ping_interval < 0:
            raise ValueError("Client: ping_interval must be >= 0 (0 disables the watchdog)")
        if dedupe_window < 1:
            raise ValueError("Client: dedupe_window must be >= 1")
        if tenant_hint is not None and not is_tenant_id(tenant_hint):
            raise ValueError("Client: tenant_hint must be a tenant id (1-64 of A-Z a-z 0-9 _ -)")
        if not 1 <= tenant_slots <= 1024:
            raise ValueError("Client: tenant_slots must be 1 to 1024")
        given = None if resume_from is None else [resume_from] if isinstance(resume_from, StreamPosition) else list(resume_from)
        if given is not None and (
            not 0 < len(given) <= MAX_PARTITIONS or not all(isinstance(p, StreamPosition) and p.epoch and p.seq >= 0 for p in given)
        ):
            raise ValueError("Client: resume_from needs a non-empty epoch and seq >= 0 (or a list of 1 to 1024 such positions)")
        self._url = url
        self._api_key = api_key
        self._get_token = get_token
        self._handler = handler or ClientHandler()
        self._filter = filter
        self._watched: dict[str, None] | None = None if filter is None or filter.message_ids is None else dict.fromkeys(filter.message_ids)
        self._reconnect = reconnect
        self._initial_ms = initial_delay * 1000
        self._max_ms = max_delay * 1000
        self._ping_interval = ping_interval
        self._resume = resume
        self._backfill = backfill
        self._history_url = history_url if history_url is not None else history_url_of(url)
        self._seen = EventIdWindow(dedupe_window)
        self._tenant_hint = tenant_hint
        self._tenant_slots = tenant_slots
        self._token_timeout = token_timeout
        self._connector: Connector = connector or websockets_connector
        self._random = random
        self._clock = clock

        self._state: State = "connecting"
        self._epoch: str | None = given[0].epoch if given and len(given) == 1 else None
        self._last_seq: int | None = given[0].seq if given and len(given) == 1 else None
        # Admin sockets on a partitioned stream (auth_ok with epochs): one epoch and last seq per
        # partition, in partition order; _epoch and _last_seq are then unused.
        self._epochs: list[str] | None = [p.epoch for p in given] if given and len(given) > 1 else None
        self._seqs: list[int | None] = [p.seq for p in given] if given and len(given) > 1 else []
        self._conn: _Conn | None = None
        self._attempt = 0
        self._ever_authenticated = False
        self._disconnected_at: float | None = None
        self._queues: set[asyncio.Queue[Item | _End]] = set()
        self._task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._closed = False
        self._fatal: SmsWsError | None = None
        self._done = asyncio.Event()

    # ---- public surface ---------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def epoch(self) -> str | None:
        return self._epoch

    @property
    def last_seq(self) -> int | None:
        return self._last_seq

    @property
    def position(self) -> StreamPosition | None:
        """Store it and pass it back as ``resume_from``; None until epoch and seq are known, and
        on an admin client of a partitioned stream (see ``positions``)."""
        if self._epoch is None or self._last_seq is None:
            return None
        return StreamPosition(self._epoch, self._last_seq)

    @property
    def positions(self) -> list[StreamPosition] | None:
        """Where the client is, as a list to store and pass back as ``resume_from``: ``[position]``
        on one stream; on a partitioned stream (admin) one position per partition, in partition
        order, None until every partition has delivered an event (only then is a resume exact)."""
        if self._epochs is None:
            one = self.position
            return None if one is None else [one]
        out: list[StreamPosition] = []
        for epoch, seq in zip(self._epochs, self._seqs):
            if seq is None:
                return None
            out.append(StreamPosition(epoch, seq))
        return out

    @property
    def error(self) -> SmsWsError | None:
        """The fatal error the client stopped with, if any."""
        return self._fatal

    def start(self) -> None:
        """Starts connecting (``async with`` does it for you). Idempotent."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sms_ws_client")

    async def __aenter__(self) -> Client:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def items(self) -> ItemIterator:
        """Everything from now on: events, StateChanged, Resumed, ResumeFailed, BackfillResult."""
        return ItemIterator(self._queues, _End(self._fatal) if self._closed else None, only_events=False)

    def events(self) -> AsyncIterator[SmsEvent]:
        """The SMS events from now on; raises the fatal error (a typed SmsWsError) at the end."""
        return ItemIterator(self._queues, _End(self._fatal) if self._closed else None, only_events=True)

    def __aiter__(self) -> AsyncIterator[SmsEvent]:
        return self.events()

    async def wait_closed(self) -> None:
        """Returns when the client is closed; raises its fatal error if it stopped on one."""
        await self._done.wait()
        if self._fatal is not None:
            raise self._fatal

    async def close(self) -> None:
        """Closes the socket (1000), stops reconnecting, ends every iterator. Idempotent."""
        self._closing = True
        task = self._task
        if task is None:
            self._finish(None)
            return
        if task is asyncio.current_task():
            return  # called from a handler: the run loop ends when the handler returns
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def watch(self, message_ids: Sequence[str]) -> int:
        """Follow these messages too; returns the count the server follows (or the client's own)."""
        return await self._change_watch("watch", message_ids)

    async def unwatch(self, message_ids: Sequence[str]) -> int:
        return await self._change_watch("unwatch", message_ids)

    async def history(
        self,
        *,
        after: StreamPosition | str | None = None,
        since: datetime | str | None = None,
        limit: int | None = None,
        filter: HistoryFilter | None = None,
    ) -> HistoryPage:
        """One page of ``GET /v1/events`` with this client's credential (a fresh token for token clients)."""
        query = history_query_string(after=after, since=since, limit=limit, filter=filter)
        return await self._history_page(query)

    # ---- the run loop -----------------------------------------------------------------------

    async def _run(self) -> None:
        error: SmsWsError | None = None
        try:
            while not self._closing:
                credential = await self._credential()
                if credential is None:
                    if not self._reconnect:
                        error = SmsWsError("TOKEN_FETCH_FAILED", "get_token failed", fatal=True)
                        return
                    await self._sleep_backoff({})
                    continue
                tenant = self._tenant_hint or (token_tenant(credential) if self._get_token else None)
                url = routed_url(self._url, tenant, self._tenant_slots, self._random())
                await self._set_state("connecting")
                auth_error: str | None = None
                try:
                    transport = await self._connector(url)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # noqa: BLE001 - any failure to open is a 1006
                    if _is_bad_url(err):
                        error = SmsWsError("CONNECT_FAILED", f"cannot open a WebSocket to {self._url}: {err}", fatal=True)
                        return
                    log.info("connect failed: %s", type(err).__name__)
                    code, reason, authenticated = 1006, "", False
                else:
                    conn = _Conn(transport, credential)
                    code, reason = await self._session(conn)
                    authenticated = conn.authenticated
                    if self._closing:
                        return
                    if authenticated and self._disconnected_at is None:
                        self._disconnected_at = self._clock()
                    auth_error = conn.auth_error
                action = close_action(code)
                details: dict[str, Any] = {"close_code": code}
                if reason:
                    details["close_reason"] = reason
                if action.kind == "stop":
                    message = auth_error or reason or f"server closed the connection with code {code}"
                    error = error_for(action.error or "CONNECT_FAILED", message, close_code=code, fatal=True)
                    await self._shutdown(error, details)
                    return
                if action.error is not None:
                    await self._emit_error(SmsWsError(action.error, reason or f"connection closed with code {code}", close_code=code))
                if not self._reconnect:
                    await self._shutdown(None, details)
                    return
                await self._sleep_backoff(details)
        except asyncio.CancelledError:
            pass
        finally:
            await self._cleanup()
            if not self._closed:
                await self._shutdown(error, {})

    async def _sleep_backoff(self, details: dict[str, Any]) -> None:
        delay_ms = backoff_delay_ms(self._attempt, self._initial_ms, self._max_ms, self._random())
        self._attempt += 1
        await self._set_state("reconnecting", attempt=self._attempt, delay_ms=delay_ms, **details)
        await asyncio.sleep(delay_ms / 1000)

    async def _credential(self) -> str | None:
        if self._api_key is not None:
            return self._api_key
        await self._set_state("connecting")
        try:
            return await self._fetch_token()
        except SmsWsError as err:
            await self._emit_error(err)
            return None

    async def _fetch_token(self) -> str:
        assert self._get_token is not None
        try:
            token = await asyncio.wait_for(self._get_token(), self._token_timeout)
        except asyncio.CancelledError:
            raise
        except asyncio.TimeoutError:
            raise SmsWsError("TOKEN_FETCH_FAILED", f"get_token did not answer within {self._token_timeout} s") from None
        except Exception as err:  # noqa: BLE001 - the application's callback
            raise SmsWsError("TOKEN_FETCH_FAILED", f"get_token failed: {err}") from err
        if not isinstance(token, str) or not token:
            raise SmsWsError("TOKEN_FETCH_FAILED", "get_token returned no token (expected a non-empty string)")
        return token

    async def _session(self, conn: _Conn) -> tuple[int, str]:
        """One socket's life; returns its close code and reason."""
        self._conn = conn
        t = conn.transport
        try:
            conn.resume_from = self.positions if self._resume else None
            auth: dict[str, Any] = {"type": "auth", "apiKey": conn.credential}
            if conn.resume_from is not None:
                vector = [p.to_json() for p in conn.resume_from]
                auth["resume"] = {"positions": vector} if self._epochs is not None else vector[0]
            watch_frames: list[str] = []
            if self._filter is not None:
                if self._watched is not None:
                    ids = list(self._watched)
                    auth["filter"] = self._filter.to_json(ids[:AUTH_IDS])
                    watch_frames = _frames("watch", ids[AUTH_IDS:])
                else:
                    auth["filter"] = self._filter.to_json()
            await t.send(json.dumps(auth))
            conn.auth_sent = True
            for frame in watch_frames:
                await t.send(frame)
                conn.watch_answers.append(None)
            await self._set_state("resuming" if conn.resume_from else "authenticating")
            limit = 2 * self._ping_interval if self._ping_interval > 0 else None
            while not self._closing:
                try:
                    data = await asyncio.wait_for(t.recv(), limit)
                except asyncio.TimeoutError:
                    # Two ping intervals without a frame: the peer or the path is dead.
                    await t.abort()
                    return HEARTBEAT_TIMEOUT_CLOSE, "heartbeat timeout"
                if isinstance(data, str):
                    await self._on_frame(conn, data)
            await _close_quietly(t)
            return 1000, "client closed"
        except TransportClosed as closed:
            return closed.code, closed.reason
        except asyncio.CancelledError:
            await _close_quietly(t)
            raise
        finally:
            self._conn = None
            _cancel(conn.refresh_task)
            self._settle_watches(conn)

    async def _on_frame(self, conn: _Conn, text: str) -> None:
        frame = parse_server_frame(text)
        if isinstance(frame, EventFrame):
            await self._deliver(frame.event)
        elif isinstance(frame, AuthOk):
            if conn.authenticated:
                return
            if frame.exp is not None and self._get_token is not None:
                self._schedule_refresh(conn, frame.exp * 1000)
            await self._on_auth_ok(conn, frame.epoch, frame.epochs)
        elif isinstance(frame, RefreshOk):
            if conn.authenticated and self._get_token is not None:
                self._schedule_refresh(conn, frame.exp * 1000)
        elif isinstance(frame, AuthError):
            conn.auth_error = frame.error
        elif isinstance(frame, ResumedFrame):
            if conn.resume_from is None or conn.resume_settled:
                return
            conn.resume_settled = True
            self._disconnected_at = None
            one, vector = _asked(conn.resume_from)
            await self._publish(Resumed(frame.replayed, one, vector), self._handler.on_resumed)
            await self._set_state("live")
        elif isinstance(frame, ResumeFailedFrame):
            if conn.resume_from is None or conn.resume_settled:
                return
            await self._resume_failed(conn, frame.reason)
        elif isinstance(frame, WatchOk):
            if conn.watch_answers:
                answer = conn.watch_answers.pop(0)
                if answer is not None and not answer.done():
                    answer.set_result(frame.count)
        elif isinstance(frame, Invalid):
            await self._emit_error(SmsWsError("INVALID_FRAME", f"dropped a server frame: {frame.problem}"))
        # Ping and Unknown (forward compatibility): nothing to do.

    async def _on_auth_ok(self, conn: _Conn, epoch: str | None, epochs: tuple[str, ...] | None) -> None:
        conn.authenticated = True
        self._attempt = 0
        if epochs is not None:
            # Admin socket on K partitions: a partition whose epoch changed (or a changed K)
            # loses its position, the others keep theirs.
            old = self._epochs
            same = old is not None and len(old) == len(epochs)
            self._seqs = [self._seqs[i] if same and old is not None and old[i] == e else None for i, e in enumerate(epochs)]
            self._epochs = list(epochs)
            self._epoch = self._last_seq = None
        elif epoch is not None and epoch != self._epoch:
            # A new stream incarnation: sequences of the old one mean nothing in it.
            if self._epoch is not None:
                self._last_seq = None
            self._epoch = epoch
            self._epochs = None
        is_reconnect = self._ever_authenticated
        self._ever_authenticated = True
        if conn.resume_from is not None:
            # No epoch: this node has no durable stream, so no replay and no resumed/resume_failed.
            if epoch is None and epochs is None:
                await self._resume_failed(conn, "unavailable")
            return
        if is_reconnect and self._resume:
            await self._resume_failed(conn, "no_position")
            return
        self._disconnected_at = None
        await self._set_state("live")

    async def _resume_failed(self, conn: _Conn, reason: str) -> None:
        conn.resume_settled = True
        disconnected = None if self._disconnected_at is None else _iso(self._disconnected_at)
        self._disconnected_at = None
        one, vector = _asked(conn.resume_from)
        failure = ResumeFailed(reason, one, disconnected, vector)
        await self._publish(failure, self._handler.on_resume_failed)
        await self._set_state("live")
        if reason == "retention" and self._backfill and one is not None:
            self._spawn(self._run_backfill(one))

    async def _run_backfill(self, from_: StreamPosition) -> None:
        async def deliver(event: SmsEvent) -> bool:
            if self._closed or event.event_id in self._seen:
                return False
            await self._deliver(event)
            return True

        result = await backfill(self._history_page, from_, deliver)
        if not self._closed:
            await self._publish(result, self._handler.on_backfilled)

    async def _history_page(self, query: str) -> HistoryPage:
        secret = self._api_key if self._api_key is not None else await self._fetch_token()
        return await fetch_history_page(self._history_url, secret, query)

    async def _deliver(self, event: SmsEvent) -> None:
        if not self._seen.add(event.event_id):
            return  # a duplicate (typically replayed after a resume)
        seq = event.seq
        if seq is not None:
            if self._epochs is None:
                if self._last_seq is None or seq > self._last_seq:
                    self._last_seq = seq
            else:
                k = partition_of(event.tenant_id, len(self._epochs))
                last = self._seqs[k]
                if last is None or seq > last:
                    self._seqs[k] = seq
        await self._publish(event, self._handler.on_event)

    # ---- token refresh ------------------------------------------------------------------------

    def _schedule_refresh(self, conn: _Conn, exp_ms: float) -> None:
        _cancel(conn.refresh_task)
        conn.exp_ms = exp_ms
        delay_ms, conn.refresh_floor_ms = plan_refresh(exp_ms, self._clock() * 1000, conn.refresh_floor_ms, self._random())
        conn.refresh_task = asyncio.get_running_loop().create_task(self._refresh(conn, delay_ms))

    async def _refresh(self, conn: _Conn, delay_ms: int) -> None:
        """Fetches the next token and sends it on the same socket; refresh_ok schedules the next."""
        await asyncio.sleep(delay_ms / 1000)
        failures = 0
        while self._conn is conn and not self._closing:
            try:
                token = await self._fetch_token()
            except SmsWsError as err:
                await self._emit_error(SmsWsError(err.code, f"while refreshing: {err}"))
                left_ms = (conn.exp_ms or 0) - self._clock() * 1000
                if left_ms <= 0:
                    return  # the server's 4419 brings a reconnect, which asks get_token again
                retry = backoff_delay_ms(failures, _DEFAULTS["tokenRetryInitialDelayMs"], _DEFAULTS["tokenRetryMaxDelayMs"], self._random())
                failures += 1
                await asyncio.sleep(min(retry, left_ms) / 1000)
                continue
            if self._conn is conn:
                with contextlib.suppress(TransportClosed):
                    await conn.transport.send(json.dumps({"type": "refresh", "token": token}))
            return

    # ---- watches ------------------------------------------------------------------------------

    async def _change_watch(self, kind: Literal["watch", "unwatch"], message_ids: Sequence[str]) -> int:
        watched = self._watched
        if watched is None:
            raise ValueError(f"Client.{kind} needs a filter with message_ids (e.g. Filter(message_ids=[]))")
        if isinstance(message_ids, str) or not all(isinstance(i, str) and i for i in message_ids):
            raise ValueError(f"Client.{kind}: message_ids must be a sequence of non-empty strings")
        if kind == "watch":
            changed = [i for i in dict.fromkeys(message_ids) if i not in watched]
            watched.update(dict.fromkeys(changed))
        else:
            changed = [i for i in dict.fromkeys(message_ids) if i in watched]
            for i in changed:
                del watched[i]
        conn = self._conn
        if not changed or conn is None or not conn.auth_sent or self._closed:
            return len(watched)
        frames = _frames(kind, changed)
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        try:
            for n, frame in enumerate(frames):
                conn.watch_answers.append(answer if n == len(frames) - 1 else None)
                await conn.transport.send(frame)
        except TransportClosed:
            return len(watched)  # the next socket carries the set
        return await answer

    def _settle_watches(self, conn: _Conn) -> None:
        for answer in conn.watch_answers:
            if answer is not None and not answer.done():
                answer.set_result(len(self._watched or ()))
        conn.watch_answers.clear()

    # ---- emitting and shutting down -----------------------------------------------------------

    async def _set_state(self, state: State, **details: Any) -> None:
        if state == self._state:
            return
        change = StateChanged(state=state, previous=self._state, **details)
        self._state = state
        log.debug("state %s -> %s (close code %s)", change.previous, state, change.close_code)
        await self._publish(change, self._handler.on_state)

    async def _publish(self, item: Item, callback: Callable[[Any], Awaitable[None]]) -> None:
        """Iterators first, then the handler."""
        for queue in self._queues:
            queue.put_nowait(item)
        try:
            await callback(item)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - the application's handler
            await self._emit_error(SmsWsError("LISTENER_FAILED", f"a handler raised: {err!r}"))

    async def _emit_error(self, error: SmsWsError) -> None:
        try:
            await self._handler.on_error(error)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001
            log.exception("on_error raised")

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _cleanup(self) -> None:
        conn = self._conn
        self._conn = None
        if conn is not None:
            _cancel(conn.refresh_task)
            self._settle_watches(conn)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.transport.close(1000, "client closed"), 5)
        for task in list(self._side_tasks):
            if task is not asyncio.current_task():
                task.cancel()

    async def _shutdown(self, error: SmsWsError | None, details: dict[str, Any]) -> None:
        if self._closed:
            return
        self._closed = True
        self._fatal = error
        if error is not None:
            log.warning("client stopped: %s (close code %s)", error.code, error.close_code)
        with contextlib.suppress(Exception):
            await self._set_state("closed", **({"error": error} if error else {}), **details)
            if error is not None:
                await self._emit_error(error)
        self._finish(error)

    def _finish(self, error: SmsWsError | None) -> None:
        self._closed = True
        for queue in list(self._queues):
            queue.put_nowait(_End(error))
        self._queues.clear()
        self._done.set()


def _asked(from_: list[StreamPosition] | None) -> tuple[StreamPosition | None, tuple[StreamPosition, ...] | None]:
    """What a resumed/resume_failed notice says the client asked for: one position, or all K."""
    if from_ is None:
        return None, None
    return (from_[0], None) if len(from_) == 1 else (None, tuple(from_))


def _frames(kind: str, ids: Sequence[str]) -> list[str]:
    return [json.dumps({"type": kind, "messageIds": list(ids[i : i + FRAME_IDS])}) for i in range(0, len(ids), FRAME_IDS)]


async def _close_quietly(t: Transport) -> None:
    """Close frame 1000, bounded in time; a socket already gone is fine."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(t.close(1000, "client closed"), 5)


def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None and task is not asyncio.current_task():
        task.cancel()


def _iso(seconds: float) -> str:
    t = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _is_bad_url(err: Exception) -> bool:
    from websockets.exceptions import InvalidURI

    return isinstance(err, InvalidURI)
