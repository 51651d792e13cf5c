"""`pair` output proven in QEMU 10: the guest pairs, migration unplugs and re-plugs the primary.

No VF can be passed through here: the generated `vfio-pci` primary is swapped for an
emulated e1000e with the same id, bus, MAC and failover_pair_id (lab/failover.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import failover
from lab.capture import FIXTURES, LabEnv
from lab.guest import Guest
from lab.qmp import Event
from pcie_failover.cli import main
from tests.support.trees import Captures

SYSFS = FIXTURES / "vtd-acpi" / "sysfs"
VF = "0000:01:10.0"  # on vfio-pci with admin MAC 52:54:00:6f:55:cc in that capture
MAC = "52:54:00:6f:55:cc"
MIGRATION = 240.0


@pytest.fixture(scope="module")
def lab(failover_env: LabEnv) -> LabEnv:
    """The failover guest's environment, when the capture whose VF the pair names is there."""
    if not SYSFS.is_dir():
        pytest.skip(f"no capture at {SYSFS}")
    return failover_env


def _pair(output: str, capsys: pytest.CaptureFixture[str], root: Path) -> str:
    capsys.readouterr()
    # --mac: the admin MAC the capture's job set on the VF (nothing in sysfs proves it an administrator's)
    code = main(["--sysfs-root", str(root), "pair", VF, "--netdev", "user", "--mac", MAC, "--format", output])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def _status(value: str) -> object:
    def where(event: Event) -> bool:
        data = event.get("data")
        return isinstance(data, dict) and data.get("status") == value

    return where


@pytest.mark.lab
def test_qemu_args_pair_and_migrate(
    lab: LabEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str], captures: Captures
) -> None:
    args = failover.swap_primary(failover.split_args(_pair("qemu", capsys, captures("vtd-acpi"))), MAC)
    socket = tmp_path / "migrate.sock"
    source = Guest(failover.spec("pair-src", tmp_path / "src", lab.kernel, lab.initrd, args))
    target = Guest(
        failover.spec("pair-dst", tmp_path / "dst", lab.kernel, lab.initrd, [*args, "-incoming", f"unix:{socket}"])
    )
    with source, target:
        roles = failover.paired(source)  # the modules load before the init says it is ready
        assert len(set(roles.values())) == 3
        source.wait_for(failover.READY, timeout=30)
        for guest in (source, target):
            guest.qmp.execute("migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]})
        source.qmp.execute("migrate-set-parameters", {"max-bandwidth": 1 << 34})
        source.qmp.execute("migrate", {"uri": f"unix:{socket}"})
        unplug = source.qmp.wait_event("UNPLUG_PRIMARY", timeout=60)
        assert unplug["data"] == {"device-id": "hostdev0"}
        source.qmp.wait_event("MIGRATION", timeout=60, where=_status("wait-unplug"))  # type: ignore[arg-type]
        source.qmp.wait_event("MIGRATION", timeout=MIGRATION, where=_status("completed"))  # type: ignore[arg-type]
        negotiated = target.qmp.wait_event("FAILOVER_NEGOTIATED", timeout=MIGRATION)
        assert negotiated["data"] == {"device-id": "net0"}
        assert target.wait_for(failover.PRIMARY, timeout=MIGRATION)[1] == roles["primary"]


@pytest.mark.lab
def test_qmp_commands_hotplug_a_pair(
    lab: LabEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str], captures: Captures
) -> None:
    ports = [
        a for a in failover.split_args(_pair("qemu", capsys, captures("vtd-acpi"))) if a.startswith("pcie-root-port,")
    ]
    assert len(ports) == 2
    argv = [word for port in ports for word in ("-device", port)]
    commands = failover.qmp_commands(_pair("qmp", capsys, captures("vtd-acpi")))
    assert [c["execute"] for c in commands] == ["netdev_add", "device_add", "device_add"]
    with Guest(failover.spec("pair-qmp", tmp_path, lab.kernel, lab.initrd, argv)) as guest:
        guest.wait_for(failover.READY, timeout=failover.BOOT)
        guest.qmp.execute("netdev_add", {"type": "user", "id": failover.PRIMARY_NETDEV, "restrict": True})
        for command in commands:
            arguments = command["arguments"]
            if arguments.get("driver") == "vfio-pci":
                arguments = failover.emulated_primary(arguments, commands[1]["arguments"]["mac"])
            guest.qmp.execute(command["execute"], arguments)
        roles = failover.paired(guest)
        assert len(set(roles.values())) == 3
