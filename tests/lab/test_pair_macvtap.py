"""`pair --netdev macvtap=IF` proven in QEMU 10: the printed host steps create the macvtap and open its tap
device, QEMU takes it as `-netdev tap,fd=3` (command line) or through getfd + netdev_add (QMP), and the guest pairs.

The lower device is a veth named as the demo host's other PF port (the check reads the demo host). The primary
is the emulated e1000e of lab/failover.py. This host has no /dev/vhost-net (no vhost_net module for its kernel):
there `vhost=on` is turned off, the one change made to what `pair` printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lab import failover
from lab.capture import LabEnv
from lab.guest import Guest
from pcie_failover.cli import main

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures_sysfs"
DEMO = str(FIXTURES / "demo-host")
LOWER = "enp94s0f1np1"  # the demo host's second PF port: not the primary's PF
MAC = "52:54:00:6f:55:cc"
MACVTAP = "mvt5254006f55cc"


@pytest.fixture
def lower() -> Iterator[str]:
    """A veth pair whose first end is named LOWER, removed (with any macvtap on it) afterwards."""
    if Path(f"/sys/class/net/{LOWER}").exists():
        pytest.skip(f"{LOWER} already exists on this host")
    subprocess.run(["ip", "link", "add", LOWER, "type", "veth", "peer", "name", "mvtpeer0"], check=True)
    try:
        subprocess.run(["ip", "link", "set", "dev", LOWER, "up"], check=True)
        subprocess.run(["ip", "link", "set", "dev", "mvtpeer0", "up"], check=True)
        yield LOWER
    finally:
        subprocess.run(["ip", "link", "del", LOWER], check=False)  # takes the peer and the macvtap along


def _pair(output: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    code = main(
        ["--sysfs-root", DEMO, "pair", "5e:00.2", "--netdev", f"macvtap={LOWER}", "--mac", MAC, "--format", output]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def _host_steps(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The source host's macvtap steps as printed (the VF's own steps are all done on the demo host)."""
    steps = json.loads(_pair("json", capsys))["spec"]["host_preparation"]["source"]["steps"]
    return [step["command"] for step in steps]


def _vhost(value: str) -> str:
    return value if Path("/dev/vhost-net").exists() else value.replace("vhost=on", "vhost=off")


@pytest.mark.lab
@pytest.mark.usefixtures("lower")
def test_qemu_args_with_the_printed_host_steps_pair(
    failover_env: LabEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create, up, open_fd = _host_steps(capsys)
    assert open_fd == f'exec 3<>"/dev/tap$(cat /sys/class/net/{MACVTAP}/ifindex)"'
    subprocess.run(["sh", "-c", f"{create} && {up}"], check=True)
    assert Path(f"/sys/class/net/{MACVTAP}/address").read_text().strip() == MAC
    wrapper = tmp_path / "qemu-with-macvtap"  # the shell that starts QEMU takes the fd step first
    wrapper.write_text(f'#!/bin/sh\n{open_fd}\nexec qemu-system-x86_64 "$@"\n')
    wrapper.chmod(0o755)
    args = [_vhost(a) for a in failover.swap_primary(failover.split_args(_pair("qemu", capsys)), MAC)]
    assert "tap,id=hostnet0,vhost=on,fd=3" in [a.replace("vhost=off", "vhost=on") for a in args]
    spec = replace(
        failover.spec("pair-macvtap", tmp_path / "guest", failover_env.kernel, failover_env.initrd, args),
        qemu=str(wrapper),
    )
    with Guest(spec) as guest:
        roles = failover.paired(guest)
        assert len(set(roles.values())) == 3


@pytest.mark.lab
@pytest.mark.usefixtures("lower")
def test_qmp_getfd_and_netdev_add_pair(
    failover_env: LabEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create, up, _ = _host_steps(capsys)
    subprocess.run(["sh", "-c", f"{create} && {up}"], check=True)
    ports = [a for a in failover.split_args(_pair("qemu", capsys)) if a.startswith("pcie-root-port,")]
    argv = [word for port in ports for word in ("-device", port)]
    commands = failover.qmp_commands(_pair("qmp", capsys))
    assert [c["execute"] for c in commands] == ["getfd", "netdev_add", "device_add", "device_add"]
    index = Path(f"/sys/class/net/{MACVTAP}/ifindex").read_text().strip()
    with Guest(failover.spec("pair-macvtap-qmp", tmp_path, failover_env.kernel, failover_env.initrd, argv)) as guest:
        guest.wait_for(failover.READY, timeout=failover.BOOT)
        guest.qmp.execute("netdev_add", {"type": "user", "id": failover.PRIMARY_NETDEV, "restrict": True})
        for command in commands:
            arguments = command["arguments"]
            if command["execute"] == "getfd":
                fd = os.open(f"/dev/tap{index}", os.O_RDWR)
                with contextlib.closing(os.fdopen(fd, "rb", buffering=0)):
                    guest.qmp._client.send_fd_scm(fd)  # lab.qmp has no fd passing: its qemu.qmp client does
                    guest.qmp.execute("getfd", arguments)
                continue
            if command["execute"] == "netdev_add" and not Path("/dev/vhost-net").exists():
                arguments = {**arguments, "vhost": False}
            if arguments.get("driver") == "vfio-pci":
                arguments = failover.emulated_primary(arguments, MAC)
            guest.qmp.execute(command["execute"], arguments)
        roles = failover.paired(guest)
        assert len(set(roles.values())) == 3
