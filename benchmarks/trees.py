"""Generated hosts, cached on disk and rebuilt only when the generator or the builder changes."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import fixtures_sysfs.builder
import fixtures_sysfs.generator
from fixtures_sysfs.builder import build
from fixtures_sysfs.generator import large_host

DEFAULT_CACHE = Path("/var/tmp/pcie-failover-bench")


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for module in (fixtures_sysfs.builder, fixtures_sysfs.generator):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:12]


def cached_host(cache: Path, pfs: int, vfs: int) -> tuple[Path, bool]:
    """The tree of `large_host(pfs, vfs)` under `cache`, and whether it was built now."""
    name = f"{pfs}x{vfs}"
    target = cache / f"{name}-{_fingerprint()}"
    if target.is_dir():
        return target, False
    cache.mkdir(parents=True, exist_ok=True)
    for stale in (*cache.glob(f"{name}-*"), *cache.glob(f".{name}-*")):  # other versions, interrupted builds
        shutil.rmtree(stale)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache))
    build(large_host(pfs, vfs), scratch / "tree")
    (scratch / "tree").rename(target)
    scratch.rmdir()
    return target, True
