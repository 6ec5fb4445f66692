"""The conformance vectors shipped inside the package (a copy of conformance/vectors.json).

The close-code table and the SDK defaults are read from here, never hand-copied: the vectors
are generated from the TypeScript sources, which are the truth for every SDK.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def load_vectors() -> dict[str, Any]:
    """The parsed vectors.json of this package."""
    text = resources.files(__package__).joinpath("vectors.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
