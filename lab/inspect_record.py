"""Record the QMP replies `inspect` reads, from real QEMU 10 guests, into tests/inspect_replies/.

    python -m lab.inspect_record     # root, about 3 minutes under TCG

Each file holds the QEMU command line (/proc/PID/cmdline, NUL-separated words) and every query
`read_vm` sent with QEMU's answer, at one state: the guest's virtio-net driver not loaded, loaded,
a primary QEMU cannot plug (device 3 of its root port), a migration (source while QEMU waits for the
unplug, source after it, destination), and a QEMU that rejects unstable commands (`-compat
unstable-input=reject`: no x-query-virtio-status) before and after the driver loads.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from lab import failover, inspect_guest
from lab.capture import CACHE, REPO, prepare
from lab.guest import Guest
from lab.qmp import Event
from pcie_failover.inspect.qmp import Monitor
from pcie_failover.inspect.read import Recorder, read_vm

OUT = REPO / "tests" / "inspect_replies"
BOOT = 120.0
MIGRATION = 300.0


def record(guest: Guest, name: str, out: Path) -> None:
    """Read the VM as inspect does and write its command line and every reply to `out/name.json`."""
    monitor = Monitor(str(guest.spec.workdir / inspect_guest.MONITOR))
    monitor.open()
    try:
        recorder = Recorder(monitor)
        read_vm(recorder)
    finally:
        monitor.close()
    cmdline = Path(f"/proc/{monitor.pid}/cmdline").read_bytes().decode()
    document = {"state": name, "cmdline": cmdline, "replies": recorder.replies}
    (out / f"{name}.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"recorded {name}", file=sys.stderr)


def _status(value: str) -> Callable[[Event], bool]:
    def where(event: Event) -> bool:
        data = event.get("data")
        return isinstance(data, dict) and data.get("status") == value

    return where


def load_and_pair(guest: Guest) -> None:
    """Load virtio_net in the waiting guest and wait for net_failover to register all three devices."""
    inspect_guest.load_driver(guest.spec.workdir)
    for pattern in (failover.MASTER, failover.STANDBY, failover.PRIMARY):
        guest.wait_for(pattern, timeout=60)


def migrate(source: Guest, target: Guest, socket: Path) -> None:
    """Start a migration with MIGRATION events on both sides."""
    for guest in (source, target):
        guest.qmp.execute("migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]})
    source.qmp.execute("migrate-set-parameters", {"max-bandwidth": 1 << 34})
    source.qmp.execute("migrate", {"uri": f"unix:{socket}"})


def main(out: Path = OUT) -> None:
    """Boot the guests and record every state."""
    env = prepare(CACHE)
    initrd = inspect_guest.build_initramfs(env.kernel, CACHE)
    run = CACHE / "inspect-record"
    out.mkdir(parents=True, exist_ok=True)
    args = inspect_guest.lab_args()

    def spec(name: str, extra: list[str]) -> Guest:
        return Guest(inspect_guest.spec(name, run / name, env.kernel, initrd, extra))

    socket = run / "migrate.sock"
    with spec("src", args) as source, spec("dst", [*args, "-incoming", f"unix:{socket}"]) as target:
        source.wait_for(inspect_guest.WAITING, timeout=BOOT)
        record(source, "driver-not-loaded", out)
        load_and_pair(source)
        record(source, "active", out)
        migrate(source, target, socket)
        source.qmp.wait_event("UNPLUG_PRIMARY", timeout=60)
        record(source, "source-migrating", out)
        source.qmp.wait_event("MIGRATION", timeout=MIGRATION, where=_status("completed"))
        record(source, "source-migrated", out)
        target.qmp.wait_event("FAILOVER_NEGOTIATED", timeout=MIGRATION)
        target.wait_for(failover.PRIMARY, timeout=MIGRATION)
        record(target, "destination-active", out)
    with spec("slot3", inspect_guest.lab_args(primary_slot=3)) as guest:
        guest.wait_for(inspect_guest.WAITING, timeout=BOOT)
        inspect_guest.load_driver(guest.spec.workdir)
        guest.qmp.wait_event("FAILOVER_NEGOTIATED", timeout=60)
        guest.wait_for(inspect_guest.LOADED, timeout=60)
        record(guest, "primary-failed", out)
    with spec("unstable", [*args, "-compat", "unstable-input=reject"]) as guest:
        guest.wait_for(inspect_guest.WAITING, timeout=BOOT)
        record(guest, "no-virtio-status-hidden", out)
        load_and_pair(guest)
        record(guest, "no-virtio-status-plugged", out)


if __name__ == "__main__":
    main()
