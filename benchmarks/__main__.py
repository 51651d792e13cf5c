"""`python -m benchmarks`: time pcie-failover against its goals, as whole processes, on one machine in one run.

Every variant runs once per round, in a rotated order, so background load falls on all of
them alike; medians over the rounds and their ratios are printed as Markdown tables (`paired`:
the median of the per-round ratios, which shares each round's load between the two sides).
Nothing is installed: a missing tool skips its rows and is named with how to get it.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmarks.measure import GNU_TIME, CommandFailedError, Samples, Variant, run_interleaved
from benchmarks.trees import DEFAULT_CACHE, cached_host, cached_registry
from fixtures_sysfs.generator import vf_address

DEMO = Path(__file__).resolve().parent.parent / "fixtures_sysfs" / "demo-host"
DEMO_VF = "5e:00.2"
BIG = (16, 256)
LIST_SIZES = ((1, 256), (4, 256), BIG)
BIG_VF = vf_address(BIG[0] - 1, 200)  # on vfio-pci, on the bus the last PF's VFs spill onto
IP_ARGS = ("-json", "-details", "-0", "address", "show", "dev", "lo")
PYROUTE2_VENV = Path("/tmp/pcie-failover-bench-pyroute2")
AUDIT_PAIRS = 100


@dataclass(frozen=True)
class Ratio:
    """numerator / denominator, with the goal it should meet (None: reported only)."""

    label: str
    numerator: str
    denominator: str
    goal: float | None = None


RATIOS = (
    Ratio("check: 4096-VF host / demo host", "check-big", "check-demo", 1.15),
    Ratio("check --format json / python -c 'import json'", "check-json", "import-json", 4.0),
    Ratio("python + `ip -json` subprocess / python -c 'import json'", "python-ip", "import-json"),
    Ratio("import pyroute2 / import json (throwaway venv)", "pyroute2", "pyroute2-floor"),
    Ratio("check / lspci -s BDF -vvv (4096-VF tree)", "check-big", "lspci-one"),
    Ratio("list --format json / lspci -vvv (4096-VF tree)", "list-16x256", "lspci-all", 1.0),
    Ratio("list --format json / bare reads of list (4096-VF tree)", "list-16x256", "bare-list"),
    Ratio("bare reads of list / lspci -vvv (4096-VF tree)", "bare-list", "lspci-all"),
    Ratio("audit --format json, 100 pairs / lspci -vvv (4096-VF tree)", "audit-100", "lspci-all"),
    Ratio("list 4x256 / list 1x256", "list-4x256", "list-1x256"),
    Ratio("list 16x256 / list 1x256", "list-16x256", "list-1x256"),
)


def _machine() -> str:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    except OSError:
        pass
    return "\n".join(
        (
            f"- CPUs: {os.cpu_count()} x {model}",
            f"- Python {platform.python_version()} ({sys.executable}), typer {metadata.version('typer')}",
            f"- kernel {platform.release()}, load average at start {os.getloadavg()[0]:.2f}",
        )
    )


def _variants(cache: Path, pyroute2_venv: Path, missing: list[str]) -> list[Variant]:
    python = sys.executable
    tool = str(Path(python).with_name("pcie-failover"))
    if not os.access(tool, os.X_OK):
        raise SystemExit(f"{tool} is missing: install the project in this venv (pip install -e .)")
    if not os.access(GNU_TIME, os.X_OK):
        raise SystemExit(f"{GNU_TIME} is missing (it measures each run's peak memory): apt-get install time")
    trees = {}
    for pfs, vfs in LIST_SIZES:
        path, built = cached_host(cache, pfs, vfs)
        trees[(pfs, vfs)] = str(path)
        print(f"{'built' if built else 'cached'} {pfs}x{vfs} host: {path}", file=sys.stderr)
    big = trees[BIG]
    registry = cached_registry(Path(big), BIG[0], AUDIT_PAIRS)
    variants = [
        Variant(
            "audit-100",
            f"audit --format json ({AUDIT_PAIRS} pairs, 16x256 host)",
            (tool, "--sysfs-root", big, "audit", "--registry", str(registry), "--format", "json"),
            ok=(0, 1),  # some generated VFs are not ready on purpose: exit 1 is the audit's finding
        ),
        Variant("check-demo", f"check {DEMO_VF} (demo host)", (tool, "--sysfs-root", str(DEMO), "check", DEMO_VF)),
        Variant("check-big", f"check {BIG_VF} (16x256 host)", (tool, "--sysfs-root", big, "check", BIG_VF)),
        Variant(
            "check-json",
            f"check {DEMO_VF} --format json (demo host)",
            (tool, "--sysfs-root", str(DEMO), "check", DEMO_VF, "--format", "json"),
        ),
        Variant("import-json", "python -c 'import json'", (python, "-c", "import json")),
        *(
            Variant(
                f"list-{pfs}x{vfs}",
                f"list --format json ({pfs}x{vfs} host)",
                (tool, "--sysfs-root", trees[(pfs, vfs)], "list", "--format", "json"),
            )
            for pfs, vfs in LIST_SIZES
        ),
        Variant(
            "bare-list",
            "bare reads of list (16x256 tree: no confinement, no model)",
            (python, str(Path(__file__).with_name("bare_reads.py")), big),
        ),
    ]
    ip = shutil.which("ip")
    if ip is None:
        missing.append("ip: apt-get install iproute2")
    else:
        script = f"import subprocess,json; json.loads(subprocess.run({[ip, *IP_ARGS]!r}, capture_output=True).stdout)"
        variants += [
            Variant("ip", "ip " + " ".join(IP_ARGS), (ip, *IP_ARGS)),
            Variant("python-ip", "python: subprocess `ip -json` + json.loads", (python, "-c", script)),
        ]
    venv_python = pyroute2_venv / "bin" / "python"
    if not os.access(venv_python, os.X_OK) or not any(pyroute2_venv.glob("lib/python3*/site-packages/pyroute2")):
        missing.append(f"pyroute2: python3 -m venv {pyroute2_venv} && {pyroute2_venv}/bin/pip install pyroute2")
    else:
        variants += [
            Variant(
                "pyroute2", "python -c 'import pyroute2' (throwaway venv)", (str(venv_python), "-c", "import pyroute2")
            ),
            Variant(
                "pyroute2-floor", "python -c 'import json' (throwaway venv)", (str(venv_python), "-c", "import json")
            ),
        ]
    lspci = shutil.which("lspci")
    if lspci is None:
        missing.append("lspci: apt-get install pciutils")
    else:
        base = (lspci, "-A", "linux-sysfs", "-O", f"sysfs.path={big}/bus/pci")
        variants += [
            Variant("lspci-one", f"lspci -s {BIG_VF} -vvv (16x256 tree)", (*base, "-s", BIG_VF, "-vvv")),
            Variant("lspci-all", "lspci -vvv (16x256 tree)", (*base, "-vvv")),
        ]
    return variants


def _report(samples: dict[str, Samples]) -> list[str]:
    lines = ["| command | median ms | min ms | IQR ms | CPU ms | max RSS MiB |", "|---|---:|---:|---:|---:|---:|"]
    for x in samples.values():
        cells = (x.median_ms, x.min_ms, x.iqr_ms, x.cpu_ms, x.rss_mib)
        lines.append(f"| {x.variant.label} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    lines += ["", "| ratio | time | paired | added ms | CPU | RSS | goal |", "|---|---:|---:|---:|---:|---:|---|"]
    for ratio in RATIOS:
        if ratio.numerator not in samples or ratio.denominator not in samples:
            continue
        top, bottom = samples[ratio.numerator], samples[ratio.denominator]
        value = top.median_ms / bottom.median_ms
        paired = statistics.median(a / b for a, b in zip(top.wall, bottom.wall, strict=True))
        goal = "" if ratio.goal is None else f"<= {ratio.goal:g}: {'met' if value <= ratio.goal else 'MISSED'}"
        lines.append(
            f"| {ratio.label} | {value:.2f}x | {paired:.2f}x | {top.median_ms - bottom.median_ms:+.1f} "
            f"| {top.cpu_ms / bottom.cpu_ms:.2f}x | {top.rss_mib / bottom.rss_mib:.2f}x | {goal} |"
        )
    return lines


def main(argv: list[str]) -> int:
    """Build or reuse the generated hosts, run every variant interleaved, print the tables."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=main.__doc__)
    parser.add_argument("--runs", type=int, default=20, help="recorded rounds (default 20)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="unrecorded rounds first, which write the bytecode cache (default 1)"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("PCIE_FAILOVER_BENCH_CACHE", DEFAULT_CACHE)),
        help=f"where generated hosts are kept (default $PCIE_FAILOVER_BENCH_CACHE or {DEFAULT_CACHE})",
    )
    parser.add_argument(
        "--pyroute2-venv", type=Path, default=PYROUTE2_VENV, help=f"a venv with pyroute2 (default {PYROUTE2_VENV})"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 1:
        parser.error("--runs and --warmup must be at least 1")
    missing: list[str] = []
    variants = _variants(args.cache_dir, args.pyroute2_venv, missing)
    # Installed packages run from cached bytecode: keep it (outside the tree), whatever the caller's environment says.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(args.cache_dir / "pycache")
    machine = _machine()

    def progress(round_: int) -> None:
        print(f"\rround {round_ + 1}/{args.runs}", end="", file=sys.stderr, flush=True)

    try:
        samples = run_interleaved(variants, args.runs, env, args.warmup, progress)
    except CommandFailedError as error:
        print(f"\n{error}", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    print(f"{machine}, at end {os.getloadavg()[0]:.2f}")
    print(f"- rounds: {args.runs} recorded after {args.warmup} warm-up, order rotated each round")
    print(f"- bytecode cached in {env['PYTHONPYCACHEPREFIX']} (written by the warm-up round)\n")
    print("\n".join(_report(samples)))
    for entry in missing:
        print(f"\nmissing, rows skipped: {entry}")
    return 0


raise SystemExit(main(sys.argv[1:]))
