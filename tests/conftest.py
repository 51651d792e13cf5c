"""Shared fixtures: build hosts, copy the captures, run the CLI in-process, validate every JSON document.

The helpers behind them live in tests/support/; test modules import from there, never from each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Host, build
from pcie_failover.cli import main
from tests.support.cli import Run
from tests.support.hostile import USERS, as_user, shared_directory
from tests.support.trees import Captures


@pytest.fixture(scope="session")
def captures(tmp_path_factory: pytest.TempPathFactory) -> Captures:
    """The sysfs root of a captured topology, from a copy made once a session: the committed trees stay as git has
    them."""
    return Captures(tmp_path_factory.mktemp("captures"))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run `pcie-failover ARGS...` in this process."""

    def run(*args: str) -> Run:
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def host_root(tmp_path: Path) -> Callable[[Host], Path]:
    """Write a declared host into a fresh directory and return its root."""
    counter = iter(range(1000))

    def make(host: Host) -> Path:
        return build(host, tmp_path / f"host{next(counter)}")

    return make


@pytest.fixture(params=USERS)
def user(request: pytest.FixtureRequest) -> str:
    """Each hostile case as root and as nobody (skipped, with the reason, where nobody cannot run)."""
    return as_user(request.param)


@pytest.fixture
def shared() -> Iterator[Path]:
    """A scratch directory both root and nobody can read (the trees of the hostile corpus)."""
    with shared_directory() as path:
        yield path
