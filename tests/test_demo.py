"""The bundled demo host: committed as built, and 5e:00.2 is a ready VF."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from fixtures_sysfs.builder import build, walk_tree
from fixtures_sysfs.hosts import demo_host
from tests.support.cli import Run
from tests.support.golden import compare_entry

DEMO = Path(__file__).parent.parent / "fixtures_sysfs" / "demo-host"


def _content(root: Path) -> dict[str, str]:
    # git keeps neither file modes other than 644/755 nor empty directories: compare contents.
    return {path: re.sub(r"^[0-7]+ ", "", value) for path, value in walk_tree(root)}


def test_committed_demo_host_is_what_the_builder_writes(tmp_path: Path) -> None:
    assert _content(DEMO) == _content(build(demo_host(), tmp_path / "demo"))


def test_builder_leaves_no_empty_directory_for_git_to_drop(tmp_path: Path) -> None:
    root = build(demo_host(), tmp_path / "demo")
    empty = [
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir() and not p.is_symlink() and not any(p.iterdir())
    ]
    assert empty == []


def test_demo_vf_is_ready(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", str(DEMO), "check", "5e:00.2", "--format", "json")
    assert run.code == 0
    document = run.json
    document["sysfs_root"] = "<demo>"
    document["tool_version"] = "<version>"
    compare_entry("demo", "check 5e:00.2", document)
