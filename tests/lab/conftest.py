"""Lab test configuration: registers the `lab` marker."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the `lab` marker."""
    config.addinivalue_line("markers", "lab: boots a real QEMU guest")
