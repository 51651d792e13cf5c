"""`driver`: the device is on vfio-pci (or a vfio variant), or can be put there safely."""

from __future__ import annotations

import shlex

from pcie_failover.model.check import CheckInput, Manager
from pcie_failover.model.host import PciFunction, Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.base import host_path, target, unknown
from pcie_failover.rules.usage import interface_usage

_LIBVIRT_BINDS = "libvirt (<interface type='hostdev' managed='yes'>) binds vfio-pci when the VM starts"


def bind_commands(device: PciFunction, loaded: bool, bound: bool) -> str:
    """The commands that move the device to vfio-pci, one per line, in pair's and prepare's order: the override
    first, so that nothing between the unbind and the probe can bind the host driver again."""
    address, path = shlex.quote(str(device.address)), host_path(device)
    lines = [] if loaded else ["modprobe vfio-pci"]
    lines.append(f"echo vfio-pci > {shlex.quote(path + '/driver_override')}")
    if bound:
        lines.append(f"echo {address} > {shlex.quote(path + '/driver/unbind')}")
    lines += [
        f"echo {address} > /sys/bus/pci/drivers_probe",
        f"(to keep it across reboots: driverctl set-override {address} vfio-pci)",
    ]
    return "\n".join(lines)


def _override_unbound(device: PciFunction, loaded: bool) -> Finding:
    """driver_override names vfio-pci and nothing is bound: its probe failed, or it was unbound since."""
    probe = f"echo {shlex.quote(str(device.address))} > /sys/bus/pci/drivers_probe"
    if device.iommu_group is None:
        return Finding(
            Status.FAIL,
            "driver_override is vfio-pci but nothing is bound: vfio-pci's probe failed",
            "vfio-pci cannot bind without an IOMMU group (its probe returns -EINVAL): see the iommu check",
        )
    if not loaded:
        return Finding(
            Status.FAIL,
            "driver_override is vfio-pci but nothing is bound: vfio-pci is not loaded",
            f"modprobe vfio-pci && {probe}",
        )
    return Finding(
        Status.FAIL,
        "driver_override is vfio-pci but nothing is bound (it was unbound, or vfio-pci's probe failed)",
        f"{probe}\n(if that fails, `dmesg | grep -i vfio` says why)",
    )


def check(check_input: CheckInput) -> Finding:
    """vfio passes; otherwise say how to bind it, never suggesting to unbind a device in use."""
    device = target(check_input)
    if isinstance(device, Finding):
        return device
    if isinstance(device.driver, Unreadable):
        return unknown("the driver link", device.driver)
    if device.is_vfio:
        variant = "" if device.driver == "vfio-pci" else " (a vfio variant driver)"
        return Finding(Status.PASS, f"bound to {device.driver}{variant}")
    if isinstance(device.vfio_dev, Unreadable):
        return unknown(f"whether {device.driver} is a vfio variant driver", device.vfio_dev)
    loaded = check_input.vfio_driver_loaded is True
    libvirt = check_input.options.manager is Manager.LIBVIRT
    if device.driver is None:
        if device.driver_override == "vfio-pci":
            return _override_unbound(device, loaded)
        if libvirt:
            return Finding(Status.PASS, f"no driver bound; {_LIBVIRT_BINDS}")
        return Finding(
            Status.FAIL,
            "no driver bound; QEMU's vfio-pci device needs the vfio-pci driver",
            bind_commands(device, loaded, False),
        )
    usage = interface_usage(check_input.netdevs)
    if usage.in_use:
        return Finding(
            Status.FAIL,
            f"bound to {device.driver} and in use on this host: {usage.why}",
            "free it first (move its addresses and routes, take it out of its bridge or bond); "
            "this tool does not suggest unbinding a device in use",
        )
    if libvirt and usage.in_use is False:
        return Finding(Status.PASS, f"bound to host driver {device.driver}, not in use; {_LIBVIRT_BINDS}")
    commands = bind_commands(device, loaded, True)
    if usage.in_use is None:
        commands = f"could not tell whether it is in use ({usage.why}); only if it is unused:\n{commands}"
    return Finding(Status.FAIL, f"bound to host driver {device.driver}, not vfio-pci", commands)


RULE = Rule(
    "driver",
    Severity.FAIL,
    "the device is bound to vfio-pci (or libvirt can bind it)",
    "Linux drivers/vfio/vfio_main.c: from 6.1 vfio_init() creates class vfio-dev and every vfio device, vfio-pci or "
    "a variant, gets a vfio-dev/ child; before 6.1 a variant driver (5.15+) is a module using vfio_pci_core "
    "(module/vfio_pci_core/holders); a driver link that does not resolve names no driver; "
    "driver_override + drivers_probe binds (drivers/pci/pci-sysfs.c driver_override_store())",
    check,
    sources=(
        Source("linux", "drivers/vfio/vfio_main.c", "vfio_init(), __vfio_register_dev()"),
        Source("linux", "drivers/vfio/pci/vfio_pci_core.c", "vfio_pci_core_register_device()"),
        Source("linux", "kernel/module/sysfs.c", "add_usage_links() (module/M/holders/)"),
        Source("linux", "drivers/pci/pci-sysfs.c", "driver_override_store()"),
    ),
    proofs=(
        "tests/lab/test_live_cli.py::test_checks_follow_iproute2_and_driver_changes",
        "tests/lab/test_udev_audit.py::test_unbinding_the_primary_fails_the_driver_check",
        "tests/test_captures.py::test_failed_vfio_probe_without_iommu",
        "tests/test_captures.py::test_every_device_of_every_capture[vf-admin]",
        "tests/test_host_kernel_facts.py::test_variant_drivers_before_6_1_are_told_by_vfio_pci_core_holders",
        "tests/test_host_kernel_facts.py::test_a_vfio_dev_child_without_a_driver_link_is_not_vfio",
        "tests/test_rules.py::test_rule_outcome[driver/in-use-addresses]",
    ),
)
