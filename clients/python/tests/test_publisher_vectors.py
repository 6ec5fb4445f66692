"""The publisher's bytes equal the TypeScript publisher's; refusals carry the same reason."""

from __future__ import annotations

from typing import Any

import pytest

from sms_ws_client.publisher import InvalidEventError, encode_event, prepare_event, subjects


def test_valid_events_encode_byte_for_byte(vectors: dict[str, Any]) -> None:
    valid = vectors["publisher"]["valid"]
    assert valid
    for p in valid:
        event = prepare_event(p["input"])
        assert event == p["event"]
        assert list(event) == list(p["event"]), "field order decides the bytes"
        assert encode_event(event).hex() == p["msgpackHex"], p["input"]["eventId"]
        assert subjects(event) == (p["durableSubject"], p["liveSubject"])


def test_invalid_events_are_refused_with_the_nodes_reason(vectors: dict[str, Any]) -> None:
    invalid = vectors["publisher"]["invalid"]
    assert invalid
    for p in invalid:
        with pytest.raises(InvalidEventError) as caught:
            prepare_event(p["input"])
        assert caught.value.reason == p["reason"], p["input"]


def test_fills_event_id_and_timestamp() -> None:
    a = prepare_event({"type": "sms_status", "messageId": "m", "appId": "a", "tenantId": "t", "status": "sent"})
    b = prepare_event({"type": "sms_status", "messageId": "m", "appId": "a", "tenantId": "t", "status": "sent"})
    assert a["eventId"] != b["eventId"]
    assert a["timestamp"].endswith("Z")
