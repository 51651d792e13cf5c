"""Run the project's CLI inside a lab guest, against the guest kernel's own /sys and netlink.

The guest mounts the host's root over 9p, so the project's venv runs there as it is;
the repository is linked at its host path because the editable install points to it.
Each step changes the guest (iproute2 on the PF, vfio-pci bind/unbind), then runs
`pcie-failover` and keeps its JSON output and exit code in the job share.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import initramfs
from lab.capture import LINK_REPO, PRELUDE, REPO, LabEnv, guest_spec
from lab.guest import Guest, GuestError
from lab.topologies import IP, PRIMARY_MAC, TOPOLOGIES, Topology

PF = "0000:01:00.0"
VF = "0000:01:10.0"
IGBVF_VF = "0000:01:10.2"  # VF 1, left on igbvf with the MAC igbvf picked ("not assigned by administrator")
ADMIN_MAC = "52:54:00:6f:55:c1"
JOB_TIMEOUT = 600.0


@dataclass(frozen=True)
class Step:
    """Shell lines that change the guest, then the CLI runs named `name`."""

    name: str
    change: tuple[str, ...]
    runs: tuple[tuple[str, tuple[str, ...]], ...]  # (output name, CLI arguments)


def _pf(command: str) -> str:
    return f'{IP} link set dev "$(ifname {PF})" {command}'


def steps() -> tuple[Step, ...]:
    """What the guest does: a ready VF, then each change the checks must follow."""
    check_vf = ("check", VF, "--format", "json")
    return (
        Step(
            "ready",
            (),
            (
                ("list", ("list", "--format", "json")),
                ("capture", ("capture", "-o", "/job/out/snapshot.tar.gz", "--format", "json")),
            ),
        ),
        Step("vlan", (_pf("vf 0 vlan 100"),), (("check", check_vf),)),
        Step(
            "link-disable",
            (_pf("vf 0 vlan 0"), f"{_pf('vf 0 state disable')} || echo unsupported"),
            (("check", check_vf),),
        ),
        Step("mac-zero", (_pf("vf 0 mac 00:00:00:00:00:00"),), (("check", check_vf),)),
        Step(
            "unbound",
            (_pf(f"vf 0 mac {PRIMARY_MAC}"), f"echo {VF} > /sys/bus/pci/drivers/vfio-pci/unbind"),
            (("check", check_vf),),
        ),
        Step("no-override", (f"echo > /sys/bus/pci/devices/{VF}/driver_override",), (("check", check_vf),)),
        Step(
            "rebound",
            (f"echo vfio-pci > /sys/bus/pci/devices/{VF}/driver_override", f"echo {VF} > /sys/bus/pci/drivers_probe"),
            (("check", check_vf),),
        ),
        Step(
            "igbvf-mac",
            (f'{IP} link show dev "$(ifname {PF})"', f'{IP} link show dev "$(ifname {IGBVF_VF})"'),  # for the trace
            (("check", ("check", IGBVF_VF, "--format", "json")),),
        ),
        Step("admin-mac", (_pf(f"vf 1 mac {ADMIN_MAC}"),), (("check", ("check", IGBVF_VF, "--format", "json")),)),
    )


def job_script(devices: tuple[str, ...]) -> str:
    """vtd-acpi's preparation, then every step with its CLI runs."""
    topology = TOPOLOGIES["vtd-acpi"]
    cli = f"/host{REPO}/.venv/bin/python -I -m pcie_failover"
    lines = [
        *topology.job,
        LINK_REPO,
        "mkdir -p /job/out",
        "run() { out=$1; shift; rc=0; " + cli + ' "$@" > "/job/out/$out.json" 2>"/job/out/$out.err" || rc=$?; '
        'echo "$out $rc" >> /job/out/exit-codes; }',
    ]
    for step in steps():
        lines += list(step.change)
        lines += [f"run {step.name}.{out} {' '.join(args)}" for out, args in step.runs]
        if step.name == "ready":
            lines.append(f"/host{REPO}/.venv/bin/python -I /job/check_all.py {' '.join(devices)}")
    return PRELUDE + "\n".join(lines) + "\n"


# One interpreter for the many checks of the ready state (each start costs seconds under TCG).
CHECK_ALL = """import sys
from contextlib import redirect_stdout
from pcie_failover.cli import main
with open("/job/out/exit-codes", "a") as codes:
    for device in sys.argv[1:]:
        with open(f"/job/out/ready.check-{device}.json", "w") as out, redirect_stdout(out):
            code = main(["check", device, "--format", "json"])
        codes.write(f"ready.check-{device} {code}\\n")
"""


@dataclass(frozen=True)
class LiveRun:
    """What the CLI said in the guest: outputs by name, exit codes, and the snapshot it wrote."""

    outputs: dict[str, Any]
    exit_codes: dict[str, int]
    snapshot: Path
    trace: str


def run_job(env: LabEnv, topology: Topology, run: Path, what: str, timeout: float = JOB_TIMEOUT) -> tuple[Path, str]:
    """Boot `topology` on `run`'s prepared `job/` and wait for the job: its out/ and trace (GuestError if it failed)."""
    with Guest(guest_spec(topology, env, run)) as guest:
        guest.wait_for(initramfs.READY, timeout=120)
        status = int(guest.wait_for(rf"{initramfs.JOB_EXIT} (\d+)", timeout=timeout)[1])
        guest.wait_exit(timeout=60)
    trace = (run / "job" / "trace.log").read_text(errors="replace")
    if status != 0:
        raise GuestError(f"{what} job exited {status}; trace tail:\n" + "\n".join(trace.splitlines()[-20:]))
    return run / "job" / "out", trace


def job_results(out: Path) -> tuple[dict[str, int], dict[str, Any]]:
    """The job's exit code per CLI run (`exit-codes`) and each run's JSON document (null when empty)."""
    codes = dict(line.rsplit(" ", 1) for line in (out / "exit-codes").read_text().splitlines())
    outputs = {
        name: json.loads((out / f"{name}.json").read_text() or "null")
        for name in codes
        if (out / f"{name}.json").exists()
    }
    return {name: int(code) for name, code in codes.items()}, outputs


def run_live_cli(env: LabEnv, devices: tuple[str, ...], work: Path) -> LiveRun:
    """Boot the vtd-acpi guest, run every step, and collect the results into `work`."""
    run = work / "live-cli"
    shutil.rmtree(run, ignore_errors=True)
    (run / "job").mkdir(parents=True)
    (run / "job" / "job.sh").write_text(job_script(devices))
    (run / "job" / "check_all.py").write_text(CHECK_ALL)
    out, trace = run_job(env, TOPOLOGIES["vtd-acpi"], run, "live CLI")
    codes, outputs = job_results(out)
    return LiveRun(outputs, codes, out / "snapshot.tar.gz", trace)
