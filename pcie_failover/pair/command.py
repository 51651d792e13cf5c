"""`pair`: run `check`, then build the pair's spec (or refuse when a check failed)."""

from __future__ import annotations

from pcie_failover.check.command import checked
from pcie_failover.model.address import DeviceQuery, InputError, PciAddress
from pcie_failover.model.check import CheckInput, CheckOptions
from pcie_failover.model.host import PciFunction, StandbyBackend
from pcie_failover.pair.build import Layout, build_spec, failures
from pcie_failover.pair.mac import MacChoice, MacFacts, choose_mac
from pcie_failover.pair.model import MacSource, PairReport, PairRequest
from pcie_failover.pair.prep import GENERIC, VfState
from pcie_failover.rules.vf_common import MacOrigin, mac_provenance, proven_admin_mac
from pcie_failover.sysfs.root import SysfsRoot


def vf_state(check_input: CheckInput, choice: MacChoice) -> VfState:
    """The source VF as read: what of its preparation is already done (an unknown fact leaves its step in)."""
    device = check_input.device
    if not isinstance(device, PciFunction):
        return GENERIC
    mac = choice.mac
    origin = mac_provenance(check_input, mac).origin
    # the vf-mac rule's own test: the admin's MAC shown by the VF's interface, or asserted with --mac
    asserted = choice.source is MacSource.OPTION and origin is MacOrigin.UNPROVEN
    driver = device.driver if isinstance(device.driver, str) else None
    return VfState(
        mac_set=check_input.admin_mac == mac and (origin is MacOrigin.ADMIN or asserted),
        on_vfio=device.is_vfio and driver is not None,
        unbound=device.driver is None,
        driver=driver,
        override_vfio=device.driver_override == "vfio-pci",
        vfio_loaded=check_input.vfio_driver_loaded is True,
    )


def check_macvtap_lower(check_input: CheckInput, lower: str) -> None:
    """Refuse a macvtap whose lower device is the primary VF, its PF or another VF of that PF (InputError).

    macvlan_open() adds the macvtap's MAC, the VM's, to its lower device's unicast filter (dev_uc_add()):
    below the VF's own PF that asks the PF's embedded switch for the MAC it already steers to the VF
    (mlx5's esw_add_uc_addr() refuses it: "mac is already in use by vport").
    """
    standby, device = check_input.standby, check_input.device
    if not isinstance(standby, StandbyBackend) or not isinstance(device, PciFunction):
        return
    pf = device.physfn if isinstance(device.physfn, PciAddress) else None
    for lower_device in standby.lower_devices:
        via = lower if lower_device.ifname == lower else f"{lower} (through {lower_device.ifname})"
        if lower_device.address == device.address:
            raise InputError(
                f"--netdev macvtap={lower}: {via} is the primary VF itself, which the guest takes over: "
                "choose an uplink on another PF"
            )
        if pf is not None and pf in (lower_device.address, lower_device.physfn):
            raise InputError(
                f"--netdev macvtap={lower}: {via} is on the primary's PF {pf}, whose switch already steers the "
                "VM's MAC to the VF; the macvtap would claim it there too (mlx5: 'mac is already in use by "
                "vport'): choose an uplink on another PF"
            )


def run_pair(
    root: SysfsRoot, query: DeviceQuery, options: CheckOptions, request: PairRequest, layout: Layout
) -> PairReport:
    """Check the device; refuse on a failure unless forced; InputError: a macvtap below the PF, or no MAC."""
    check_input, report = checked(root, query, options, strict=False)
    if request.backend.lower is not None:
        check_macvtap_lower(check_input, request.backend.lower)
    if report.device is None or (failures(report) and not request.force):
        return PairReport(report, request, None)
    facts = MacFacts(proven_admin_mac(check_input), check_input.admin_mac, check_input.pf_mac)
    chosen = choose_mac(request.mac, facts, report.device.vf_index)
    if chosen is None:
        raise InputError(
            f"{report.device.bdf}: no MAC known to be an administrator's and no PF MAC to derive one from: pass --mac"
        )
    return PairReport(report, request, build_spec(report, request, layout, chosen, vf_state(check_input, chosen)))
