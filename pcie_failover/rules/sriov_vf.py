"""`sriov-vf`: the device is an SR-IOV VF; report its PF, VF index and the PF's interface."""

from __future__ import annotations

import shlex

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import NetDevice, PciFunction, Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.base import host_path, target, unknown


def _pf_interface(check_input: CheckInput) -> str:
    netdev = check_input.pf_netdev
    if isinstance(netdev, NetDevice):
        return netdev.name
    return "no interface" if netdev is None else "interface unknown"


def _not_a_vf(check_input: CheckInput, device: PciFunction) -> Finding:
    status = Status.WARN if check_input.options.allow_pf else Status.FAIL
    allowed = " (--allow-pf: only for a VM that never migrates)" if check_input.options.allow_pf else ""
    sriov = device.sriov
    if sriov is None:
        return Finding(
            status,
            f"not an SR-IOV VF (no physfn link){allowed}",
            "a migratable primary is a VF: the destination reproduces its MAC by setting the admin MAC of its own VF",
        )
    if isinstance(sriov.num_vfs, int) and sriov.num_vfs > 0:
        hint = (
            f"use one of its {sriov.num_vfs} VFs (`pcie-failover list`); "
            "vfio-pci also refuses a PF with VFs enabled (-EBUSY)"
        )
    else:
        numvfs = shlex.quote(f"{host_path(device)}/sriov_numvfs")
        hint = f"create VFs, e.g. `echo 4 > {numvfs}`, then pick one with `pcie-failover list`"
    return Finding(
        status,
        f"an SR-IOV PF, not a VF: net_failover pairs on the permanent MAC, which no destination PF shares{allowed}",
        hint,
    )


def check(check_input: CheckInput) -> Finding:
    """Pass for a VF (physfn link present)."""
    device = target(check_input)
    if isinstance(device, Finding):
        return device
    if isinstance(device.physfn, Unreadable):
        return unknown("the physfn link", device.physfn)
    if device.physfn is None:
        return _not_a_vf(check_input, device)
    index = check_input.vf_index
    which = f"VF {index}" if isinstance(index, int) else "a VF"
    note = f" (index unknown: {index})" if isinstance(index, Unreadable) else ""
    described = f"{which} of PF {device.physfn} ({_pf_interface(check_input)}){note}"
    return _vf_token(check_input, described)


def _vf_token(check_input: CheckInput, described: str) -> Finding:
    """vfio_pci_validate_vf_token(): a PF on vfio-pci needs the token (-EACCES), any other PF refuses one (-EINVAL)."""
    pf, token = check_input.pf, check_input.options.vf_token
    if not isinstance(pf, PciFunction):
        return Finding(Status.PASS, described)
    ask = (
        "ask the PF's user (the program that opened the PF through vfio) for the token and give it to "
        "the primary: -device vfio-pci,host=...,vf-token=<UUID>"
    )
    if pf.is_vfio and token:
        return Finding(Status.PASS, f"{described}; the PF is on {pf.driver} and the primary is given a VF token")
    if pf.is_vfio:
        needs = (
            f"{described}; the PF is on {pf.driver}: vfio opens this VF only with the VF token (a UUID) "
            "its PF's user set"
        )
        if token is False:
            return Finding(Status.FAIL, f"{needs}, and the primary has none (-EACCES)", ask)
        return Finding(Status.WARN, needs, ask)
    if token:
        return Finding(
            Status.FAIL,
            f"{described}; the primary is given a VF token but the PF is on {pf.driver or 'no driver'}, not vfio: "
            "vfio refuses the device (-EINVAL, 'VF token incorrectly provided, PF not bound to vfio-pci')",
            "remove vf-token= from the primary",
        )
    return Finding(Status.PASS, described)


RULE = Rule(
    "sriov-vf",
    Severity.FAIL,
    "the device is an SR-IOV virtual function",
    "Linux net/core/failover.c pairs on perm_addr: a VF's is its admin MAC, a PF's the burned-in MAC; "
    "a VF whose PF is on vfio-pci opens only with the VF token the PF's user set (QEMU's vfio-pci `vf-token`)",
    check,
    sources=(
        Source("linux", "net/core/failover.c", "failover_slave_register()"),
        Source("linux", "drivers/vfio/pci/vfio_pci_core.c", "vfio_pci_validate_vf_token()"),
        Source("qemu", "hw/vfio/pci.c", 'vfio_pci_dev_properties[] "vf-token"'),
    ),
    proofs=(
        "tests/test_captures.py::test_every_device_of_every_capture[vtd-acpi]",
        "tests/test_rules.py::test_rule_outcome[sriov-vf/vf]",
        "tests/test_rules.py::test_rule_outcome[sriov-vf/pf]",
        "tests/test_rules.py::test_rule_outcome[sriov-vf/pf-on-vfio]",
        "tests/test_lint_cli.py::test_a_vf_of_a_pf_on_vfio_needs_the_token",
        "tests/test_lint_cli.py::test_a_vf_token_for_a_pf_not_on_vfio_is_refused_by_vfio",
    ),
)
