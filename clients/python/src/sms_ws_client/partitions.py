"""Which partition of a partitioned stream an event belongs to (docs/partitioning.md,
"Positions"): FNV-1a (32 bit) of the tenant id's UTF-8 bytes, modulo K, what the server and
nats-server compute. The conformance sessions check that this client agrees with the TypeScript
one."""

from __future__ import annotations

#: The server's limit on K; a longer ``epochs`` list in auth_ok is dropped.
MAX_PARTITIONS = 1024


def fnv1a32(s: str) -> int:
    h = 0x811C9DC5
    for byte in s.encode("utf-8", "replace"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def partition_of(tenant_id: str, k: int) -> int:
    """The partition (0..k-1) of a tenant's events among k partitions."""
    return fnv1a32(tenant_id) % k
