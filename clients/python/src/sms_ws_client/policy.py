"""Pure decisions shared with the TypeScript SDK (checked against the conformance vectors):
full-jitter backoff, the token refresh plan, the tenant routing hint, the eventId window."""

from __future__ import annotations

import base64
import json
import math
import re
from collections import deque
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REFRESH_MARGIN_MS = 60_000
REFRESH_MARGIN_RATIO = 0.1
MIN_REFRESH_DELAY_MS = 5_000
MAX_REFRESH_FLOOR_MS = 300_000

_TENANT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _clamp01(r: float) -> float:
    return min(max(r, 0.0), 1.0)


def backoff_delay_ms(attempt: int, initial_ms: float, max_ms: float, random: float) -> int:
    """random(0, min(max, initial * 2^attempt)): exponential backoff with full jitter."""
    exponent = max(0, attempt)
    ceiling = float(max_ms) if exponent > 1000 else min(float(max_ms), float(initial_ms) * 2.0**exponent)
    return int(math.floor(_clamp01(random) * ceiling))


def plan_refresh(exp_ms: float, now_ms: float, floor_ms: float, random: float) -> tuple[int, int]:
    """(delay before fetching the next token, the floor for the next plan), in ms."""
    left = exp_ms - now_ms
    margin = min(REFRESH_MARGIN_MS, max(0.0, left * REFRESH_MARGIN_RATIO))
    wanted = math.floor(left - margin - _clamp01(random) * margin)
    if wanted > floor_ms:
        return int(wanted), MIN_REFRESH_DELAY_MS
    return int(floor_ms), int(min(floor_ms * 2, MAX_REFRESH_FLOOR_MS))


def is_tenant_id(value: object) -> bool:
    return isinstance(value, str) and _TENANT_ID.match(value) is not None


def token_tenant(token: str) -> str | None:
    """The ``tenantId`` claim of a JWT, read without verifying it (it only picks a route)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.b64decode(payload, altchars=b"-_", validate=True))
    except (ValueError, UnicodeDecodeError):
        return None
    tenant = claims.get("tenantId") if isinstance(claims, dict) else None
    return tenant if isinstance(tenant, str) and is_tenant_id(tenant) else None


def routed_url(url: str, tenant_id: str | None, slots: int, random: float) -> str:
    """``url`` with ``tenant=<id>`` (or ``<id>:<slot>``) set; unchanged without a tenant."""
    if tenant_id is None:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    value = tenant_id if slots <= 1 else f"{tenant_id}:{min(slots - 1, math.floor(random * slots))}"
    query: list[tuple[str, str]] = []
    placed = False
    for key, v in parse_qsl(parts.query, keep_blank_values=True):
        if key == "tenant":
            if not placed:
                query.append((key, value))
                placed = True
        else:
            query.append((key, v))
    if not placed:
        query.append(("tenant", value))
    path = parts.path or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), parts.fragment))


class EventIdWindow:
    """The last ``capacity`` event ids, for de-duplication with bounded memory."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity}")
        self.capacity = capacity
        self._ids: set[str] = set()
        self._ring: deque[str] = deque()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> bool:
        """Records the id; False when it was already in the window (a duplicate)."""
        if event_id in self._ids:
            return False
        if len(self._ring) == self.capacity:
            self._ids.discard(self._ring.popleft())
        self._ring.append(event_id)
        self._ids.add(event_id)
        return True
