"""The partition hash and the admin-socket positions' input checks (the behaviour itself is in
the conformance sessions, tests/test_sessions.py)."""

from __future__ import annotations

import json

import pytest

from sms_ws_client import Client, StreamPosition
from sms_ws_client.frames import AuthOk, parse_server_frame
from sms_ws_client.partitions import fnv1a32, partition_of


def test_fnv1a32_reference_values() -> None:
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C
    assert fnv1a32("foobar") == 0xBF9CF968
    assert [partition_of(f"T{n}", 3) for n in range(1, 7)] == [fnv1a32(f"T{n}") % 3 for n in range(1, 7)]


def test_auth_ok_epochs_all_or_nothing() -> None:
    assert parse_server_frame('{"type":"auth_ok","epochs":["p0/2@x","p1/2@x"]}') == AuthOk(epochs=("p0/2@x", "p1/2@x"))
    for bad in (["p0/2@x", ""], ["p0/2@x", 3], [], [f"p{i}" for i in range(1025)]):
        assert parse_server_frame(json.dumps({"type": "auth_ok", "epochs": bad})) == AuthOk()


def test_resume_from_list_is_checked() -> None:
    Client("ws://h.test/ws", api_key="K", resume_from=[StreamPosition("p0/2@x", 1), StreamPosition("p1/2@x", 0)])
    for bad in ([], [StreamPosition("", 1)], [StreamPosition("E", -1)], [StreamPosition("E", 1)] * 1025):
        with pytest.raises(ValueError, match="resume_from"):
            Client("ws://h.test/ws", api_key="K", resume_from=bad)
