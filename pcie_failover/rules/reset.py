"""`reset`: a function-level reset is offered; vfio resets the VF on every unplug and replug."""

from __future__ import annotations

import shlex

from pcie_failover.model.check import CheckInput
from pcie_failover.model.config_space import ConfigSpace
from pcie_failover.model.host import Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.base import host_path, target, unknown

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
            f"only a bus reset ({' '.join(methods)}): the kernel offers it only while the device is alone "
            "on its bus (or slot), so no other device is reset, but each reset retrains the link",
            "vfio can reset it; a VF normally offers FLR (check the NIC firmware), which is faster and keeps the link",
        )
    return Finding(
        Status.FAIL,
        "no reset method enabled (reset_method is empty)",
        f"enable the kernel's default methods: echo default > {shlex.quote(host_path(device) + '/reset_method')}",
    )


RULE = Rule(
    "reset",
    Severity.FAIL,
    "a function-level reset is available",
    "Linux drivers/pci/pci.c: reset_method lists pci_reset_fn_methods[] entries that probe successfully; "
    "`bus` (pci_reset_bus_function()) probes only when pci_dev_reset_slot_function() or pci_parent_bus_reset() "
    "finds no other device in the slot or on the bus; vfio-pci resets the device on open and release",
    check,
    sources=(
        Source("linux", "drivers/pci/pci.c", "pci_reset_fn_methods[], reset_method_show()"),
        Source("linux", "drivers/pci/pci.c", "pci_parent_bus_reset(), pci_dev_reset_slot_function()"),
        Source("linux", "drivers/vfio/pci/vfio_pci_core.c", "vfio_pci_core_enable()"),
    ),
    proofs=(
        "tests/test_captures.py::test_every_device_of_every_capture[shared-groups]",
        "tests/test_host_kernel_facts.py::test_bus_reset_is_worded_as_the_kernel_offers_it",
        "tests/test_rules.py::test_rule_outcome[reset/flr]",
        "tests/test_rules.py::test_rule_outcome[reset/bus-only]",
    ),
)
