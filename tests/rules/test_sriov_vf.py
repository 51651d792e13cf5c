"""`sriov-vf`: the device is a VF (a PF fails, or warns with --allow-pf), and the VF token matches its PF's driver."""

from __future__ import annotations

import pytest

from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import Status
from pcie_failover.rules.sriov_vf import RULE
from tests.support.factory import check_input, outcome, pf, plain_device, sriov, unreadable, vf

PF_WORDS = "an SR-IOV PF, not a VF: net_failover pairs on the permanent MAC, which no destination PF shares"
USE_A_VF = "use one of its 4 VFs (`pcie-failover list`); vfio-pci also refuses a PF with VFs enabled (-EBUSY)"
CREATE_VFS = (
    "create VFs, e.g. `echo 4 > /sys/bus/pci/devices/0000:5e:00.0/sriov_numvfs`, "
    "then pick one with `pcie-failover list`"
)
ALLOWED = " (--allow-pf: only for a VM that never migrates)"
NOT_A_VF_HINT = (
    "a migratable primary is a VF: the destination reproduces its MAC by setting the admin MAC of its own VF"
)
DESCRIBED = "VF 0 of PF 0000:5e:00.0 (enp94s0f0np0)"
ASK = (
    "ask the PF's user (the program that opened the PF through vfio) for the token and give it to "
    "the primary: -device vfio-pci,host=...,vf-token=<UUID>"
)
NEEDS = f"{DESCRIBED}; the PF is on vfio-pci: vfio opens this VF only with the VF token (a UUID) its PF's user set"
ON_VFIO = pf(driver="vfio-pci", vfio_dev=True, netdevs=())


def _pf_checked(**changes: object) -> CheckInput:
    """The PF itself as the device under check."""
    return check_input(device=pf(**changes), pf=None, pf_netdev=None, vf_index=None, vf_admin=None)


CASES = [
    pytest.param(check_input(), Status.PASS, DESCRIBED, None, id="vf"),
    pytest.param(
        check_input(vf_index=unreadable("x/virtfn*", "0000:5e:00.2 is not at a VF routing id of 0000:5e:00.0")),
        Status.PASS,
        "a VF of PF 0000:5e:00.0 (enp94s0f0np0) "
        "(index unknown: x/virtfn*: 0000:5e:00.2 is not at a VF routing id of 0000:5e:00.0)",
        None,
        id="index-unreadable",
    ),
    pytest.param(
        check_input(vf_index=None, pf_netdev=None),
        Status.PASS,
        "a VF of PF 0000:5e:00.0 (no interface)",
        None,
        id="no-index-no-pf-interface",
    ),
    pytest.param(
        check_input(pf=unreadable("p"), pf_netdev=unreadable("p")),
        Status.PASS,
        "VF 0 of PF 0000:5e:00.0 (interface unknown)",
        None,
        id="pf-unreadable",
    ),
    pytest.param(
        check_input(device=vf(physfn=unreadable("x/physfn", "unexpected target 'junk'"))),
        Status.UNKNOWN,
        "the physfn link could not be read (x/physfn: unexpected target 'junk')",
        None,
        id="physfn-unreadable",
    ),
    pytest.param(_pf_checked(), Status.FAIL, PF_WORDS, USE_A_VF, id="pf"),
    pytest.param(
        check_input(device=pf(), pf=None, pf_netdev=None, vf_index=None, vf_admin=None, allow_pf=True),
        Status.WARN,
        PF_WORDS + ALLOWED,
        USE_A_VF,
        id="pf-allowed",
    ),
    pytest.param(_pf_checked(sriov=sriov(num_vfs=0)), Status.FAIL, PF_WORDS, CREATE_VFS, id="pf-without-vfs"),
    pytest.param(
        _pf_checked(sriov=sriov(num_vfs=unreadable())), Status.FAIL, PF_WORDS, CREATE_VFS, id="pf-numvfs-unreadable"
    ),
    pytest.param(plain_device(), Status.FAIL, "not an SR-IOV VF (no physfn link)", NOT_A_VF_HINT, id="plain-device"),
    pytest.param(
        plain_device(allow_pf=True),
        Status.WARN,
        "not an SR-IOV VF (no physfn link)" + ALLOWED,
        NOT_A_VF_HINT,
        id="plain-device-allowed",
    ),
    pytest.param(check_input(pf=ON_VFIO), Status.WARN, NEEDS, ASK, id="pf-on-vfio"),
    pytest.param(
        check_input(pf=ON_VFIO, vf_token=False),
        Status.FAIL,
        f"{NEEDS}, and the primary has none (-EACCES)",
        ASK,
        id="pf-on-vfio-no-token",
    ),
    pytest.param(
        check_input(pf=ON_VFIO, vf_token=True),
        Status.PASS,
        f"{DESCRIBED}; the PF is on vfio-pci and the primary is given a VF token",
        None,
        id="pf-on-vfio-token",
    ),
    pytest.param(
        check_input(pf=pf(driver="mlx5_vfio_pci", vfio_dev=True), vf_token=True),
        Status.PASS,
        f"{DESCRIBED}; the PF is on mlx5_vfio_pci and the primary is given a VF token",
        None,
        id="pf-on-vfio-variant-token",
    ),
    pytest.param(
        check_input(vf_token=True),
        Status.FAIL,
        f"{DESCRIBED}; the primary is given a VF token but the PF is on mlx5_core, not vfio: vfio refuses the device "
        "(-EINVAL, 'VF token incorrectly provided, PF not bound to vfio-pci')",
        "remove vf-token= from the primary",
        id="token-pf-not-on-vfio",
    ),
    pytest.param(
        check_input(pf=pf(driver=None), vf_token=True),
        Status.FAIL,
        f"{DESCRIBED}; the primary is given a VF token but the PF is on no driver, not vfio: vfio refuses the device "
        "(-EINVAL, 'VF token incorrectly provided, PF not bound to vfio-pci')",
        "remove vf-token= from the primary",
        id="token-pf-unbound",
    ),
    pytest.param(check_input(vf_token=False), Status.PASS, DESCRIBED, None, id="no-token-pf-not-on-vfio"),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_sriov_vf(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)
