"""`lint`: parse a VM configuration, check each primary's host device, run the guest-side rules."""

from __future__ import annotations

from dataclasses import replace

from pcie_failover.check.command import checked, run_check
from pcie_failover.lint.guest_rules import run_lint_rules
from pcie_failover.lint.model import ConfigKind, Device, HostFacts, LintInput, VmConfig
from pcie_failover.lint.parse import parse_qemu_version, parse_vm_config
from pcie_failover.lint.report import HostItem, LintReport
from pcie_failover.model.address import DeviceQuery, InputError, MacAddress, PciAddress, validate_ifname
from pcie_failover.model.check import CheckOptions, Manager
from pcie_failover.model.report import CheckReport
from pcie_failover.model.results import Verdict
from pcie_failover.sysfs.root import SysfsRoot

_VF_MAC = "vf-mac"


def _options(config: VmConfig, primary: Device) -> CheckOptions:
    """`check`'s options for one primary: who binds it (libvirt only with managed='yes'), the standby's MAC, bridge."""
    standby = config.device(primary.failover_pair_id or "")
    mac = None if standby is None else standby.parsed_mac
    bridge = None if standby is None else standby.backend_bridge
    try:
        bridge = None if bridge is None else validate_ifname(bridge)
    except InputError:
        bridge = None
    usable = mac is not None and not (mac.is_zero or mac.is_multicast)
    manager = Manager.LIBVIRT if primary.binds_vfio else Manager.QEMU
    return CheckOptions(
        manager=manager,
        mac=mac if usable else None,
        mac_asserted=False,  # the standby's MAC is what the VF must have, not proof an administrator set it
        standby_netdev=bridge,
        vf_token=primary.vf_token,
    )


def _check(root: SysfsRoot, primary: Device, options: CheckOptions) -> tuple[CheckReport, MacAddress | None]:
    """`check` of a primary's host device, with libvirt's part where libvirt does it, and the VF's admin MAC.

    libvirt's virHostdevPreparePCIDevices() binds only managed devices (else "Unmanaged PCI device ... must be
    manually detached") and sets the admin MAC only of an <interface type='hostdev'> (virHostdevSetNetConfig()),
    never of a plain <hostdev>: where the two differ, vf-mac is judged as its own manager would.
    """
    query = DeviceQuery(str(primary.host), primary.host, None)
    check_input, report = checked(root, query, options, strict=False)
    if primary.binds_vfio == primary.sets_mac:
        return report, check_input.admin_mac
    mac_manager = Manager.LIBVIRT if primary.sets_mac else Manager.QEMU
    libvirt = run_check(root, query, replace(options, manager=mac_manager), strict=False)
    mac_rule = {r.rule_id: r for r in libvirt.results}.get(_VF_MAC)
    results = tuple(mac_rule if r.rule_id == _VF_MAC and mac_rule else r for r in report.results)
    return replace(report, results=results), check_input.admin_mac


def _host_items(
    config: VmConfig, root: SysfsRoot | None, why_not: str | None
) -> tuple[list[HostItem], dict[PciAddress, MacAddress | None]]:
    items: list[HostItem] = []
    macs: dict[PciAddress, MacAddress | None] = {}
    for primary in config.primaries:
        if primary.driver != "vfio-pci":
            continue
        if primary.host is None:
            if primary.host_text is not None:
                items.append(HostItem(primary.name, primary.host_text, None, Verdict.NOT_READY, "not a PCI address"))
            else:
                items.append(HostItem(primary.name, "-", None, None, "no host address (a VF chosen at start)"))
            continue
        if root is None:
            verdict = None if why_not == "--no-host" else Verdict.UNDETERMINED
            items.append(HostItem(primary.name, str(primary.host), None, verdict, f"not checked: {why_not}"))
            continue
        report, macs[primary.host] = _check(root, primary, _options(config, primary))
        items.append(HostItem(primary.name, str(primary.host), report, report.verdict, None))
    return items, macs


def run_lint(
    text: str, kind: ConfigKind, *, source: str, root: SysfsRoot | None, why_not: str | None, version: str | None
) -> LintReport:
    """Parse, check the hosts (when `root`), run the rules; raise ConfigError/InputError on bad input."""
    config = parse_vm_config(text, kind)
    version = version or config.qemu_version
    parsed = None if version is None else parse_qemu_version(version)
    items, macs = _host_items(config, root, why_not)
    lint_input = LintInput(config, parsed, HostFacts(macs))
    return LintReport(
        source=source,
        config=config,
        qemu_version=version,
        sysfs_root=None if root is None else root.origin,
        results=run_lint_rules(lint_input),
        hosts=tuple(items),
        facts=lint_input.host,
    )
