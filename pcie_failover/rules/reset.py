"""`reset`: a function-level reset is offered; vfio resets the VF on every unplug and replug."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput
from pcie_failover.model.config_space import ConfigSpace
from pcie_failover.model.host import Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.rules.base import Finding, Rule, target, unknown

FUNCTION_RESETS = frozenset({"flr", "af_flr", "pm", "device_specific", "acpi"})


def check(check_input: CheckInput) -> Finding:
    """From `reset_method` (5.15+); older kernels: `reset` exists and FLR is in Device Capabilities."""
    device = target(check_input)
    if isinstance(device, Finding):
        return device
    methods = device.reset_methods
    if isinstance(methods, Unreadable):
        return unknown("reset_method", methods)
    if methods is None:
        if not device.has_reset:
            return Finding(
                Status.FAIL,
                "no reset method: vfio cannot reset the device between unplug and replug",
                "an SR-IOV VF must support FLR; check the NIC firmware",
            )
        config = device.config
        if isinstance(config, ConfigSpace) and config.pcie is not None and config.pcie.flr:
            return Finding(Status.PASS, "function-level reset (FLR in Device Capabilities)")
        return Finding(Status.PASS, "a reset is available (this kernel does not name its method)")
    function_level = [m for m in methods if m in FUNCTION_RESETS]
    if function_level:
        return Finding(Status.PASS, f"function-level reset available ({' '.join(methods)})")
    if methods:
        return Finding(
            Status.WARN,
            f"only a bus reset ({' '.join(methods)}): resetting this device resets every device on its bus",
            "prefer a VF with FLR; siblings on the bus lose state whenever vfio resets this one",
        )
    return Finding(
        Status.FAIL,
        "no reset method enabled (reset_method is empty)",
        "enable one: echo default > reset_method in the device's sysfs directory",
    )


RULE = Rule(
    "reset",
    Severity.FAIL,
    "a function-level reset is available",
    "Linux drivers/pci/pci.c reset_method (flr, af_flr, pm, bus, ...); vfio-pci resets on open and release",
    check,
)
