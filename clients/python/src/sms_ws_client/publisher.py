"""The producer side of the bus contract, for the SMS platform's own services (the same as the
TypeScript ``sms-ws-gateway/publisher``, byte for byte on the conformance vectors):

    nc = await nats.connect(servers, user=..., password=..., inbox_prefix=...)
    await publish_sms_status(nc, {"messageId": "m1", "appId": "a1", "tenantId": "t1", "status": "sent"})

Events are validated with the gateway's rules (what passes here, no node drops), ``eventId`` and
``timestamp`` filled in when absent, packed as plain MessagePack (no extensions), and published on
the durable path (JetStream, acknowledged, ``Nats-Msg-Id`` = eventId for de-duplication) unless
``direct=True`` (core NATS to the live subject: no stream, no seq, no resume).
Needs the ``publisher`` extra: ``pip install sms-ws-client[publisher]``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import msgpack

from .vectors import load_vectors

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Longest value of each field, in UTF-16 code units (as the gateway counts them).
EVENT_FIELD_MAX_LENGTH: dict[str, int] = dict(load_vectors()["publisher"]["fieldMaxLength"])
TENANT_WIDE_APP = "_"
_UNSAFE_TEXT = re.compile("[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]")
_KIND = {"sms_status": "status", "sms_inbound": "inbound"}


class InvalidEventError(ValueError):
    """The event breaks the bus contract; ``reason`` is the label a node would count."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Published:
    event: dict[str, Any]
    subject: str
    #: Stream sequence (durable path only).
    seq: int | None = None


def _utf16_len(v: str) -> int:
    return len(v.encode("utf-16-le", "surrogatepass")) // 2


def _present(o: Mapping[str, Any], name: str) -> str:
    v = o.get(name)
    if not isinstance(v, str):
        raise InvalidEventError("missing_field", f"{name} must be a string")
    if _utf16_len(v) > EVENT_FIELD_MAX_LENGTH[name]:
        raise InvalidEventError("too_large", f"{name} is longer than {EVENT_FIELD_MAX_LENGTH[name]} characters")
    return v


def _safe(name: str, v: str) -> str:
    if _UNSAFE_TEXT.search(v):
        raise InvalidEventError("bad_value", f"{name} contains a control or bidi-override character")
    return v


def _required(o: Mapping[str, Any], name: str) -> str:
    v = o.get(name)
    if not isinstance(v, str) or not v:
        raise InvalidEventError("missing_field", f"{name} must be a non-empty string")
    return _safe(name, _present(o, name))


def _optional(o: Mapping[str, Any], name: str) -> str | None:
    if o.get(name) is None:
        return None
    return _safe(name, _present(o, name))


def _id(o: Mapping[str, Any], name: str) -> str:
    v = o.get(name)
    if not isinstance(v, str) or not v:
        raise InvalidEventError("missing_field", f"{name} must be a non-empty string")
    _present(o, name)
    if not ID_PATTERN.match(v) or v.endswith("\n"):
        raise InvalidEventError("bad_id", f"{name} must match {ID_PATTERN.pattern}")
    return v


def _timestamp(o: Mapping[str, Any]) -> str:
    v = _required(o, "timestamp")
    try:
        datetime.fromisoformat(v[:-1] + "+00:00" if v.endswith("Z") else v)
    except ValueError:
        raise InvalidEventError("bad_value", "timestamp is not a date (ISO 8601 expected)") from None
    return v


def _body(o: Mapping[str, Any]) -> str:
    v = _present(o, "body")
    if "\u0000" in v:
        raise InvalidEventError("bad_value", "body contains a NUL character")
    return v


def normalize_event(o: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and rebuild with exactly the protocol's fields, in the protocol's order."""
    if not isinstance(o, Mapping):
        raise InvalidEventError("decode", "event must be a mapping")
    if o.get("type") == "sms_status":
        event: dict[str, Any] = {
            "type": "sms_status",
            "eventId": _id(o, "eventId"),
            "messageId": _id(o, "messageId"),
            "appId": _id(o, "appId"),
            "tenantId": _id(o, "tenantId"),
            "status": _required(o, "status"),
        }
        for name in ("rcMessageId", "error"):
            value = _optional(o, name)
            if value is not None:
                event[name] = value
        event["timestamp"] = _timestamp(o)
        if event["appId"] == TENANT_WIDE_APP:
            raise InvalidEventError("missing_field", "sms_status needs a real appId, not the tenant-wide '_'")
        return event
    if o.get("type") == "sms_inbound":
        event = {
            "type": "sms_inbound",
            "eventId": _id(o, "eventId"),
            "messageId": _id(o, "messageId"),
            "from": _required(o, "from"),
            "to": _required(o, "to"),
            "body": _body(o),
        }
        rc = _optional(o, "rcMessageId")
        if rc is not None:
            event["rcMessageId"] = rc
        event["tenantId"] = _id(o, "tenantId")
        if o.get("appId") is not None:
            app = _id(o, "appId")
            if app != TENANT_WIDE_APP:
                event["appId"] = app
        event["timestamp"] = _timestamp(o)
        return event
    raise InvalidEventError("missing_field", 'type must be "sms_status" or "sms_inbound"')


def _now_iso() -> str:
    t = datetime.now(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def prepare_event(input: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and complete an event (eventId, timestamp); raises InvalidEventError."""
    if not isinstance(input, Mapping):
        raise InvalidEventError("decode", "event must be a mapping")
    filled = dict(input)
    if filled.get("eventId") is None:
        filled["eventId"] = str(uuid.uuid4())
    if filled.get("timestamp") is None:
        filled["timestamp"] = _now_iso()
    return normalize_event(filled)


def encode_event(event: Mapping[str, Any]) -> bytes:
    """Plain MessagePack (str type for strings, no extensions): any consumer decodes it.

    The map header is always map16 (0xde + 2-byte length), as the TypeScript publisher
    (msgpackr) writes it, so that both produce the same bytes; keys and values are packed
    minimally by ``msgpack``. Any MessagePack decoder reads either header.
    """
    parts = [b"\xde", len(event).to_bytes(2, "big")]
    for key, value in event.items():
        parts.append(msgpack.packb(key, use_bin_type=True))
        parts.append(msgpack.packb(value, use_bin_type=True))
    return b"".join(parts)


def subjects(event: Mapping[str, Any]) -> tuple[str, str]:
    """(durable subject, live subject) of an event."""
    tail = f"{event['tenantId']}.{event.get('appId') or TENANT_WIDE_APP}.{_KIND[event['type']]}"
    return f"in.sms.{tail}", f"sms.{tail}"


async def publish_event(nc: Any, input: Mapping[str, Any], *, direct: bool = False, timeout: float | None = None) -> Published:
    """Validate, fill, encode and publish one event with a ``nats-py`` connection."""
    event = prepare_event(input)
    data = encode_event(event)
    durable, live = subjects(event)
    if direct:
        await nc.publish(live, data)
        await nc.flush()
        return Published(event, live)
    js = nc.jetstream()
    ack = await js.publish(durable, data, timeout=timeout, headers={"Nats-Msg-Id": event["eventId"]})
    return Published(event, durable, int(ack.seq))


async def publish_sms_status(nc: Any, input: Mapping[str, Any], *, direct: bool = False, timeout: float | None = None) -> Published:
    return await publish_event(nc, {**input, "type": "sms_status"}, direct=direct, timeout=timeout)


async def publish_sms_inbound(nc: Any, input: Mapping[str, Any], *, direct: bool = False, timeout: float | None = None) -> Published:
    return await publish_event(nc, {**input, "type": "sms_inbound"}, direct=direct, timeout=timeout)
