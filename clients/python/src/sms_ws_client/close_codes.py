"""What a client does on each WebSocket close code, from the shipped conformance vectors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .vectors import load_vectors


@dataclass(frozen=True)
class CloseAction:
    """``reconnect`` (after the backoff, resuming) or ``stop`` (give up with ``error``)."""

    kind: Literal["reconnect", "stop"]
    #: With ``stop``: the error code to raise. With ``reconnect``: an error to report, not fatal.
    error: str | None = None
    #: Fetch a fresh token before reconnecting (4419).
    fresh_credential: bool = False


def _action(raw: dict[str, object]) -> CloseAction:
    kind = raw["kind"]
    if kind not in ("reconnect", "stop"):
        raise ValueError(f"unknown close action kind {kind!r} in vectors.json")
    error = raw.get("error")
    return CloseAction(
        kind="stop" if kind == "stop" else "reconnect",
        error=error if isinstance(error, str) else None,
        fresh_credential=raw.get("freshCredential") is True,
    )


def _table() -> tuple[dict[int, CloseAction], dict[str, int], CloseAction, int]:
    v = load_vectors()
    actions = {int(c["code"]): _action(c["action"]) for c in v["closeCodes"]}
    names = {str(c["name"]): int(c["code"]) for c in v["closeCodes"]}
    return actions, names, _action(v["unlistedCloseAction"]), int(v["heartbeatTimeoutClose"])


CLOSE_ACTIONS, CLOSE_CODES, _UNLISTED, HEARTBEAT_TIMEOUT_CLOSE = _table()


def close_action(code: int) -> CloseAction:
    """The action for ``code``; codes not in the table (1006, new ones) reconnect."""
    return CLOSE_ACTIONS.get(code, _UNLISTED)
