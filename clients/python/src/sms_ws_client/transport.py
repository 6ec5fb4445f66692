"""The narrow socket interface the client uses, and its implementation on ``websockets``.
Tests inject another implementation (a scripted socket) through ``Client(connector=...)``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

#: Largest server frame accepted (events are at most a few KiB).
MAX_FRAME_BYTES = 1 << 20


class TransportClosed(Exception):
    """The socket is gone; ``code`` is the close code (1006 when none was received)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed with {code} {reason}")
        self.code = code
        self.reason = reason


class Transport(Protocol):
    async def send(self, text: str) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self, code: int, reason: str) -> None: ...

    async def abort(self) -> None:
        """Drop the connection at once (a silent, probably dead peer)."""


Connector = Callable[[str], Awaitable[Transport]]


def _closed(err: ConnectionClosed) -> TransportClosed:
    rcvd = err.rcvd
    return TransportClosed(rcvd.code, rcvd.reason) if rcvd is not None else TransportClosed(1006, "")


class WebsocketsTransport:
    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws

    async def send(self, text: str) -> None:
        try:
            await self._ws.send(text)
        except ConnectionClosed as err:
            raise _closed(err) from None

    async def recv(self) -> str | bytes:
        try:
            return await self._ws.recv()
        except ConnectionClosed as err:
            raise _closed(err) from None

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code, reason)

    async def abort(self) -> None:
        self._ws.transport.abort()


async def websockets_connector(url: str) -> Transport:
    """Opens ``url`` with ``websockets`` (bounded frame size and opening time)."""
    ws = await connect(url, max_size=MAX_FRAME_BYTES, open_timeout=10, close_timeout=5)
    return WebsocketsTransport(ws)
