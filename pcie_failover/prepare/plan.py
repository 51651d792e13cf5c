"""The planner: check's assessment of one VF -> the ordered steps that make it ready, each with its inverse.

Pure: it reads nothing. Which rules fail and why comes from `check` itself (the same CheckInput and
rule results); this module only turns a fixable finding into writes, and refuses the rest by name.
Order: the admin MAC and the VF's flags first (set through the PF while the host driver still holds the
VF: igb keeps an administrator's MAC across the VF's resets), then the driver (vfio-pci loaded first, so
the VF is never left driverless for want of the module), then persistence.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

from pcie_failover.model.address import MacAddress
from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import (
    NETWORK_CLASS,
    GroupMember,
    IommuGroup,
    NetDevice,
    PciFunction,
    Unreadable,
    VfAdmin,
    VfAdminList,
    is_network,
)
from pcie_failover.model.occupancy import Holders, VfioDevice
from pcie_failover.model.results import RuleResult, Status
from pcie_failover.prepare.confine import check_action
from pcie_failover.prepare.model import (
    Action,
    ActionKind,
    GroupMemberState,
    Persist,
    Plan,
    Step,
    UndoRecord,
    WriteError,
)
from pcie_failover.prepare.usage import Unicast, Uppers, network_use, use_refusal, vfio_use
from pcie_failover.rules.iommu_group import SAFE_DRIVERS
from pcie_failover.rules.vf_common import mac_provenance

VFIO = "vfio-pci"
ZERO_MAC = "00:00:00:00:00:00"
PROBE = "bus/pci/drivers_probe"
UDEV_DIR = "/etc/udev/rules.d"
MODPROBE = "/sbin/modprobe"  # in a udev rule: a path on merged /usr (a link to /usr/sbin) and on split /usr alike
DRIVERCTL_DIR = "/etc/driverctl.d"
# Findings `prepare` fixes; any other failing rule refuses (it is not prepare's to fix).
FIXABLE = frozenset({"driver", "vf-mac", "iommu-group"})
# Rules whose unknown leaves prepare without the state it must undo to: refuse.
MUST_KNOW = frozenset({"address", "sriov-vf", "driver", "iommu", "iommu-group", "pf-link", "vf-mac"})
DEFAULT_RULE_MODE = 0o644
# Drivers that hold no host interface: a device on one has no netdev to be in use through.
NO_NETDEV_DRIVERS = frozenset({VFIO, "pci-stub"})
# Writes that change no device (only a file read at boot): allowed while a process holds the VF's VFIO files.
FILE_KINDS = frozenset({ActionKind.FILE_PUT, ActionKind.FILE_REMOVE})


@dataclass(frozen=True)
class Request:
    """What the operator asked for."""

    mac: MacAddress
    spoofchk: bool | None = None
    trust: bool | None = None
    group: bool = False
    persist: str | None = None  # driverctl or udev


@dataclass(frozen=True)
class Surroundings:
    """What the planner needs beyond check's assessment, read by the caller.

    `members`: the other members of the IOMMU group as read (for their driver_override); `driverctl`: installed;
    `udev_rule`: the content of this VF's rule file now (None: absent), `udev_mode` its permission bits and
    `udev_problem` why it could not be kept in an undo record (too large, not UTF-8, a special mode);
    `driverctl_saved`: driverctl's saved override for the VF (None: none); `uppers`: the upper devices of the
    VF's and the members' interfaces, by interface; `unicast`: the secondary unicast addresses in those interfaces'
    unicast filters (a macvlan's, wherever it lives); `vfio`: each device the run may change that is on vfio-pci
    (its VFIO files and `enable` count); `holders`: the processes holding those files, and every VFIO device
    file open on the host.
    """

    members: tuple[PciFunction, ...] = ()
    driverctl: bool = False
    udev_rule: str | None = None
    driverctl_saved: str | None = None
    uppers: tuple[tuple[str, tuple[str, ...] | Unreadable], ...] = ()
    holders: Holders = field(default_factory=Holders)
    vfio: tuple[VfioDevice, ...] = ()
    udev_mode: int = DEFAULT_RULE_MODE
    udev_problem: str | None = None
    unicast: tuple[tuple[str, tuple[str, ...] | Unreadable], ...] = ()

    def upper_map(self) -> Uppers:
        return dict(self.uppers)

    def unicast_map(self) -> Unicast:
        return dict(self.unicast)


def override_path(address: str) -> str:
    return f"bus/pci/devices/{address}/driver_override"


def driver_path(driver: str, what: str) -> str:
    return f"bus/pci/drivers/{driver}/{what}"


def udev_rule_path(address: str) -> str:
    return f"{UDEV_DIR}/70-pcie-failover-{address}.rules"


def udev_rule(address: str) -> str:
    """A rule that gives the VF back to vfio-pci whenever it appears (VFs are re-created at each boot)."""
    sysfs = f"/sys/bus/pci/devices/{address}"
    return (
        f"# pcie-failover prepare: only vfio-pci may bind {address} (removed by `pcie-failover prepare --undo`).\n"
        "# The VF's admin MAC is not kept by this rule: set it again after creating the VFs.\n"
        f'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="{address}", ATTR{{driver_override}}="vfio-pci", '
        f'RUN+="{MODPROBE} vfio-pci", '
        f"RUN+=\"/bin/sh -c 'echo {address} > {sysfs}/driver/unbind; echo {address} > /sys/bus/pci/drivers_probe'\"\n"
    )


def mode_text(mode: int) -> str:
    """`0644`: a file's permission bits as the writer and `install -m` take them."""
    return f"{mode & 0o777:04o}"


def _sysfs(path: str, value: str, expect: tuple[str, str] | None = None) -> Action:
    return Action(ActionKind.SYSFS, (path, value), expect)


def _ip_vf(pf: str, index: int, *settings: str) -> Action:
    return Action(ActionKind.IP, ("link", "set", "dev", pf, "vf", str(index), *settings))


class VfRef(NamedTuple):
    """A VF as its PF's interface knows it."""

    pf: str
    vf_index: int
    device: str


def mac_step(vf: VfRef, mac: str, prior: str, origin: str) -> Step:
    """Set the VF's admin MAC; undo restores what was there (a VF driver's MAC: cleared, then given back to it)."""
    pf, index, device = vf
    undo: tuple[Action, ...]
    if origin == "vf-driver":
        undo = (_ip_vf(pf, index, "mac", ZERO_MAC), Action(ActionKind.VF_ADDRESS, (device, prior)))
    else:
        undo = (_ip_vf(pf, index, "mac", prior),)
    verb = "clear" if mac == ZERO_MAC else "set"
    return Step(
        "vf-mac", device, f"{verb} VF {index}'s admin MAC through {pf}: {mac}", _ip_vf(pf, index, "mac", mac), undo
    )


def flag_step(vf: VfRef, flag: str, on: bool, prior: bool | None) -> Step:
    pf, index, device = vf
    word = "on" if on else "off"
    undo = () if prior is None else (_ip_vf(pf, index, flag, "on" if prior else "off"),)
    note = None if prior is not None else f"{pf} did not report {flag}: nothing known to restore"
    return Step(flag, device, f"{flag} {word} on VF {index}", _ip_vf(pf, index, flag, word), undo, note)


def modprobe_step(device: str) -> Step:
    return Step("modprobe", device, "load vfio-pci", Action(ActionKind.MODPROBE, (VFIO,)), (), "vfio-pci stays loaded")


def unbind_step(device: str, driver: str) -> Step:
    return Step(
        "unbind",
        device,
        f"unbind {driver} from {device}",
        _sysfs(driver_path(driver, "unbind"), device, (device, "")),
        (_sysfs(driver_path(driver, "bind"), device, (device, driver)),),
    )


def override_step(device: str, value: str | None, prior: str | None) -> Step:
    text = f"let only {value} bind {device}" if value else f"clear {device}'s driver_override"
    return Step(
        "driver-override",
        device,
        text,
        _sysfs(override_path(device), value or ""),
        (_sysfs(override_path(device), prior or ""),),
    )


def probe_step(device: str, driver: str) -> Step:
    """drivers_probe binds the driver the override (or the ID tables) name; the runner checks which bound."""
    return Step(
        "probe",
        device,
        f"probe {device}: {driver} binds it",
        _sysfs(PROBE, device, (device, driver)),
        (_sysfs(driver_path(driver, "unbind"), device, (device, "")),),
    )


def _to_vfio(function: PciFunction) -> list[Step]:
    """Unbind the host driver, driver_override=vfio-pci, drivers_probe: as far as not done yet (vfio-pci is loaded
    by then: the caller plans modprobe once for the VF and the group)."""
    device = str(function.address)
    steps: list[Step] = []
    driver = function.driver if isinstance(function.driver, str) else None
    override = function.driver_override if isinstance(function.driver_override, str) else None
    if driver is not None:
        steps.append(unbind_step(device, driver))
    if override != VFIO:
        steps.append(override_step(device, VFIO, override))
    steps.append(probe_step(device, VFIO))
    return steps


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _vf_parts(
    check_input: CheckInput,
) -> tuple[PciFunction, PciFunction, NetDevice, int, VfAdmin] | str:
    """The VF, its PF, the PF's interface, the VF index and its admin entry; or why prepare cannot go on."""
    device = check_input.device
    located = check_input.located
    if device is None:
        return getattr(located, "problem", None) or f"no PCI device {check_input.query.text!r} on this host"
    if isinstance(device, Unreadable):
        return f"the device could not be read ({device})"
    if device.sriov is not None:
        return f"{device.address} is a PF: prepare moves a VF (a PF with VFs enabled cannot bind vfio-pci)"
    pf, pf_netdev, index, listing = check_input.pf, check_input.pf_netdev, check_input.vf_index, check_input.vf_admin
    if pf is None:
        return f"{device.address} is not an SR-IOV VF: prepare sets a VF's MAC through its PF"
    if not isinstance(pf, PciFunction) or not isinstance(index, int):
        return (
            f"{device.address}'s PF or VF index could not be read ({pf if not isinstance(pf, PciFunction) else index})"
        )
    if not isinstance(pf_netdev, NetDevice):
        return f"{device.address}'s PF {pf.address} has no readable network interface to set the VF's MAC through"
    if not isinstance(listing, VfAdminList) or listing.get(index) is None:
        return f"VF {index}'s admin settings are not reported by {pf_netdev.name}: its MAC could not be recorded"
    entry = listing.get(index)
    assert entry is not None
    if entry.mac is None:
        return f"VF {index}'s admin MAC is not reported by {pf_netdev.name}: it could not be recorded"
    return device, pf, pf_netdev, index, entry


def _refusals(
    check_input: CheckInput, results: tuple[RuleResult, ...], device: PciFunction, surroundings: Surroundings
) -> list[str]:
    """Findings prepare does not fix, and a device in use through its interfaces (see prepare/usage.py)."""
    refusals = []
    for result in results:
        if result.status is Status.FAIL and result.rule_id not in FIXABLE:
            refusals.append(f"{result.rule_id}: {result.message} (not something prepare changes)")
        elif result.status is Status.UNKNOWN and result.rule_id in MUST_KNOW:
            refusals.append(f"{result.rule_id} is unknown: {result.message}")
    driver = device.driver
    if not device.is_vfio and isinstance(driver, str) and driver not in NO_NETDEV_DRIVERS:
        usage = network_use(check_input.netdevs, driver, surroundings.upper_map(), surroundings.unicast_map())
        refused = use_refusal(str(device.address), usage)
        refusals += [refused] if refused else []
    if check_input.group is None:
        refusals.append(f"{device.address} has no IOMMU group: vfio-pci cannot bind it (see check's iommu finding)")
    return refusals


def mac_clashes(mac: MacAddress, pf_netdev: NetDevice, listing: object, index: int) -> list[str]:
    """--mac may not be the PF's own MAC or another VF's admin MAC on the same PF: the PF's receive-address table
    (igb's RAR entries) would then steer that MAC's frames to one of them only, away from the other."""
    clashes = []
    if isinstance(pf_netdev.address, MacAddress) and pf_netdev.address == mac:
        clashes.append(
            f"--mac {mac} is {pf_netdev.name}'s own MAC: the PF's receive-address table would steer its traffic "
            "to the VF (or the VF's to the PF): give the VM another MAC"
        )
    if isinstance(listing, VfAdminList):
        for vf in listing.vfs:
            if vf.index != index and vf.mac is not None and vf.mac == mac:
                clashes.append(
                    f"--mac {mac} is already VF {vf.index}'s admin MAC on {pf_netdev.name}: two VFs of one PF "
                    "with one MAC get each other's traffic: give the VM another MAC, or clear VF "
                    f"{vf.index}'s first"
                )
    return clashes


def _class_name(pci_class: int) -> str:
    base = pci_class >> 16
    names = {0x01: "mass storage", 0x03: "display", 0x04: "multimedia", 0x06: "bridge", 0x0C: "serial bus"}
    return f"class {pci_class:#08x}" + (f", {names[base]}" if base in names else "")


def _member_refusal(
    member: GroupMember, function: PciFunction | None, device: PciFunction, group: str, surroundings: Surroundings
) -> str | None:
    """Why --group may not move this member to vfio-pci (None: a network function proven unused)."""
    driver = str(member.driver)
    label = f"{member.address} ({driver})"
    where = f"IOMMU group {group} holds {label}"
    if member.address == device.physfn:
        return f"{where}, the VF's own PF: it cannot leave its driver"
    if function is None:
        return f"{where}, which could not be read"
    sriov = function.sriov
    if sriov is not None and sriov.num_vfs != 0:
        enabled = f"{sriov.num_vfs} VFs" if isinstance(sriov.num_vfs, int) else "VFs (sriov_numvfs unreadable)"
        return f"{where}, an SR-IOV PF with {enabled} enabled: a PF never leaves its driver while its VFs exist"
    if not isinstance(member.pci_class, int):
        return f"{where}, whose class could not be read ({member.pci_class}): prepare does not unbind it"
    if not is_network(member.pci_class):
        path = f"/sys/bus/pci/devices/{member.address}/driver/unbind"
        return (
            f"{where}, {_class_name(member.pci_class)}: not a network function, so prepare cannot tell whether "
            f"it is in use (filesystems, swap, RAID) and will not unbind it; stop whatever uses it and unbind "
            f"it by hand (echo {member.address} > {path}), or give the VF a slot in another IOMMU group"
        )
    usage = network_use(member.netdevs, driver, surroundings.upper_map(), surroundings.unicast_map())
    if usage.in_use is not False:
        why = usage.why if usage.in_use else f"cannot tell whether it is in use: {usage.why}"
        return f"{where}, in use on this host ({why})"
    return None


def _group_steps(
    check_input: CheckInput, device: PciFunction, request: Request, surroundings: Surroundings
) -> tuple[list[Step], list[str], list[str], list[GroupMemberState]]:
    """Other members bound to host drivers: refused, or with --group moved to vfio-pci as well (listed).

    Only network functions proven unused (by the same rules as the VF) may move; a member that is not a network
    function, a PF with VFs enabled, or the VF's own PF is refused by name, --group or not.
    """
    group = check_input.group
    if not isinstance(group, IommuGroup) or isinstance(group.members, Unreadable):
        return [], [], [], []
    steps: list[Step] = []
    refusals: list[str] = []
    changes: list[str] = []
    states: list[GroupMemberState] = []
    read = {function.address: function for function in surroundings.members}
    for member in group.members:
        driver = member.driver
        if not isinstance(driver, str) or driver in SAFE_DRIVERS or member.vfio_dev is True:
            continue
        function = read.get(member.address)
        refusal = _member_refusal(member, function, device, group.number, surroundings)
        if refusal is not None:
            refusals.append(refusal)
            continue
        assert function is not None
        label = f"{member.address} ({driver})"
        change = f"{label}: unbound from {driver} and bound to vfio-pci (same IOMMU group {group.number})"
        if not request.group:
            refusals.append(
                f"IOMMU group {group.number} also holds {label} on a host driver; --group would change: {change}"
            )
            continue
        changes.append(change)
        states.append(GroupMemberState(str(member.address), driver, _text(function.driver_override)))
        steps += _to_vfio(function)
    return steps, refusals, changes, states


def _persist_steps(
    device: str, request: Request, surroundings: Surroundings, refusals: list[str]
) -> tuple[list[Step], list[str], Persist | None]:
    if request.persist == "udev":
        path, content = udev_rule_path(device), udev_rule(device)
        if surroundings.udev_rule == content:
            return [], [f"{path} already keeps vfio-pci across reboots"], Persist("udev", path, None)
        if surroundings.udev_problem is not None:
            refusals.append(f"--persist udev: {surroundings.udev_problem}")
            return [], [], None
        previous = surroundings.udev_rule
        mode = None if previous is None else surroundings.udev_mode & 0o777
        undo = (
            Action(ActionKind.FILE_REMOVE, (path,))
            if previous is None or mode is None
            else Action(ActionKind.FILE_PUT, (path, previous, mode_text(mode)))
        )
        step = Step(
            "persist",
            device,
            f"write {path}: vfio-pci again at every boot",
            Action(ActionKind.FILE_PUT, (path, content, mode_text(DEFAULT_RULE_MODE))),
            (undo,),
        )
        return [step], [], Persist("udev", path, previous, mode)
    if request.persist == "driverctl":
        if not surroundings.driverctl:
            refusals.append("--persist driverctl: driverctl is not installed (use --persist udev)")
            return [], [], None
        if surroundings.driverctl_saved == VFIO:
            return [], [f"driverctl already keeps {device} on vfio-pci"], Persist("driverctl")
        return [], [], Persist("driverctl")
    return [], [], None


def plan_prepare(
    check_input: CheckInput, results: tuple[RuleResult, ...], request: Request, surroundings: Surroundings
) -> tuple[Plan, UndoRecord | None]:
    """The steps that make the VF ready for `request`, and the record of its state before them."""
    parts = _vf_parts(check_input)
    query = check_input.query.text
    if isinstance(parts, str):
        return Plan(query, refusals=(parts,)), None
    device, _pf, pf_netdev, index, entry = parts
    address, pf = str(device.address), pf_netdev.name
    refusals = _refusals(check_input, results, device, surroundings)
    refusals += mac_clashes(request.mac, pf_netdev, check_input.vf_admin, index)
    admin = entry.mac
    assert admin is not None
    origin = "zero" if admin.is_zero else mac_provenance(check_input, admin).origin.value
    steps: list[Step] = []
    kept: list[str] = []
    if admin != request.mac or origin == "vf-driver":
        steps.append(mac_step(VfRef(pf, index, address), str(request.mac), str(admin), origin))
    else:
        kept.append(f"VF {index}'s admin MAC is already {admin}")
    for flag, wanted, prior in (("spoofchk", request.spoofchk, entry.spoofchk), ("trust", request.trust, entry.trust)):
        if wanted is None:
            continue
        if prior == wanted:
            kept.append(f"{flag} is already {'on' if wanted else 'off'}")
        else:
            steps.append(flag_step(VfRef(pf, index, address), flag, wanted, prior))
    group_steps, group_refusals, changes, states = _group_steps(check_input, device, request, surroundings)
    refusals += group_refusals
    persist_steps, persist_kept, persist = _persist_steps(address, request, surroundings, refusals)
    vfio_loaded = check_input.vfio_driver_loaded is True
    if device.is_vfio:
        kept.append(f"{address} is already on {device.driver}")
    else:
        if not vfio_loaded:
            steps.append(modprobe_step(address))
        steps += group_steps
        if persist is not None and persist.kind == "driverctl" and not persist_kept:
            steps.append(driverctl_step(address, _text(device.driver)))
        else:
            steps += _to_vfio(device)
    if device.is_vfio and persist is not None and persist.kind == "driverctl" and not persist_kept:
        steps.append(driverctl_save_step(address, _text(device.driver), _text(device.driver_override)))
    steps += persist_steps
    kept += persist_kept
    refusals += _run_refusals(tuple(steps), surroundings)
    plan = Plan(query, () if refusals else tuple(steps), tuple(refusals), tuple(kept), tuple(changes))
    record = UndoRecord(
        device=address,
        pf_netdev=pf,
        vf_index=index,
        driver=_text(device.driver),
        driver_override=_text(device.driver_override),
        admin_mac=str(admin),
        mac_origin=origin,
        spoofchk=entry.spoofchk if request.spoofchk is not None else None,
        trust=entry.trust if request.trust is not None else None,
        persist=persist
        if persist_steps or (persist is not None and persist.kind == "driverctl" and not persist_kept)
        else None,
        group=tuple(states),
    )
    return plan, record


def changes_a_device(step: Step) -> bool:
    """Whether the step changes a device now (not only a file read at boot, or driverctl's saved override)."""
    action = step.action
    if action.kind in FILE_KINDS:
        return False
    return not (action.kind is ActionKind.DRIVERCTL and action.args[:1] == ("--noprobe",))


def changed_devices(steps: tuple[Step, ...]) -> list[str]:
    """The devices the steps change now (a VF's admin MAC counts as the VF's), in order, once each."""
    return list(dict.fromkeys(step.device for step in steps if changes_a_device(step)))


def _run_refusals(steps: tuple[Step, ...], surroundings: Surroundings) -> list[str]:
    """A plan the writer would refuse (refused here the same way, --dry-run included); a device on vfio-pci that a
    step changes and a process holds open (or may: unknown), each device the steps change checked."""
    refusals: list[str] = []
    for step in steps:
        for action in (step.action, *step.undo):
            try:
                check_action(action)
            except WriteError as error:
                refusals.append(f"{error} (step {step.step_id}): the writer would refuse it, so no step runs")
    vfio = {device.address: device for device in surroundings.vfio}
    for address in changed_devices(steps):
        device = vfio.get(address)
        if device is None:
            continue
        usage = vfio_use(device, surroundings.holders)
        if usage.in_use:
            refusals.append(
                f"{address} is in use: {usage.why}; prepare changes nothing under a running guest or VFIO "
                "application: stop it first"
            )
        elif usage.in_use is None:
            refusals.append(f"cannot tell whether a process holds {address}'s VFIO files open: {usage.why}")
    return list(dict.fromkeys(refusals))


def driverctl_save_step(device: str, bound: str | None, prior_override: str | None) -> Step:
    """On a VF already on vfio-pci: driverctl only saves the override (--noprobe: the driver is not rebound)."""
    return Step(
        "driverctl",
        device,
        f"driverctl --noprobe set-override {device} vfio-pci (saved for every boot; {bound or 'the driver'} stays)",
        Action(ActionKind.DRIVERCTL, ("--noprobe", "set-override", device, VFIO), (device, bound or "")),
        (
            Action(ActionKind.DRIVERCTL, ("--noprobe", "unset-override", device), (device, bound or "")),
            _sysfs(override_path(device), prior_override or ""),
        ),
    )


def driverctl_step(device: str, prior_driver: str | None) -> Step:
    """driverctl binds vfio-pci itself (unbind, override, probe) and saves the override for every boot."""
    return Step(
        "driverctl",
        device,
        f"driverctl set-override {device} vfio-pci (binds it now and at every boot)",
        Action(ActionKind.DRIVERCTL, ("set-override", device, VFIO), (device, VFIO)),
        (Action(ActionKind.DRIVERCTL, ("unset-override", device), (device, prior_driver or "")),),
    )


def _back_to(function: PciFunction, driver: str | None, override: str | None) -> list[Step]:
    """Unbind what is bound now, restore the override, probe the recorded driver: as far as it differs."""
    device = str(function.address)
    current = _text(function.driver)
    current_override = _text(function.driver_override)
    if current == driver:  # only the override differs (or nothing): the driver stays bound
        return [] if current_override == override else [override_step(device, override, current_override)]
    steps = [unbind_step(device, current)] if current is not None else []
    if current_override != override:
        steps.append(override_step(device, override, current_override))
    if driver is not None:
        steps.append(probe_step(device, driver))
    return steps


def merge_records(old: UndoRecord | None, new: UndoRecord) -> UndoRecord:
    """The state before the *first* prepare wins: a second prepare only adds what the first did not change."""
    if old is None or old.device != new.device:
        return new
    members = {m.address for m in old.group}
    return UndoRecord(
        device=old.device,
        pf_netdev=old.pf_netdev,
        vf_index=old.vf_index,
        driver=old.driver,
        driver_override=old.driver_override,
        admin_mac=old.admin_mac,
        mac_origin=old.mac_origin,
        spoofchk=old.spoofchk if old.spoofchk is not None else new.spoofchk,
        trust=old.trust if old.trust is not None else new.trust,
        persist=old.persist or new.persist,
        group=old.group + tuple(m for m in new.group if m.address not in members),
    )


def _not_recorded(record: UndoRecord, address: str, index: int, pf: str) -> str | None:
    """Why the record is not this VF's: another address or VF index, or another PF (interface) now."""
    if address != record.device or index != record.vf_index:
        return f"the undo record is for {record.device} VF {record.vf_index}, not {address}"
    if pf != record.pf_netdev:
        return (
            f"the undo record is for VF {record.vf_index} of {record.pf_netdev}, but {address} is VF {index} of "
            f"{pf} now (another NIC at the same address, or the PF renamed): --undo would set another PF's "
            "VF; restore it by hand and remove the record"
        )
    return None


def plan_undo(check_input: CheckInput, record: UndoRecord, surroundings: Surroundings) -> Plan:
    """From the state now back to the recorded one: MAC and flags, persistence, driver, group, the VF's own MAC."""
    parts = _vf_parts(check_input)
    query = check_input.query.text
    if isinstance(parts, str):
        return Plan(query, refusals=(parts,))
    device, _pf, pf_netdev, index, entry = parts
    address, pf = str(device.address), pf_netdev.name
    if (mismatch := _not_recorded(record, address, index, pf)) is not None:
        return Plan(query, refusals=(mismatch,))
    steps: list[Step] = []
    kept: list[str] = []
    admin = str(entry.mac)
    driver_picked = record.mac_origin == "vf-driver"
    target = ZERO_MAC if driver_picked or record.mac_origin == "zero" else record.admin_mac
    if admin != target:
        origin = "zero" if entry.mac is not None and entry.mac.is_zero else "admin"
        steps.append(mac_step(VfRef(pf, index, address), target, admin, origin))
    for flag, recorded, now in (("spoofchk", record.spoofchk, entry.spoofchk), ("trust", record.trust, entry.trust)):
        if recorded is not None and recorded != now:
            steps.append(flag_step(VfRef(pf, index, address), flag, recorded, now))
    persist = record.persist
    if persist is not None and persist.kind == "udev" and persist.path is not None:
        now_rule = surroundings.udev_rule
        if now_rule != persist.previous:
            undo = (
                Action(ActionKind.FILE_REMOVE, (persist.path,))
                if now_rule is None
                else Action(ActionKind.FILE_PUT, (persist.path, now_rule, mode_text(surroundings.udev_mode)))
            )
            if persist.previous is None:
                action = Action(ActionKind.FILE_REMOVE, (persist.path,))
                text = f"remove {persist.path}"
            else:
                mode = DEFAULT_RULE_MODE if persist.previous_mode is None else persist.previous_mode
                action = Action(ActionKind.FILE_PUT, (persist.path, persist.previous, mode_text(mode)))
                text = f"restore {persist.path} (mode {mode_text(mode)})"
            steps.append(Step("persist", address, text, action, (undo,)))
    driver_steps: list[Step]
    if persist is not None and persist.kind == "driverctl" and surroundings.driverctl_saved == VFIO:
        # forget the saved override without rebinding, then the driver as recorded (it may have been vfio-pci)
        bound = _text(device.driver) or ""
        steps.append(
            Step(
                "driverctl",
                address,
                f"driverctl --noprobe unset-override {address} (forgets the saved override; the driver stays)",
                Action(ActionKind.DRIVERCTL, ("--noprobe", "unset-override", address), (address, bound)),
                (Action(ActionKind.DRIVERCTL, ("--noprobe", "set-override", address, VFIO), (address, bound)),),
            )
        )
        driver_steps = _back_to(replace(device, driver_override=None), record.driver, record.driver_override)
    else:
        driver_steps = _back_to(device, record.driver, record.driver_override)
    steps += driver_steps
    read = {str(function.address): function for function in surroundings.members}
    for member in record.group:
        function = read.get(member.address)
        if function is None:
            kept.append(f"group member {member.address} is gone: nothing to restore")
            continue
        steps += _back_to(function, member.driver, member.driver_override)
    if driver_picked and record.driver is not None and (driver_steps or admin != record.admin_mac):
        steps.append(
            Step(
                "vf-address",
                address,
                f"give {address}'s own interface back the MAC its driver had picked: {record.admin_mac}",
                Action(ActionKind.VF_ADDRESS, (address, record.admin_mac)),
                (),
                "the interface's MAC is left as it is",
                best_effort=True,
            )
        )
    if not steps:
        kept.append(f"{address} is as recorded: driver {record.driver or 'none'}, admin MAC {admin}")
    refusals = _undo_use_refusals(check_input, device, tuple(steps), surroundings)
    refusals += _run_refusals(tuple(steps), surroundings)
    return Plan(query, () if refusals else tuple(steps), tuple(refusals), tuple(kept))


def _undo_use_refusals(
    check_input: CheckInput, device: PciFunction, steps: tuple[Step, ...], surroundings: Surroundings
) -> list[str]:
    """--undo changes only what is unused now: each device a step changes that is on a host driver (someone may
    have bound one by hand since, or re-created the VFs) is checked as prepare checks it before moving it."""
    functions = {str(f.address): f for f in surroundings.members}
    functions[str(device.address)] = device
    netdevs: dict[str, tuple[NetDevice, ...] | Unreadable] = {str(device.address): check_input.netdevs}
    classes: dict[str, int | Unreadable] = {}
    group = check_input.group
    if isinstance(group, IommuGroup) and not isinstance(group.members, Unreadable):
        for member in group.members:
            netdevs.setdefault(str(member.address), member.netdevs)
            classes[str(member.address)] = member.pci_class
    uppers, unicast = surroundings.upper_map(), surroundings.unicast_map()
    refusals: list[str] = []
    for address in changed_devices(steps):
        function = functions.get(address)
        driver = None if function is None else function.driver
        if function is None or function.is_vfio or driver is None or driver in NO_NETDEV_DRIVERS:
            continue
        if isinstance(driver, Unreadable):
            refusals.append(f"cannot tell whether {address} is in use: its driver could not be read ({driver})")
            continue
        pci_class = classes.get(address, NETWORK_CLASS << 16)
        if address != str(device.address) and not is_network(pci_class):
            refusals.append(
                f"{address} is on {driver} now, not a network function prepare can tell is unused: stop whatever "
                f"uses it and unbind it by hand, then run --undo again"
            )
            continue
        unread: Unreadable = Unreadable(f"bus/pci/devices/{address}", "not in the VF's IOMMU group now")
        usage = network_use(netdevs.get(address, unread), driver, uppers, unicast)
        refused = use_refusal(address, usage)
        refusals += [refused] if refused else []
    return refusals
