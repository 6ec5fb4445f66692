from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

#: The repository's conformance/vectors.json (the generated original of the shipped copy).
REPO_VECTORS = Path(__file__).resolve().parents[3] / "conformance" / "vectors.json"


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REPO_VECTORS.read_text(encoding="utf-8"))
    return data
