"""A real fleet from clients/testkit/launch-fleet.mjs (nats-server with production permissions,
`sms-ws serve` nodes), driven over its stdin/stdout JSON lines. Needs `npm run build` first."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as Nats

from sms_ws_client.transport import Transport, websockets_connector

REPO = Path(__file__).resolve().parents[4]
LAUNCHER = REPO / "clients" / "testkit" / "launch-fleet.mjs"


class Fleet:
    def __init__(self, nodes: int = 2, tenant: str = "Tkit", partitions: int = 1) -> None:
        if not (REPO / "dist" / "cli" / "main.js").exists():
            raise RuntimeError("dist/ is missing: run `npm run build` in the repository first")
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH")
        self._proc = subprocess.Popen(
            [node, str(LAUNCHER), "--nodes", str(nodes), "--tenant", tenant, "--partitions", str(partitions)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert self._proc.stdout is not None
        first = self._proc.stdout.readline()
        if not first:
            raise RuntimeError(f"launch-fleet.mjs exited with {self._proc.wait()}")
        self.info: dict[str, Any] = json.loads(first)
        self._lock = threading.Lock()
        self._next_id = 0

    @property
    def urls(self) -> list[str]:
        return [n["url"] for n in self.info["nodes"]]

    def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.write(json.dumps({"id": self._next_id, "cmd": cmd, **args}) + "\n")
            self._proc.stdin.flush()
            reply: dict[str, Any] = json.loads(self._proc.stdout.readline())
        if not reply.get("ok"):
            raise RuntimeError(f"launcher {cmd} failed: {reply.get('error')}")
        return reply

    async def acommand(self, cmd: str, **args: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self.command, cmd, **args)

    async def token(self, ttl: int) -> str:
        return str((await self.acommand("token", ttl=ttl))["token"])

    async def producer(self, role: str = "producer") -> Nats:
        r = self.info["roles"][role]
        return await nats.connect(self.info["natsUrl"], user=r["user"], password=r["pass"], inbox_prefix=r["inboxPrefix"], allow_reconnect=False)

    def failover_connector(self, start: int = 0) -> Any:
        """Each connection attempt goes to the next node (what a load balancer does)."""
        turn = {"n": start}

        async def connect(url: str) -> Transport:
            urls = self.urls
            target = urls[turn["n"] % len(urls)]
            turn["n"] += 1
            query = url.split("?", 1)[1] if "?" in url else ""
            return await websockets_connector(f"{target}?{query}" if query else target)

        return connect

    def stop(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
