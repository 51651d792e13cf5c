"""Reports: what a command found, ready for any renderer (which never reads the host)."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput, CheckOptions
from pcie_failover.model.host import DeviceNames, NetDevice, PciFunction, Slot, Unreadable
from pcie_failover.model.record import record
from pcie_failover.model.results import ExitCode, RuleResult, Verdict, exit_code_of, verdict_of

SCHEMA_VERSION = "1.2"


@record
class DeviceSummary:
    """Identity and placement of one device; None where absent or unknown."""

    bdf: str
    vendor: str | None
    device: str | None
    pci_class: str | None
    driver: str | None
    pf: str | None
    vf_index: int | None
    iommu_group: str | None
    slot: str | None
    numa_node: int | None
    netdevs: tuple[str, ...]
    vendor_name: str | None  # the PCI ID database's (pci.ids), as lspci prints them
    device_name: str | None


def _hex(value: int | Unreadable, width: int) -> str | None:
    return None if isinstance(value, Unreadable) else f"{value:0{width}x}"


def summarize(
    function: PciFunction,
    vf_index: int | None | Unreadable,
    slot: Slot | None | Unreadable,
    names: DeviceNames | None = None,
) -> DeviceSummary:
    """The summary of a function as read, with its ids' names when they are known."""
    driver = function.driver
    numa = function.numa_node
    names = names or DeviceNames()
    return DeviceSummary(
        bdf=str(function.address),
        vendor=_hex(function.vendor, 4),
        device=_hex(function.device, 4),
        pci_class=None if isinstance(function.pci_class, Unreadable) else f"{function.pci_class:#08x}",
        driver=driver if isinstance(driver, str) else None,
        pf=str(function.physfn) if not isinstance(function.physfn, (Unreadable, type(None))) else None,
        vf_index=vf_index if isinstance(vf_index, int) else None,
        iommu_group=function.iommu_group if isinstance(function.iommu_group, str) else None,
        slot=slot.name if isinstance(slot, Slot) else None,
        numa_node=numa if isinstance(numa, int) else None,
        netdevs=function.netdevs if isinstance(function.netdevs, tuple) else (),
        vendor_name=names.vendor,
        device_name=names.device,
    )


@record
class CheckReport:
    """`check`: one device, every host rule; its verdict and exit code follow from the results (and `strict`)."""

    query: str
    options: CheckOptions
    strict: bool
    sysfs_root: str
    device: DeviceSummary | None
    pf_netdev: str | None
    results: tuple[RuleResult, ...]

    @property
    def verdict(self) -> Verdict:
        """Not ready on any fail (or, strict, any warn); undetermined on an unknown that could have failed."""
        return verdict_of(self.results, self.strict)

    @property
    def exit_code(self) -> ExitCode:
        """0 ready, 1 not ready, 4 undetermined."""
        return exit_code_of(self.verdict)


def check_report(
    check_input: CheckInput,
    results: tuple[RuleResult, ...],
    sysfs_root: str,
    strict: bool,
    *,
    names: DeviceNames | None = None,
) -> CheckReport:
    """Assemble the report of one check (`names`: the device's ids' names, when looked up)."""
    device = check_input.device
    summary = (
        summarize(device, check_input.vf_index, check_input.slot, names) if isinstance(device, PciFunction) else None
    )
    pf_netdev = check_input.pf_netdev
    return CheckReport(
        query=check_input.query.text,
        options=check_input.options,
        strict=strict,
        sysfs_root=sysfs_root,
        device=summary,
        pf_netdev=pf_netdev.name if isinstance(pf_netdev, NetDevice) else None,
        results=results,
    )


@record
class ListedDevice:
    """`list`: one network-class function."""

    summary: DeviceSummary
    role: str  # "pf", "vf" or "device"
    mac: str | None  # schema 1.0's: the interface MAC, else (a VF without one) the admin MAC
    verdict: Verdict
    failing: tuple[str, ...]  # ids of the rules that failed
    interface_mac: str | None  # the current address of its (first) interface
    admin_mac: str | None  # a VF's MAC as its PF reports it (IFLA_VF_MAC)
    driver_override: str | None
    sriov_numvfs: int | None  # a PF's
    sriov_totalvfs: int | None


@record
class ListReport:
    """`list`: every network-class PCI function."""

    sysfs_root: str
    options: CheckOptions
    devices: tuple[ListedDevice, ...]
    pf: str | None  # `--pf` as given: only that PF and its VFs were listed
    vfs: bool  # `--vfs`: only VFs were listed

    @property
    def exit_code(self) -> ExitCode:
        """Always 0: a listing is an inventory, its devices' readiness is in the report, not in the exit code."""
        return ExitCode.READY


@record
class CaptureResult:
    """Where the snapshot went and what it holds."""

    path: str
    devices: int
    entries: int
    netlink: bool
