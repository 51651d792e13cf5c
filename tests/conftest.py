"""Shared fixtures: build hosts, run the CLI in-process, validate every JSON document."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fixtures_sysfs.builder import Host, build
from fixtures_sysfs.captures import TOPOLOGIES, restore_git_losses
from pcie_failover.cli import main
from tests.hostile import USERS, as_user, shared_directory

_SCHEMA = json.loads(resources.files("pcie_failover").joinpath("schema/output-1.schema.json").read_text())
_VALIDATOR = jsonschema.Draft202012Validator(_SCHEMA)


@dataclass(frozen=True)
class Run:
    """One CLI run: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        """stdout parsed as JSON and validated against the shipped schema."""
        document = json.loads(self.out)
        _VALIDATOR.validate(document)
        return document


@pytest.fixture(scope="session", autouse=True)
def _captures_as_captured() -> None:
    for topology in TOPOLOGIES:
        restore_git_losses(topology)


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
