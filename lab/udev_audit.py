"""The project's udev rule and systemd units at work in a guest with real systemd and udevd.

The job installs them as a user would (`make install-udev`, a `pcie-failover` wrapper in
/usr/local/bin running the host's venv), registers VF 0 of an igb PF as pair `web`, then
makes each change of the audit issue. After each it waits for udev's queue and for the
audit service, and keeps in /job/out/<step>.* the textfile collector's file, the two
units' journal since the previous step (JSON, through a cursor) and the coalescing state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.capture import LINK_REPO, PRELUDE, REPO
from lab.systemd_guest import SystemdEnv, job_failed, run_job
from lab.topologies import IP, PRIMARY_MAC, pf_up, vf_mac, vfio_override, vfs

PF, VF0, SIBLING = "0000:01:00.0", "0000:01:10.0", "0000:01:10.2"
# The two e1000e functions share an IOMMU group: function 1 is the sibling that joins function 0's.
SHARED, JOINER = "0000:02:00.0", "0000:02:00.1"
AUDIT, WATCH = "pcie-failover-audit.service", "pcie-failover-watch.service"
PROM = "/var/lib/prometheus/node-exporter/pcie_failover.prom"
UNIT_STARTING = "7d4958e842da4a758f6c1cdc7b36dcc5"  # systemd's "Starting <unit>..." message id
JOB_TIMEOUT = 900.0

HELPERS = f"""OUT=/job/out
mkdir -p $OUT
quiesce() {{  # udev's queue drained, then no audit job queued or running
  udevadm settle --timeout=180
  i=0
  while [ -n "$(systemctl list-jobs --no-legend {AUDIT})" ] ||
        [ "$(systemctl show --property=ActiveState --value {AUDIT})" = activating ]; do
    i=$((i + 1)); [ $i -le 1200 ] || {{ echo "{AUDIT} never finished" >&2; return 1; }}
    sleep 0.25
  done
}}
record() {{  # what step $1 left: textfile, the units' journal since the last record, pending mark
  quiesce
  cp {PROM} $OUT/$1.prom || :
  journalctl -o json --cursor-file=/run/lab-journal.cursor -u {AUDIT} -u {WATCH} > $OUT/$1.journal.json
  ls -A /run/pcie-failover > $OUT/$1.state
}}
wait_log() {{  # unit, priority, text: until the unit logged text at that priority or worse
  for _ in $(seq 480); do
    journalctl -q -o cat -u "$1" -p "$2" | grep -q -- "$3" && return 0
    sleep 0.5
  done
  echo "no '$3' from $1" >&2; return 1
}}
"""


def job_script() -> str:
    """Install as a user would, register `web`, then each change with a record after it."""
    dev = f"/sys/bus/pci/devices/{PF}"
    lines = [
        "modprobe igb",
        "modprobe igbvf",
        "modprobe vfio-pci",
        "udevadm settle",  # the PF's rename to enp1s0
        LINK_REPO,  # for make -C too
        # PYTHONPATH, not the editable install's path: the units' PrivateTmp hides a checkout under /tmp
        "printf '#!/bin/sh\\nPYTHONPATH=%s exec %s \"$@\"\\n' "
        f"'/host{REPO}' '/host{REPO}/.venv/bin/python -m pcie_failover' > /usr/local/bin/pcie-failover",
        "chmod 0755 /usr/local/bin/pcie-failover",
        "mkdir -p /var/lib/prometheus/node-exporter",
        f"make -C {REPO} install-udev BINDIR=/usr/local/bin > $OUT/install.log",
        "test -d /run/pcie-failover",
        "systemctl enable --now pcie-failover-audit.path",  # what turns the rule's mark into an audit
        *pf_up(PF),
        *vfs(PF, 4, vf_mac(PF, 0, PRIMARY_MAC), vfio_override(PF, 0)),
        "record setup",
        f"pcie-failover register web {VF0} --vm web > $OUT/register.log 2>&1",
        f"systemctl start {AUDIT} || :",  # the first audit of the pair, as the timer would start it
        "record ready",
        # (a) a burst: every VF goes and comes back, without admin MAC or vfio-pci
        f"echo 0 > {dev}/sriov_numvfs",
        f"echo 4 > {dev}/sriov_numvfs",
        "record burst",
        vf_mac(PF, 0, PRIMARY_MAC),
        f"if [ -e /sys/bus/pci/devices/{VF0}/driver ]; then echo {VF0} > /sys/bus/pci/devices/{VF0}/driver/unbind; fi",
        vfio_override(PF, 0),
        f"echo {VF0} > /sys/bus/pci/drivers_probe",
        "record restored",
        # (b) the registered VF leaves vfio-pci, and comes back
        f"echo {VF0} > /sys/bus/pci/drivers/vfio-pci/unbind",
        "record unbound",
        f"echo {VF0} > /sys/bus/pci/drivers/vfio-pci/bind",
        "record rebound",
        # (c) igb VFs have IOMMU groups of their own: a sibling VF's driver goes and comes back
        'for g in /sys/kernel/iommu_groups/*; do echo "${g##*/}" $(ls "$g/devices"); done > $OUT/iommu-groups',
        f"echo {SIBLING} > /sys/bus/pci/drivers/igbvf/unbind",
        "record sibling-unbound",
        f"echo {SIBLING} > /sys/bus/pci/drivers/igbvf/bind",
        "record sibling-bound",
        # (d) an rtnetlink-only change, which udev never sees: only the watch service can
        f"systemctl start {WATCH}",
        f"wait_log {WATCH} info 'pair web'",
        f'{IP} link set dev "$(ifname {PF})" vf 0 mac 00:00:00:00:00:00',
        f"wait_log {WATCH} err vf-mac",
        "record mac-zero",
        f"systemctl stop {WATCH}",
        f"systemctl show --property=Result,ExecMainStatus,NRestarts {WATCH} > $OUT/watch.show",
        # (e) a device bound into a registered primary's IOMMU group: function 0 of the e1000e on
        # vfio-pci (registered with --force: not a VF), function 1 unbound, then bound to e1000e
        f"echo {SHARED} > /sys/bus/pci/devices/{SHARED}/driver/unbind",
        f"echo {JOINER} > /sys/bus/pci/devices/{JOINER}/driver/unbind",
        f"echo vfio-pci > /sys/bus/pci/devices/{SHARED}/driver_override",
        f"echo {SHARED} > /sys/bus/pci/drivers_probe",
        f"pcie-failover register shared {SHARED} --force --mac 52:54:00:00:00:02 >> $OUT/register.log 2>&1",
        "record group-alone",
        f"echo {JOINER} > /sys/bus/pci/drivers/e1000e/bind",
        "record group-joined",
        f"journalctl -o cat -u {AUDIT} -u {WATCH} > $OUT/units.log",
        "journalctl -b -o short-monotonic > $OUT/boot.log",
    ]
    return PRELUDE + HELPERS + "\n".join(lines) + "\n"


def _message(entry: dict[str, Any]) -> str:
    message = entry.get("MESSAGE", "")
    return bytes(message).decode(errors="replace") if isinstance(message, list) else str(message)


@dataclass(frozen=True)
class Step:
    """What one step left: the textfile's series, the units' journal entries, the coalescing state."""

    prom: dict[str, float]
    journal: tuple[dict[str, Any], ...]
    state: tuple[str, ...]

    def series(self, prefix: str, pair: str = "web") -> dict[str, float]:
        """The series of `pair` whose name and first labels start with `prefix`."""
        return {k: v for k, v in self.prom.items() if k.startswith(prefix) and f'pair="{pair}"' in k}

    @property
    def ready(self) -> float | None:
        """`pcie_failover_pair_ready` of pair `web` (None: not in the textfile)."""
        values = list(self.series("pcie_failover_pair_ready{").values())
        return values[0] if values else None

    def check_status(self, check: str, pair: str = "web") -> str | None:
        """The status whose `pcie_failover_check_status` series is 1 for `check` of `pair`."""
        prefix = f'pcie_failover_check_status{{pair="{pair}",check="{check}"'
        for key, value in self.series(prefix, pair).items():
            if value == 1:
                return key.split('status="')[1].split('"')[0]
        return None

    def lines(self, unit: str, max_priority: int = 7) -> list[str]:
        """What the unit's process logged in this step, at `max_priority` or worse."""
        return [
            _message(e)
            for e in self.journal
            if e.get("_SYSTEMD_UNIT") == unit and int(e.get("PRIORITY", 6)) <= max_priority
        ]

    @property
    def audit_starts(self) -> int:
        """How many times systemd started the audit service in this step."""
        return sum(1 for e in self.journal if e.get("UNIT") == AUDIT and e.get("MESSAGE_ID") == UNIT_STARTING)

    @property
    def audit_runs(self) -> int:
        """How many audits the service made (one journal line for pair `web` each)."""
        return sum(1 for line in self.lines(AUDIT) if line.startswith("pair web"))


@dataclass(frozen=True)
class UdevAuditRun:
    """Every step's record, the guest's IOMMU groups and the watch unit's end state."""

    steps: dict[str, Step]
    groups: dict[str, tuple[str, ...]]
    watch: dict[str, str]


def _prom(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    series = (line.rsplit(" ", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key: float(value) for key, value in series}


def read_step(out: Path, name: str) -> Step:
    """What step `name` left in `out`."""
    journal = (out / f"{name}.journal.json").read_text().splitlines()
    return Step(
        _prom(out / f"{name}.prom"),
        tuple(json.loads(line) for line in journal if line),
        tuple((out / f"{name}.state").read_text().split()),
    )


def run_udev_audit(env: SystemdEnv, work: Path) -> UdevAuditRun:
    """Boot the systemd guest, run the scenario, and read what each step left."""
    run = work / "udev-audit"
    status = run_job(env, job_script(), run, JOB_TIMEOUT)
    if status != 0:
        raise job_failed(run, status)
    out = run / "job" / "out"
    names = [p.name.removesuffix(".journal.json") for p in sorted(out.glob("*.journal.json"))]
    groups = {g.split()[0]: tuple(g.split()[1:]) for g in (out / "iommu-groups").read_text().splitlines()}
    watch = dict(line.split("=", 1) for line in (out / "watch.show").read_text().splitlines())
    return UdevAuditRun({name: read_step(out, name) for name in names}, groups, watch)
