"""Values reach QEMU, the shell, QMP and JSON exactly: commas doubled, words quoted, nothing re-parsed."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from pcie_failover.model.address import MacAddress, PciAddress
from pcie_failover.pair.mac import derive_mac
from pcie_failover.pair.model import HostStep
from pcie_failover.pair.notes import shell_command
from pcie_failover.pair.ports import ChassisSlot, choose_addrs, choose_ports
from pcie_failover.pair.qemu_args import option_value
from tests.support.cli import Run

DEMO = str(Path(__file__).resolve().parent.parent / "fixtures_sysfs" / "demo-host")
NASTY = "b,r=<&'\""  # a valid Linux interface name


def _qemu_options(text: str) -> list[str]:
    """Split a QEMU option string the way QEMU does: a single comma separates, `,,` is a comma."""
    return [part.replace("\0", ",") for part in re.split(r"(?<!,),(?!,)", text.replace(",,", "\0"))]


def test_option_value_doubles_commas() -> None:
    assert option_value("a,b,,c") == "a,,b,,,,c"
    assert _qemu_options("bridge,id=x,br=" + option_value(NASTY)) == ["bridge", "id=x", f"br={NASTY}"]


def test_qemu_output_is_shell_quoted_and_comma_escaped(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "pair", "5e:00.2", "--netdev", f"bridge={NASTY}", "--force", "--format", "qemu")
    assert run.code == 1  # no such bridge on the demo host: printed with --force
    body = "".join(line for line in run.out.splitlines(keepends=True) if not line.startswith("#"))
    argv = shlex.split(body.replace("\\\n", ""))  # the shell drops backslash-newline
    netdev = argv[argv.index("-netdev") + 1]
    assert netdev == "bridge,id=hostnet0,br=b,,r=<&'\""
    assert _qemu_options(netdev) == ["bridge", "id=hostnet0", f"br={NASTY}"]
    assert argv[::2] == ["-device", "-device", "-netdev", "-device", "-device"]


def test_qmp_and_json_carry_the_raw_value(cli: Callable[..., Run]) -> None:
    args = ("--sysfs-root", DEMO, "pair", "5e:00.2", "--netdev", f"bridge={NASTY}", "--force")
    run = cli(*args, "--format", "qmp")
    commands = [json.loads(line) for line in run.out.splitlines() if not line.startswith("#")]
    assert commands[0] == {"execute": "netdev_add", "arguments": {"type": "bridge", "id": "hostnet0", "br": NASTY}}
    spec = cli(*args, "--format", "json").json["spec"]
    assert spec["standby"]["backend"] == {"type": "bridge", "bridge": NASTY, "macvtap": None}
    assert spec["qemu_args"][5] == "bridge,id=hostnet0,br=b,,r=<&'\""


def test_shell_commands_quote_every_word() -> None:
    step = HostStep("x", ("ip", "link", "set", "dev", "a'b;c", "vf", "0"), "/sys/x y")
    assert shell_command(step) == "ip link set dev 'a'\"'\"'b;c' vf 0 > '/sys/x y'"
    assert shlex.split(shell_command(step))[4] == "a'b;c"


def test_pool_name_is_shell_quoted_in_host_steps(cli: Callable[..., Run]) -> None:
    args = ("--for", "libvirt", "--pool", "p&'x", "--format", "json")
    prep = cli("--sysfs-root", DEMO, "pair", "5e:00.2", *args).json["spec"]["host_preparation"]
    commands = [shlex.split(s["command"]) for s in prep["source"]["steps"]]
    assert commands == [
        ["virsh", "net-define", "p&'x.xml"],
        ["virsh", "net-start", "p&'x"],
        ["virsh", "net-autostart", "p&'x"],
    ]


def test_derived_mac() -> None:
    pf = MacAddress.parse("b8:ce:f6:12:34:56")
    assert str(derive_mac(pf, 0)) == "02:12:34:56:00:00"
    assert str(derive_mac(pf, 300)) == "02:12:34:56:01:2c"
    assert str(derive_mac(MacAddress.parse("b8:ce:f6:12:34:57"), 0)) != str(derive_mac(pf, 0))
    mac = derive_mac(pf, 7)
    assert not mac.is_multicast
    assert mac.octets[0] & 0x02


def test_ports_skip_used_pairs_and_never_take_vga_slot() -> None:
    assert choose_ports((ChassisSlot(1, 1), ChassisSlot(2, 3)), ()) == (ChassisSlot(2, 2), ChassisSlot(3, 3))
    assert choose_ports((ChassisSlot(1, 1), ChassisSlot(2, 2)), ()) == (ChassisSlot(3, 3), ChassisSlot(4, 4))
    assert choose_addrs(()) == (0x02, 0x03)
    used = tuple(PciAddress(0, 0, d, 0) for d in (2, 3, 5))
    assert choose_addrs(used) == (0x04, 0x06)
    assert 0x01 not in choose_addrs((PciAddress(0, 0, 0, 0),))
    assert choose_addrs((PciAddress(0, 1, 2, 0),)) == (0x02, 0x03)  # another bus: no conflict on pcie.0


@pytest.mark.parametrize(
    "args",
    [("--format", "libvirt"), ("--for", "libvirt"), ("--for", "libvirt", "--pool", "sriov")],
)
def test_an_id_libvirt_would_drop_as_alias_is_refused_for_libvirt(
    cli: Callable[..., Run], args: tuple[str, ...]
) -> None:
    run = cli("--sysfs-root", DEMO, "pair", "5e:00.2", "--standby-id", "net.0", *args)
    assert (run.code, run.out, run.err) == (
        2,
        "",
        "pcie-failover pair: --standby-id 'net.0': libvirt drops the alias 'ua-net.0' "
        "(only letters, digits, '-', '_') (try 'pcie-failover pair --help')\n",
    )
    assert cli("--sysfs-root", DEMO, "pair", "5e:00.2", "--standby-id", "net.0", "--format", "qemu").code != 2
