"""Shared fixtures. Tests build their own inputs; ``../shared`` is optional reference."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SHARED = Path(os.environ.get("DIALSIM_SHARED", ROOT.parent / "shared"))


@pytest.fixture
def shared_dir() -> Path:
    """The ``../shared`` reference folder; skips the test cleanly when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"reference folder {SHARED} not present")
    return SHARED
