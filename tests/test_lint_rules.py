"""Each guest-side rule passes on the canonical layout and fails (or warns) on the variation it explains."""

from __future__ import annotations

import pytest

from pcie_failover.lint.guest_rules import LINT_RULES, LINT_RULES_BY_ID
from pcie_failover.lint.model import ConfigKind, HostFacts, LintInput
from pcie_failover.lint.parse import parse_vm_config
from pcie_failover.model.address import MacAddress
from pcie_failover.model.results import Status
from tests.support.lint_configs import (
    GOOD,
    MAC,
    PRIMARY,
    RP1,
    RP2,
    STANDBY,
    VF,
    XML_GOOD,
    XML_PLACED,
    XML_PRIMARY,
    XML_STANDBY,
    domain,
)


def run(
    rule_id: str,
    text: str,
    kind: ConfigKind = ConfigKind.QEMU,
    version: tuple[int, int, int] | None = (10, 0, 2),
    admin_mac: str | None = MAC,
) -> tuple[Status, str]:
    """One rule's status and message over `text`; the VF's admin MAC as the host check would read it."""
    macs = {VF: None if admin_mac is None else MacAddress.parse(admin_mac)}
    result = LINT_RULES_BY_ID[rule_id].run(LintInput(parse_vm_config(text, kind), version, HostFacts(macs)))
    return result.status, result.message


def test_the_registry_has_stable_unique_ids_and_facts() -> None:
    ids = [rule.rule_id for rule in LINT_RULES]
    assert len(ids) == len(set(ids)) == 19
    assert all(rule.title and rule.fact for rule in LINT_RULES)


@pytest.mark.parametrize("rule", [r.rule_id for r in LINT_RULES])
@pytest.mark.parametrize(("text", "kind"), [(GOOD, ConfigKind.QEMU), (domain(XML_PLACED), ConfigKind.LIBVIRT)])
def test_the_canonical_layout_passes_every_rule(rule: str, text: str, kind: ConfigKind) -> None:
    status, message = run(rule, text, kind)
    assert status in (Status.PASS, Status.SKIP), message
    if kind is ConfigKind.LIBVIRT or not rule.startswith("libvirt-"):
        assert status is Status.PASS, message


Q = ConfigKind.QEMU
L = ConfigKind.LIBVIRT
CASES = [
    ("machine", GOOD.replace("q35", "pc"), Q, Status.FAIL, "machine pc has no PCI Express bus"),
    ("machine", "qemu-system-x86_64 " + GOOD.replace("-machine q35 ", ""), Q, Status.FAIL, "the default of a command"),
    ("machine", GOOD.replace("-machine q35", "-M virt-9.0"), Q, Status.PASS, "virt-9.0 has PCI Express"),
    ("machine", XML_GOOD, L, Status.SKIP, "no machine given (a fragment)"),
    ("pair-id", GOOD.replace("pair_id=net0", "pair_id=net9"), Q, Status.FAIL, "failover_pair_id=net9 names no device"),
    ("pair-id", GOOD.replace(",failover=on", ""), Q, Status.FAIL, "has no failover=on"),
    ("pair-id", GOOD.replace("pair_id=net0", "pair_id=rp1"), Q, Status.FAIL, "names a pcie-root-port, not a virtio"),
    ("pair-id", GOOD.replace(PRIMARY, ""), Q, Status.WARN, "Primary device not found"),
    ("pair-id", f"{RP1} -device e1000e,id=x", Q, Status.FAIL, "no failover pair"),
    ("primary-id", GOOD.replace("id=hostdev0,", ""), Q, Status.FAIL, "Device with failover_pair_id needs to have id"),
    ("primary-id", GOOD.replace(PRIMARY, ""), Q, Status.SKIP, "no failover primary"),
    (
        "one-primary",
        f"{GOOD} -device vfio-pci,host=5e:00.3,id=hostdev1,bus=rp3,failover_pair_id=net0",
        Q,
        Status.FAIL,
        "Cannot attach more than one primary device to 'net0': 'hostdev0' and 'hostdev1'",
    ),
    ("order", f"-machine q35 {RP1} {RP2} {PRIMARY} {STANDBY}", Q, Status.FAIL, "comes before its standby"),
    ("order", domain(XML_PRIMARY + XML_STANDBY), L, Status.PASS, "libvirt creates the standby first"),
    ("primary-bus", GOOD.replace("bus=rp2", "bus=pcie.0"), Q, Status.FAIL, "Bus 'pcie.0' does not support hotplug"),
    ("primary-bus", GOOD.replace("bus=rp2,", ""), Q, Status.FAIL, "on the root bus pcie.0"),
    ("primary-bus", GOOD.replace("slot=2", "slot=2,hotplug=off"), Q, Status.FAIL, "rp2 has hotplug=off"),
    ("primary-bus", GOOD.replace("bus=rp2", "bus=rp7"), Q, Status.FAIL, "Bus 'rp7' not found"),
    (
        "primary-bus",
        GOOD.replace(RP2, "-device pcie-pci-bridge,id=rp2,bus=pcie.0"),
        Q,
        Status.FAIL,
        "rp2 is conventional PCI (failover primary device must be on PCIExpress bus)",
    ),
    (
        "primary-bus",
        GOOD.replace(RP2, f"{RP2} -device x3130-upstream,id=up,bus=rp2").replace("bus=rp2,addr", "bus=up,addr"),
        Q,
        Status.FAIL,
        "up is a switch's (or expander's) internal bus",
    ),
    (
        "primary-bus",
        GOOD.replace(
            RP2, f"{RP2} -device x3130-upstream,id=up,bus=rp2 -device xio3130-downstream,id=dp,bus=up,chassis=3"
        ).replace("bus=rp2,addr", "bus=dp,addr"),
        Q,
        Status.PASS,
        "hostdev0 on dp (PCIe, hotplug)",
    ),
    (
        "primary-bus",
        domain(
            XML_STANDBY
            + "<controller type='pci' index='3' model='pcie-root-port'><target chassis='3' hotplug='off'/></controller>"
            + XML_PRIMARY.replace(
                "</interface>", "<address type='pci' bus='0x03' slot='0x00' function='0x0'/></interface>"
            )
        ),
        L,
        Status.FAIL,
        "pci.3 has hotplug=off",
    ),
    (
        "primary-bus",
        domain(
            XML_STANDBY
            + XML_PRIMARY.replace("</interface>", "<address type='pci' bus='0x00' slot='0x05'/></interface>")
        ),
        L,
        Status.FAIL,
        "on the root bus pcie.0",
    ),
    ("primary-function", GOOD.replace("bus=rp2,addr=0x0", "bus=rp2,addr=0x0.0x1"), Q, Status.FAIL, "function 1"),
    (
        "primary-function",
        GOOD.replace("addr=0x0,failover_pair", "multifunction=on,failover_pair"),
        Q,
        Status.FAIL,
        "own PCI slot",
    ),
    (
        "primary-alone",
        GOOD.replace("bus=rp2", "bus=rp1"),
        Q,
        Status.FAIL,
        "rp1 also holds -device virtio-net-pci (id net0)",
    ),
    (
        "primary-alone",
        f"{GOOD} -device virtio-rng-pci,bus=rp2,addr=0x1",
        Q,
        Status.FAIL,
        "port rp2 also holds -device virtio-rng-pci #5",
    ),
    ("standby-slot", GOOD.replace("bus=rp2", "bus=rp1"), Q, Status.FAIL, "share slot 0 of rp1"),
    ("standby-slot", GOOD.replace("bus=rp2,", "").replace("bus=rp1,", ""), Q, Status.PASS, "different slots"),
    (
        "standby-slot",
        GOOD.replace("bus=rp2,addr=0x0", "bus=pcie.0,addr=0x5").replace("bus=rp1,addr=0x0", "bus=pcie.0,addr=0x5"),
        Q,
        Status.FAIL,
        "share slot 5 of pcie.0",
    ),
    ("chassis-slot", GOOD.replace("chassis=2,slot=2", "chassis=1,slot=1"), Q, Status.FAIL, "rp1, rp2 share chassis 1"),
    (
        "chassis-slot",
        GOOD.replace(",chassis=1,slot=1", "").replace(",chassis=2,slot=2", ""),
        Q,
        Status.FAIL,
        "error -16",
    ),
    ("chassis-slot", XML_GOOD, L, Status.SKIP, "no PCIe root or downstream port"),
    ("primary-ethernet", GOOD.replace("vfio-pci,host=0000:5e:00.2", "virtio-rng-pci"), Q, Status.FAIL, "class 0x00ff"),
    ("primary-ethernet", GOOD.replace("vfio-pci,host=0000:5e:00.2", "e1000e"), Q, Status.PASS, "Ethernet"),
    (
        "primary-ethernet",
        GOOD.replace("vfio-pci,host=0000:5e:00.2", "mystery-nic"),
        Q,
        Status.WARN,
        "not a known Ethernet",
    ),
    ("standby-mac", GOOD.replace(f",mac={MAC}", ""), Q, Status.FAIL, "no MAC (QEMU picks 52:54:00:12:34:5x"),
    ("standby-mac", GOOD.replace(f"mac={MAC}", "mac=01:00:5e:00:00:01"), Q, Status.FAIL, "not a unicast MAC"),
    ("standby-mac", GOOD.replace(f"mac={MAC}", "mac=nope"), Q, Status.FAIL, "is not a MAC address"),
    ("mac-match", GOOD.replace(MAC, MAC.upper()), Q, Status.PASS, f"same MAC: hostdev0 {MAC}"),
    ("mac-match", GOOD.replace(MAC, "52:54:00:6f:55:dd"), Q, Status.FAIL, "admin MAC 52:54:00:6f:55:cc differs"),
    (
        "mac-match",
        domain(XML_STANDBY + XML_PRIMARY.replace(MAC, "52:54:00:6f:55:dd")),
        L,
        Status.FAIL,
        "its MAC 52:54:00:6f:55:dd differs from ua-net0's 52:54:00:6f:55:cc",
    ),
    ("acpi-hotplug", GOOD.replace("q35", "pc-q35-6.1"), Q, Status.PASS, "QEMU 10.0.2 waits for the unplug"),
    ("acpi-hotplug", GOOD.replace("q35", "pc-q35-6.0"), Q, Status.PASS, "predates ACPI hotplug"),
    (
        "standby-link",
        domain(XML_GOOD.replace("<teaming type='persistent'/>", "<teaming type='persistent'/><link state='down'/>")),
        L,
        Status.WARN,
        "link down",
    ),
    ("standby-link", GOOD.replace(",failover=on", ""), Q, Status.SKIP, "no standby"),
    ("libvirt-teaming", GOOD, Q, Status.SKIP, "not a libvirt domain"),
    (
        "libvirt-teaming",
        XML_GOOD.replace(" persistent='ua-net0'", ""),
        L,
        Status.FAIL,
        "teaming persistent attribute must be set if teaming type is 'transient'",
    ),
    (
        "libvirt-teaming",
        XML_GOOD.replace("<teaming type='persistent'/>", "<teaming type='persistent' persistent='ua-x'/>"),
        L,
        Status.FAIL,
        "teaming persistent attribute not allowed if teaming type is 'persistent'",
    ),
    (
        "libvirt-teaming",
        XML_GOOD.replace("<model type='virtio'/>", "<model type='e1000e'/>"),
        L,
        Status.FAIL,
        "virtio-net teaming persistent interface must be <model type='virtio'/>, not 'e1000e'",
    ),
    (
        "libvirt-teaming",
        XML_STANDBY + XML_PRIMARY.replace("type='hostdev' managed='yes'", "type='bridge'"),
        L,
        Status.FAIL,
        "virtio-net teaming transient interface must be type='hostdev', not 'bridge'",
    ),
    (
        "libvirt-teaming",
        XML_STANDBY + "<hostdev mode='subsystem' type='pci'><teaming type='persistent'/></hostdev>",
        L,
        Status.FAIL,
        "teaming hostdev devices must have type='transient'",
    ),
    (
        "libvirt-teaming",
        XML_STANDBY + XML_PRIMARY.replace("type='hostdev' managed='yes'", "type='network'"),
        L,
        Status.PASS,
        "the network must forward in hostdev mode",
    ),
    ("libvirt-alias", XML_GOOD.replace("ua-net0", "net0"), L, Status.FAIL, "lacks the ua- prefix"),
    (
        "libvirt-alias",
        XML_GOOD.replace("persistent='ua-net0'", "persistent='ua-other'"),
        L,
        Status.FAIL,
        "no interface with <teaming type='persistent'/> has alias 'ua-other'",
    ),
    (
        "libvirt-alias",
        XML_GOOD.replace("<model type='virtio'/>", "<model type='e1000e'/>"),
        L,
        Status.FAIL,
        "not virtio",
    ),
    ("slot-zero", GOOD.replace("bus=rp2,addr=0x0", "bus=rp2,addr=0x3"), Q, Status.FAIL, "device 0x3 of port rp2"),
    ("slot-zero", GOOD.replace("bus=rp1,addr=0x0", "bus=rp1,addr=0x2"), Q, Status.FAIL, "not valid for virtio-net-pci"),
    ("slot-zero", GOOD.replace("bus=rp2,addr=0x0", "bus=pcie.0,addr=0x3"), Q, Status.PASS, "at device 0"),
    (
        "slot-zero",
        domain(XML_PLACED.replace("bus='0x02' slot='0x00'", "bus='0x02' slot='0x03'")),
        L,
        Status.FAIL,
        "pci.2",
    ),
    ("libvirt-alias", XML_GOOD.replace("ua-net0", "ua-net.0"), L, Status.FAIL, "'ua-net.0' has a character other than"),
    ("libvirt-alias", XML_GOOD.replace("ua-net0", "ua-net_0"), L, Status.PASS, "ua-net_0"),
    # A defined domain always shows machine=; one without gets QEMU's default, pc (no PCI Express) on x86
    (
        "machine",
        domain(XML_GOOD).replace(" machine='pc-q35-8.2'", ""),
        L,
        Status.FAIL,
        "machine pc (libvirt's default on x86 for a domain without machine=) has no PCI Express bus",
    ),
    ("machine", domain(XML_GOOD, "virt").replace("x86_64", "aarch64"), L, Status.PASS, "virt has PCI Express"),
    (
        "machine",
        "qemu-system-aarch64 " + GOOD.replace("-machine q35 ", ""),
        Q,
        Status.FAIL,
        "qemu-system-aarch64 has no default machine: QEMU refuses to start without -machine",
    ),
    (
        "libvirt-teaming",
        domain(
            XML_PRIMARY.replace("<interface type='hostdev' managed='yes'>", "<hostdev mode='subsystem' type='pci'>")
            .replace("</interface>", "</hostdev>")
            .replace(" persistent='ua-net0'", "")
        ),
        L,
        Status.FAIL,
        "missing required persistent attribute in hostdev teaming element",
    ),
    # QEMU's qdev alias: `-device virtio-net` is virtio-net-pci on PCI targets (QEMU 10 pairs them)
    ("pair-id", GOOD.replace("virtio-net-pci,", "virtio-net,"), Q, Status.PASS, "hostdev0 -> net0"),
    (
        "mac-match",
        GOOD.replace("failover_pair_id=net0", f"failover_pair_id=net0,mac={MAC}"),
        Q,
        Status.FAIL,
        "QEMU refuses mac= on vfio-pci (Property 'vfio-pci.mac' not found)",
    ),
]
VIRTIO = [
    (m, r)
    for m in ("virtio-transitional", "virtio-non-transitional")
    for r in ("pair-id", "libvirt-teaming", "libvirt-alias")
]


@pytest.mark.parametrize(("model", "rule"), VIRTIO)
def test_every_libvirt_virtio_model_is_a_standby(model: str, rule: str) -> None:
    status, message = run(rule, domain(XML_PLACED.replace("type='virtio'", f"type='{model}'")), L)
    assert status is Status.PASS, message


@pytest.mark.parametrize(("rule", "text", "kind", "status", "message"), CASES)
def test_each_variation(rule: str, text: str, kind: ConfigKind, status: Status, message: str) -> None:
    got, said = run(rule, text, kind)
    assert (got, message in said) == (status, True), said


def test_mac_match_needs_the_host_for_a_vfio_primary() -> None:
    status, message = run("mac-match", GOOD, admin_mac=None)
    assert (status, message) == (
        Status.UNKNOWN,
        "-device vfio-pci (id hostdev0): VF 0000:5e:00.2's admin MAC is not known (no host check)",
    )


@pytest.mark.parametrize(
    ("machine", "version", "status", "message"),
    [
        ("pc-q35-6.1", (6, 1, 1), Status.WARN, "QEMU 6.1 with ACPI PCI hotplug"),
        ("q35", (6, 1, 0), Status.WARN, "QEMU 6.1 with ACPI PCI hotplug"),
        ("pc-q35-6.1", None, Status.WARN, "pc-q35-6.1 is QEMU 6.1's newest"),
        ("pc-q35-6.2", None, Status.PASS, "needs QEMU 6.2+"),
        ("q35", None, Status.UNKNOWN, "QEMU version not known"),
        ("pc-q35-6.0", (6, 1, 0), Status.PASS, "predates"),
    ],
)
def test_acpi_hotplug_pitfall(machine: str, version: tuple[int, int, int] | None, status: Status, message: str) -> None:
    got, said = run("acpi-hotplug", GOOD.replace("q35", machine), version=version)
    assert (got, message in said) == (status, True), said
    off = GOOD.replace("q35", machine) + " -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"
    assert run("acpi-hotplug", off, version=version)[0] is Status.PASS
