"""Generated hosts, cached on disk and rebuilt only when the generator or the builder changes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import fixtures_sysfs.builder
import fixtures_sysfs.generator
from fixtures_sysfs.builder import build
from fixtures_sysfs.generator import large_host, vf_address
from pcie_failover.cli import main

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


def cached_registry(host: Path, pfs: int, pairs: int) -> Path:
    """A registry of `pairs` pairs on the generated `host` with `pfs` PFs (VFs spread over them), built once."""
    registry = host.with_name(f"{host.name}-registry-{pairs}")
    if registry.is_dir():
        return registry
    scratch = Path(tempfile.mkdtemp(prefix=f".{registry.name}-", dir=host.parent)) / "pairs.d"
    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        for number in range(pairs):
            vf = vf_address(number % pfs, number // pfs)
            mac = f"52:54:00:00:{number >> 8:02x}:{number & 0xFF:02x}"
            args = ["--sysfs-root", str(host), "register", f"pair{number:03d}", vf, "--mac", mac, "--force"]
            if main([*args, "--registry", str(scratch)]) != 0:
                raise RuntimeError(f"cannot register {vf} on {host}")
    scratch.rename(registry)
    scratch.parent.rmdir()
    return registry
