from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.fleet import Fleet


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    f = Fleet(nodes=2)
    yield f
    f.stop()


@pytest.fixture()
def own_fleet() -> Iterator[Fleet]:
    """A fleet for one destructive test (it kills or drains nodes)."""
    f = Fleet(nodes=2)
    yield f
    f.stop()
