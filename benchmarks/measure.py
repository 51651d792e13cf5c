"""Run commands as whole processes, interleaved, and keep wall time and peak memory of each run."""

from __future__ import annotations

import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

GNU_TIME = "/usr/bin/time"  # Debian package `time`


@dataclass(frozen=True)
class Variant:
    """One command line to time; a valid run exits with one of `ok`."""

    key: str
    label: str
    argv: tuple[str, ...]
    ok: tuple[int, ...] = (0,)


@dataclass
class Samples:
    """Wall seconds, CPU seconds (user + system) and max RSS (KiB) of each run of one variant."""

    variant: Variant
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        """Median wall time in milliseconds."""
        return statistics.median(self.wall) * 1000

    @property
    def min_ms(self) -> float:
        """Fastest run in milliseconds (the least disturbed by other load)."""
        return min(self.wall) * 1000

    @property
    def cpu_ms(self) -> float:
        """Median CPU time in milliseconds (what other load on the machine inflates least)."""
        return statistics.median(self.cpu) * 1000

    @property
    def iqr_ms(self) -> float:
        """Interquartile range of the wall time in milliseconds (the spread the median hides)."""
        if len(self.wall) < 4:
            return 0.0
        quartiles = statistics.quantiles(self.wall, n=4)
        return (quartiles[2] - quartiles[0]) * 1000

    @property
    def rss_mib(self) -> float:
        """Median peak resident memory of the child in MiB."""
        return statistics.median(self.rss_kib) / 1024


class CommandFailedError(Exception):
    """A variant exited with a non-zero code."""


def run_once(variant: Variant, usage_file: str, env: Mapping[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and max RSS (KiB) of one run under GNU time; output is discarded.

    A child's max RSS counts its parent's resident pages at fork (Linux keeps the high-water
    mark across fork and exec), so the child of this Python process would report at least
    this process's size: GNU time, a small C program, forks it instead and reports its wait4.
    CPU time is the children's rusage delta (it includes GNU time's own, well under 1 ms).
    """
    argv = (GNU_TIME, "--quiet", "--format=%M", f"--output={usage_file}", *variant.argv)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.run(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if child.returncode not in variant.ok:
        detail = child.stderr.decode(errors="replace").strip()[-500:]
        raise CommandFailedError(f"{variant.label}: exit {child.returncode}: {detail}")
    with open(usage_file, encoding="ascii") as usage:
        return wall, cpu, int(usage.read().split()[-1])


def run_interleaved(
    variants: Sequence[Variant],
    runs: int,
    env: Mapping[str, str],
    warmup: int = 1,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Samples]:
    """`runs` rounds, each running every variant once in a rotated order, after `warmup` unrecorded rounds."""
    samples = {v.key: Samples(v) for v in variants}
    with tempfile.NamedTemporaryFile(prefix="pcie-failover-bench-") as usage_file:
        for round_ in range(-warmup, runs):
            shift = round_ % len(variants)
            for variant in (*variants[shift:], *variants[:shift]):
                wall, cpu, rss = run_once(variant, usage_file.name, env)
                if round_ >= 0:
                    samples[variant.key].wall.append(wall)
                    samples[variant.key].cpu.append(cpu)
                    samples[variant.key].rss_kib.append(rss)
            if progress is not None:
                progress(round_)
    return samples
