"""`pair`'s host steps follow the source VF as read; the destination's are generic; --pool and macvtap coherence."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Function, Host, Netdev
from fixtures_sysfs.captures import TOPOLOGIES
from fixtures_sysfs.hosts import CX5_VF, DEMO_MAC, MELLANOX, demo_host, demo_pf
from tests.support.cli import Run
from tests.support.trees import Captures

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures_sysfs"
DEMO = str(FIXTURES / "demo-host")
VTD, VF_ADMIN = "vtd-acpi", "vf-admin"  # captured topologies: read from the session's copies (`captures`)
VF = "5e:00.2"
SYSFS_VF0 = "/sys/bus/pci/devices/0000:5e:00.2"
DERIVED = "02:12:34:56:00:00"  # PF b8:ce:f6:12:34:56, VF 0
MAC_STEP = f"ip link set dev enp94s0f0np0 vf 0 mac {DERIVED}"
OVERRIDE = f"echo vfio-pci > {SYSFS_VF0}/driver_override"
PROBE = "echo 0000:5e:00.2 > /sys/bus/pci/drivers_probe"
ON_VFIO = "0000:5e:00.2 is already on vfio-pci: no driver_override, unbind or drivers_probe"
LOADED, NO_DRIVER = "vfio-pci is loaded", "no driver is bound: nothing to unbind"
DESTINATION = [
    "ip link set dev DEST_PF vf DEST_VF_INDEX mac {mac}",
    "modprobe vfio-pci",
    "echo vfio-pci > /sys/bus/pci/devices/DEST_VF/driver_override",
    "echo DEST_VF > /sys/bus/pci/devices/DEST_VF/driver/unbind",
    "echo DEST_VF > /sys/bus/pci/drivers_probe",
]


def _vf0(**changes: object) -> Host:
    base = demo_pf()
    vf0 = replace(Function("", MELLANOX, CX5_VF, driver="vfio-pci", iommu_group=23), **changes)  # type: ignore[arg-type]
    return demo_host(pf=replace(base, vfs=(vf0, *base.vfs[1:])))


def _vfio_unloaded() -> Host:
    """VF 0 unbound with driver_override vfio-pci, and no function on vfio-pci: the driver is not registered."""
    base = demo_pf()
    vf0 = replace(base.vfs[0], driver=None, driver_override="vfio-pci")
    vfs = (vf0, *base.vfs[1:3], replace(base.vfs[3], driver=None))
    return replace(demo_host(pf=replace(base, vfs=vfs)), loaded_drivers=("pcieport",))


@dataclass(frozen=True)
class State:
    """A VF's state, the `pair` arguments, and the source host's expected steps and skipped notes."""

    root: str | Callable[[], Host]
    args: tuple[str, ...]
    steps: tuple[str, ...]
    skipped: tuple[str, ...]
    mac: str = DERIVED


STATES = {
    # on vfio-pci, its MAC not proven an administrator's: pair derives another, whose step remains
    "vfio-derived-mac": State(DEMO, (VF,), (MAC_STEP,), (ON_VFIO,)),
    # --mac asserts the VF's admin MAC is the administrator's: nothing left to do
    "vfio-asserted-mac": State(
        DEMO,
        (VF, "--mac", DEMO_MAC),
        (),
        (f"the VF's admin MAC is already {DEMO_MAC}, an administrator's", ON_VFIO),
        DEMO_MAC,
    ),
    # its own interface uses another MAC: the PF's was set by an administrator, and reused
    "proven-mac-host-driver": State(
        lambda: _vf0(driver="mlx5_core", netdevs=(Netdev("enp94s0f0v0", "e6:07:34:1a:10:20", up=False),)),
        (VF, "--force"),
        (OVERRIDE, f"echo 0000:5e:00.2 > {SYSFS_VF0}/driver/unbind", PROBE),
        (f"the VF's admin MAC is already {DEMO_MAC}, an administrator's", LOADED),
        DEMO_MAC,
    ),
    "variant-driver": State(
        lambda: _vf0(driver="mlx5_vfio_pci", vfio_dev=True),
        (VF,),
        (MAC_STEP,),
        ("0000:5e:00.2 is already on mlx5_vfio_pci: no driver_override, unbind or drivers_probe",),
    ),
    "unbound": State(
        DEMO,
        ("5e:00.4", "--force"),
        (
            "ip link set dev enp94s0f0np0 vf 2 mac 02:12:34:56:00:02",
            "echo vfio-pci > /sys/bus/pci/devices/0000:5e:00.4/driver_override",
            "echo 0000:5e:00.4 > /sys/bus/pci/drivers_probe",
        ),
        (LOADED, NO_DRIVER),
        "02:12:34:56:00:02",
    ),
    "override-unbound": State(
        lambda: _vf0(driver=None, driver_override="vfio-pci"),
        (VF, "--force"),
        (MAC_STEP, PROBE),
        (LOADED, "driver_override is already vfio-pci", NO_DRIVER),
    ),
    "vfio-not-loaded": State(
        _vfio_unloaded,
        (VF, "--force"),
        (MAC_STEP, "modprobe vfio-pci", PROBE),
        ("driver_override is already vfio-pci", NO_DRIVER),
    ),
    "host-driver-its-own-mac": State(
        DEMO,
        ("5e:00.3", "--force"),
        (
            "ip link set dev enp94s0f0np0 vf 1 mac 02:12:34:56:00:01",
            "echo vfio-pci > /sys/bus/pci/devices/0000:5e:00.3/driver_override",
            "echo 0000:5e:00.3 > /sys/bus/pci/devices/0000:5e:00.3/driver/unbind",
            "echo 0000:5e:00.3 > /sys/bus/pci/drivers_probe",
        ),
        (LOADED,),
        "02:12:34:56:00:01",
    ),
    "captured-vfio": State(
        VTD,
        ("0000:01:10.0", "--mac", DEMO_MAC),
        (),
        (
            f"the VF's admin MAC is already {DEMO_MAC}, an administrator's",
            "0000:01:10.0 is already on vfio-pci: no driver_override, unbind or drivers_probe",
        ),
        DEMO_MAC,
    ),
    "captured-igbvf": State(
        VTD,
        ("0000:01:10.2", "--force"),
        (
            "ip link set dev eth0 vf 1 mac 02:00:00:01:00:01",
            "echo vfio-pci > /sys/bus/pci/devices/0000:01:10.2/driver_override",
            "echo 0000:01:10.2 > /sys/bus/pci/devices/0000:01:10.2/driver/unbind",
            "echo 0000:01:10.2 > /sys/bus/pci/drivers_probe",
        ),
        (LOADED,),
        "02:00:00:01:00:01",
    ),
    "captured-zero-mac-on-vfio": State(
        VF_ADMIN,
        ("0000:01:10.4", "--force"),
        ("ip link set dev eth0 vf 2 mac 02:00:00:01:00:02",),
        ("0000:01:10.4 is already on vfio-pci: no driver_override, unbind or drivers_probe",),
        "02:00:00:01:00:02",
    ),
}


@pytest.mark.parametrize("name", sorted(STATES))
def test_source_steps_follow_the_vf_destination_steps_are_generic(
    name: str, cli: Callable[..., Run], host_root: Callable[[Host], Path], captures: Captures
) -> None:
    state = STATES[name]
    if not isinstance(state.root, str):
        root = str(host_root(state.root()))
    else:
        root = str(captures(state.root)) if state.root in TOPOLOGIES else state.root
    run = cli("--sysfs-root", root, "pair", *state.args, "--format", "json")
    spec = run.json["spec"]
    assert spec["mac"]["address"] == state.mac
    prep = spec["host_preparation"]
    source, destination = prep["source"], prep["destination"]
    assert (tuple(s["command"] for s in source["steps"]), tuple(source["skipped"])) == (state.steps, state.skipped)
    assert source["note"].startswith(f"steps for {spec['primary']['host']} as read on this host ")
    assert [s["command"] for s in destination["steps"]] == [line.format(mac=state.mac) for line in DESTINATION]
    assert (destination["skipped"], destination["note"].split(";")[0]) == (
        [],
        "generic steps (its VF's state is not known here: skip a step already done there)",
    )


def test_summary_labels_the_hosts_and_says_what_is_done(cli: Callable[..., Run]) -> None:
    lines = cli("--sysfs-root", DEMO, "pair", VF, "--mac", DEMO_MAC).out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("source host: ")))
    assert lines[start : start + 4] == [
        "source host: steps for 0000:5e:00.2 as read on this host (a step already done is left out); the MAC "
        f"{DEMO_MAC} belongs to the VM: record it; the destination's VF must carry it too",
        f"  (done: the VF's admin MAC is already {DEMO_MAC}, an administrator's)",
        f"  (done: {ON_VFIO})",
        "",
    ]
    assert lines[start + 4].startswith("destination host: generic steps (its VF's state is not known here")


def test_libvirt_has_no_vf_steps_and_a_pool_the_same_on_both_hosts(cli: Callable[..., Run]) -> None:
    prep = cli("--sysfs-root", DEMO, "pair", VF, "--for", "libvirt", "--format", "json").json["spec"]
    assert [prep["host_preparation"][h]["steps"] for h in ("source", "destination")] == [[], []]
    pool = cli("--sysfs-root", DEMO, "pair", VF, "--for", "libvirt", "--pool", "p", "--format", "json").json["spec"]
    steps = [[s["command"] for s in pool["host_preparation"][h]["steps"]] for h in ("source", "destination")]
    assert steps == [["virsh net-define p.xml", "virsh net-start p", "virsh net-autostart p"]] * 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--pool", "p"),
            "--pool needs --for libvirt: libvirt takes the VF from the hostdev network when the VM starts",
        ),
        (("--pool", "p", "--format", "libvirt"), "--pool needs --for libvirt: "),
        (("--pool", "p", "--for", "libvirt", "--format", "qemu"), "--pool has no --format qemu form: QEMU needs the "),
        (("--pool", "p", "--for", "libvirt", "--format", "qmp"), "--pool has no --format qmp form: "),
    ],
)
def test_pool_outside_libvirt_output_is_refused(cli: Callable[..., Run], args: tuple[str, ...], message: str) -> None:
    run = cli("--sysfs-root", DEMO, "pair", VF, *args)
    assert (run.code, run.out, run.err.count("\n")) == (2, "", 1)
    assert run.err.startswith(f"pcie-failover pair: {message}")


def test_pool_qemu_refusal_names_what_to_use(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "pair", VF, "--pool", "p", "--for", "libvirt", "--format", "qemu")
    assert run.err == (
        "pcie-failover pair: --pool has no --format qemu form: QEMU needs the VF's address (host=), which libvirt "
        "chooses from the pool at start; use --format libvirt, json or summary (try 'pcie-failover pair --help')\n"
    )


@pytest.mark.parametrize("output", ["summary", "libvirt", "json"])
def test_pool_with_libvirt_output_is_printed(cli: Callable[..., Run], output: str) -> None:
    assert cli("--sysfs-root", DEMO, "pair", VF, "--for", "libvirt", "--pool", "p", "--format", output).code == 0


MACVTAP = ("--netdev", "macvtap=enp94s0f1np1", "--mac", DEMO_MAC)  # the card's other port: another PF, another switch
MVT = "mvt5254006f55cc"


def test_macvtap_qemu_form_and_its_host_steps(cli: Callable[..., Run]) -> None:
    spec = cli("--sysfs-root", DEMO, "pair", VF, *MACVTAP, "--format", "json").json["spec"]
    assert spec["standby"]["backend"] == {
        "type": "macvtap",
        "bridge": None,
        "macvtap": {"lower": "enp94s0f1np1", "name": MVT, "fd": 3, "qmp_fdname": "fd-hostnet0"},
    }
    assert spec["qemu_args"][4:6] == ["-netdev", "tap,id=hostnet0,vhost=on,fd=3"]
    macvtap_steps = [
        f"ip link add link enp94s0f1np1 name {MVT} address {DEMO_MAC} type macvtap mode bridge",
        f"ip link set dev {MVT} up",
        f'exec 3<>"/dev/tap$(cat /sys/class/net/{MVT}/ifindex)"',
    ]
    for host in ("source", "destination"):
        assert [s["command"] for s in spec["host_preparation"][host]["steps"]][-3:] == macvtap_steps
    assert spec["host_preparation"]["destination"]["note"].endswith(
        "; the macvtap's lower device enp94s0f1np1 must exist there too"
    )
    assert shlex.split(macvtap_steps[2]) == ["exec", f"3<>/dev/tap$(cat /sys/class/net/{MVT}/ifindex)"]
    assert spec["qmp"][:2] == [
        {"execute": "getfd", "arguments": {"fdname": "fd-hostnet0"}},
        {"execute": "netdev_add", "arguments": {"type": "tap", "id": "hostnet0", "vhost": True, "fd": "fd-hostnet0"}},
    ]
    assert spec["libvirt"]["interfaces"][0].splitlines()[:2] == [
        '<interface type="direct">',
        '  <source dev="enp94s0f1np1" mode="bridge" />',
    ]


def test_macvtap_is_named_after_the_vm_mac_within_ifnamsiz(cli: Callable[..., Run]) -> None:
    spec = cli("--sysfs-root", DEMO, "pair", VF, "--netdev", "macvtap=br0", "--format", "json").json["spec"]
    assert spec["standby"]["backend"]["macvtap"]["name"] == "mvt021234560000"  # the derived MAC
    assert len("mvt021234560000") == 15  # IFNAMSIZ - 1


def test_macvtap_libvirt_takes_no_host_steps(cli: Callable[..., Run]) -> None:
    spec = cli("--sysfs-root", DEMO, "pair", VF, *MACVTAP, "--for", "libvirt", "--format", "json").json["spec"]
    assert [spec["host_preparation"][h]["steps"] for h in ("source", "destination")] == [[], []]


def _vf0_with_interface() -> Host:
    return _vf0(driver="mlx5_core", netdevs=(Netdev("enp94s0f0v0", "e6:07:34:1a:10:20", up=False),))


def _bridge_over_pf() -> Host:
    return replace(demo_host(), bridges=(("br1", ("enp94s0f0np0", "vnet1")),), taps=(("vnet1", "br1"),))


@pytest.mark.parametrize(
    ("make", "lower", "message"),
    [
        (
            _vf0_with_interface,
            "enp94s0f0v0",
            "enp94s0f0v0 is the primary VF itself, which the guest takes over: choose an uplink on another PF",
        ),
        (
            None,
            "enp94s0f0np0",
            "enp94s0f0np0 is on the primary's PF 0000:5e:00.0, whose switch already steers the VM's MAC to the VF; "
            "the macvtap would claim it there too (mlx5: 'mac is already in use by vport'): choose an uplink on "
            "another PF",
        ),
        (None, "enp94s0f0v1", "enp94s0f0v1 is on the primary's PF 0000:5e:00.0, whose switch "),
        (_bridge_over_pf, "br1", "br1 (through enp94s0f0np0) is on the primary's PF 0000:5e:00.0, whose switch "),
    ],
    ids=["the-vf", "its-pf", "a-sibling-vf", "a-bridge-over-its-pf"],
)
def test_a_macvtap_on_the_primarys_vf_or_pf_is_refused(
    cli: Callable[..., Run],
    host_root: Callable[[Host], Path],
    make: Callable[[], Host] | None,
    lower: str,
    message: str,
) -> None:
    root = DEMO if make is None else str(host_root(make()))
    run = cli("--sysfs-root", root, "pair", VF, "--netdev", f"macvtap={lower}", "--force")
    assert (run.code, run.out, run.err.count("\n")) == (2, "", 1)
    assert run.err.startswith(f"pcie-failover pair: --netdev macvtap={lower}: {message}")
    error = cli("--sysfs-root", root, "pair", VF, "--netdev", f"macvtap={lower}", "--format", "json").json["error"]
    assert (error["code"], error["kind"]) == (2, "input")


def test_a_macvtap_lower_device_that_does_not_exist_refuses_the_pair(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "pair", VF, "--netdev", "macvtap=nosuch0")
    assert (run.code, run.out) == (1, "")
    assert "FAIL standby-uplink: the standby backend nosuch0 does not exist on this host" in run.err
