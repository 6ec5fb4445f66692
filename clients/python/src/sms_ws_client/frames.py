"""What a server text frame means, as tagged dataclasses (the same decisions as the
TypeScript SDK's parser, checked against the conformance vectors). Unknown types are ignored
(forward compatibility); events missing a required field are ``Invalid``, never delivered."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Union

from .events import SmsEvent, event_from_dict
from .partitions import MAX_PARTITIONS

_MAX_SAFE = 2**53 - 1

_REQUIRED = {
    "sms_status": ("eventId", "messageId", "appId", "tenantId", "status", "timestamp"),
    "sms_inbound": ("eventId", "messageId", "from", "to", "body", "tenantId", "timestamp"),
}
_OPTIONAL = {"sms_status": ("rcMessageId", "error"), "sms_inbound": ("rcMessageId", "appId")}


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class AuthOk:
    epoch: str | None = None
    #: Admin socket on a partitioned stream: one epoch per partition, in partition order.
    epochs: tuple[str, ...] | None = None
    #: Unix seconds: when the connection token expires (token sockets only).
    exp: float | None = None


@dataclass(frozen=True)
class RefreshOk:
    exp: float


@dataclass(frozen=True)
class AuthError:
    error: str


@dataclass(frozen=True)
class ResumedFrame:
    replayed: float


@dataclass(frozen=True)
class ResumeFailedFrame:
    reason: str


@dataclass(frozen=True)
class WatchOk:
    count: int
    ignored: float = 0


@dataclass(frozen=True)
class EventFrame:
    event: SmsEvent


@dataclass(frozen=True)
class Unknown:
    name: str


@dataclass(frozen=True)
class Invalid:
    problem: str


ServerFrame = Union[Ping, AuthOk, RefreshOk, AuthError, ResumedFrame, ResumeFailedFrame, WatchOk, EventFrame, Unknown, Invalid]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _number(v: object) -> float | None:
    """The value as a float when it is a JSON number (not a bool), else None."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v


def _is_number(v: object) -> bool:
    return _number(v) is not None


def _unix_seconds(v: object) -> float | None:
    f = _number(v)
    return f if f is not None and math.isfinite(f) and f > 0 else None


def _is_safe_non_negative_int(v: object) -> bool:
    f = _number(v)
    return f is not None and float(f).is_integer() and 0 <= f <= _MAX_SAFE


def _js_string(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v if isinstance(v, str) else json.dumps(v)


def check_event(o: dict[str, Any]) -> str | None:
    """None when ``o`` is a well-formed event object, else the problem."""
    kind = o.get("type")
    if kind not in _REQUIRED:
        return f"unknown event type {_js_string(kind)}"
    for name in _REQUIRED[kind]:
        if not isinstance(o.get(name), str):
            return f"{kind} without string {name}"
    for name in _OPTIONAL[kind]:
        if name in o and not isinstance(o[name], str):
            return f"{kind} with non-string {name}"
    if "seq" in o and not _is_safe_non_negative_int(o["seq"]):
        return f"{kind} with a seq that is not a non-negative integer"
    if "seq" in o:
        o["seq"] = int(o["seq"])
    return None


def parse_server_frame(text: str) -> ServerFrame:
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError:
        return Invalid("frame is not valid JSON")
    if not isinstance(value, dict):
        return Invalid("frame is not a JSON object")
    o: dict[str, Any] = value
    kind = o.get("type")
    if kind == "ping":
        return Ping()
    if kind == "auth_ok":
        epoch = o.get("epoch")
        return AuthOk(epoch=epoch if isinstance(epoch, str) and epoch else None, epochs=_epochs(o.get("epochs")), exp=_unix_seconds(o.get("exp")))
    if kind == "refresh_ok":
        exp = _unix_seconds(o.get("exp"))
        return RefreshOk(exp) if exp is not None else Invalid("refresh_ok without a numeric exp")
    if kind == "auth_error":
        error = o.get("error")
        return AuthError(error if isinstance(error, str) else "authentication failed")
    if kind == "resumed":
        return ResumedFrame(_number(o.get("replayed")) or 0)
    if kind == "resume_failed":
        reason = o.get("reason")
        return ResumeFailedFrame(reason if isinstance(reason, str) else "unknown")
    if kind == "watch_ok":
        count = o.get("count")
        if not _is_safe_non_negative_int(count):
            return Invalid("watch_ok without a count")
        return WatchOk(int(count), _number(o.get("ignored")) or 0)  # type: ignore[arg-type]
    if kind in ("sms_status", "sms_inbound"):
        problem = check_event(o)
        return Invalid(problem) if problem is not None else EventFrame(event_from_dict(o))
    return Unknown("undefined" if "type" not in o else _js_string(kind))


def _epochs(v: Any) -> tuple[str, ...] | None:
    """All or nothing: a list with one bad entry cannot be matched to partitions."""
    if isinstance(v, list) and 0 < len(v) <= MAX_PARTITIONS and all(isinstance(e, str) and e for e in v):
        return tuple(v)
    return None
