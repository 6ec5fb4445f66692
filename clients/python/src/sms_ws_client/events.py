"""The two event types of the protocol, as dataclasses with the seed's fields plus
``event_id`` and ``seq``. ``raw`` keeps the frame's object as sent (unknown fields included)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union


@dataclass(frozen=True)
class SmsStatusEvent:
    """An outbound message changed status."""

    event_id: str
    message_id: str
    app_id: str
    tenant_id: str
    status: str
    timestamp: str
    rc_message_id: str | None = None
    error: str | None = None
    #: Stream sequence (durable path only): increasing over the stream, with gaps.
    seq: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    type: Literal["sms_status"] = "sms_status"


@dataclass(frozen=True)
class SmsInboundEvent:
    """An inbound SMS was received. ``app_id`` is None for tenant-wide inbound messages."""

    event_id: str
    message_id: str
    from_: str = field(repr=False)
    to: str = field(repr=False)
    body: str = field(repr=False)
    tenant_id: str
    timestamp: str
    app_id: str | None = None
    rc_message_id: str | None = None
    seq: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    type: Literal["sms_inbound"] = "sms_inbound"


SmsEvent = Union[SmsStatusEvent, SmsInboundEvent]


def event_from_dict(o: dict[str, Any]) -> SmsEvent:
    """An event from a frame or history object already checked by ``frames.check_event``."""
    seq = o.get("seq")
    if o["type"] == "sms_status":
        return SmsStatusEvent(
            event_id=o["eventId"],
            message_id=o["messageId"],
            app_id=o["appId"],
            tenant_id=o["tenantId"],
            status=o["status"],
            timestamp=o["timestamp"],
            rc_message_id=o.get("rcMessageId"),
            error=o.get("error"),
            seq=seq,
            raw=o,
        )
    return SmsInboundEvent(
        event_id=o["eventId"],
        message_id=o["messageId"],
        from_=o["from"],
        to=o["to"],
        body=o["body"],
        tenant_id=o["tenantId"],
        timestamp=o["timestamp"],
        app_id=o.get("appId"),
        rc_message_id=o.get("rcMessageId"),
        seq=seq,
        raw=o,
    )
