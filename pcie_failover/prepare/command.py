"""`prepare` end to end: assess (check's own reading and rules), plan, record, run with rollback, re-check.

The root and the writer are parameters: the CLI passes the live /sys and the live writer; tests pass a
built host and a fake writer (the one seam), and a directory standing in for /proc.
Order: the undo store's lock first (it serialises every prepare on the host, group members included), then
the host is read, the plan made and the steps run, all under it: two runs never plan from the same state.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, replace

from pcie_failover.adapters.files import SafeDirectory, UnsafePathError
from pcie_failover.adapters.proc import PROC, ProcReader
from pcie_failover.check.command import checked
from pcie_failover.model.address import DeviceQuery, PciAddress
from pcie_failover.model.check import CheckInput, CheckOptions
from pcie_failover.model.host import IommuGroup, NetDevice, PciFunction, Unreadable
from pcie_failover.model.occupancy import Holders, VfioDevice
from pcie_failover.model.report import CheckReport
from pcie_failover.netinfo.source import NetlinkSource
from pcie_failover.prepare.model import Outcome, Plan, RunResult, UndoRecord
from pcie_failover.prepare.plan import (
    DEFAULT_RULE_MODE,
    DRIVERCTL_DIR,
    NO_NETDEV_DRIVERS,
    Request,
    Surroundings,
    merge_records,
    plan_prepare,
    plan_undo,
    udev_rule_path,
)
from pcie_failover.prepare.report import PrepareReport
from pcie_failover.prepare.runner import Guard, Writer, run_plan
from pcie_failover.prepare.store import PREVIOUS_LIMIT, STATE_DIR, RecordError, UndoStore, oversize
from pcie_failover.prepare.usage import network_use, use_refusal
from pcie_failover.sysfs import occupancy, pci
from pcie_failover.sysfs.host import netlink_for
from pcie_failover.sysfs.root import SysfsRoot

# An interface name -> the secondary unicast addresses in its unicast filter (adapters/iproute.py).
UnicastReader = Callable[[str], "tuple[str, ...] | Unreadable"]


def _no_unicast(_name: str) -> tuple[str, ...]:
    return ()


def unicast_reader(root: SysfsRoot, given: UnicastReader | None = None) -> UnicastReader:
    """`given` (tests); else the live kernel's (`bridge fdb show`) for the live /sys; else none (a built tree)."""
    if given is not None:
        return given
    if root.live:
        from pcie_failover.adapters.iproute import LiveIproute  # the subprocess module only when live

        return LiveIproute().secondary_unicast
    return _no_unicast


@dataclass(frozen=True)
class RuleFile:
    """A rule file as read: its text (None: absent), permission bits, and why it cannot be kept (None: it can)."""

    text: str | None
    mode: int = DEFAULT_RULE_MODE
    problem: str | None = None


def read_rule(path: str, limit: int = PREVIOUS_LIMIT) -> RuleFile:
    """The file prepare may replace, read so that --undo can put back its exact bytes and mode, or why not."""
    directory, name = os.path.split(path)
    try:
        with SafeDirectory.open(directory) as opened:
            st = opened.lstat(name)
            if st is None:
                return RuleFile(None)
            mode = stat.S_IMODE(st.st_mode)
            if mode & ~0o777:
                why = f"{path} has the mode {mode:04o}: an undo record keeps permission bits only"
                return RuleFile(None, mode, why)
            if stat.S_ISREG(st.st_mode) and st.st_size > limit:
                return RuleFile(None, mode, f"{path} holds {st.st_size} bytes, more than the {limit} an undo record "
                                "keeps: move it away first")  # fmt: skip
            data = opened.read_bounded(name, limit)
    except UnsafePathError as error:
        if str(error).endswith("does not exist"):
            return RuleFile(None)
        return RuleFile(None, DEFAULT_RULE_MODE, f"{error}: prepare will not replace it")
    try:
        return RuleFile(data.decode("utf-8"), mode)
    except UnicodeDecodeError:
        why = f"{path} is not UTF-8 text: --undo could not put its bytes back: move it away first"
        return RuleFile(None, mode, why)


def _read_text(path: str) -> str | None:
    """driverctl's saved override, or None."""
    rule = read_rule(path)
    if rule.problem is not None:
        raise RecordError(rule.problem)
    return rule.text


def vfio_devices(root: SysfsRoot, functions: list[PciFunction]) -> tuple[VfioDevice, ...]:
    """What shows each of `functions` on vfio-pci open (see sysfs/occupancy.py); the others are left out."""
    return tuple(occupancy.vfio_device(root, f.address) for f in functions if f.is_vfio)


def with_down_addresses(netlink: NetlinkSource, check_input: CheckInput) -> CheckInput:
    """check asks netlink for the addresses and routes of interfaces that are up only; prepare counts them on a
    down one too (an IPv4 address stays on an interface set down): the VF's and the group members' interfaces.
    `netlink` is the source check read from: its address and route dumps are made once."""

    def fill(netdevs: tuple[NetDevice, ...] | Unreadable) -> tuple[NetDevice, ...] | Unreadable:
        if isinstance(netdevs, Unreadable):
            return netdevs
        filled = []
        for netdev in netdevs:
            if netdev.admin_up is not False:
                filled.append(netdev)
                continue
            name = netdev.name
            filled.append(replace(netdev, ip_addresses=netlink.addresses(name), routes=netlink.routes(name)))
        return tuple(filled)

    group = check_input.group
    if isinstance(group, IommuGroup) and not isinstance(group.members, Unreadable):
        group = replace(group, members=tuple(replace(m, netdevs=fill(m.netdevs)) for m in group.members))
    return replace(check_input, netdevs=fill(check_input.netdevs), group=group)


def _interfaces(check_input: CheckInput) -> list[str]:
    """The VF's interfaces and those of the other members of its IOMMU group."""
    names = [n.name for n in check_input.netdevs] if isinstance(check_input.netdevs, tuple) else []
    group = check_input.group
    if isinstance(group, IommuGroup) and not isinstance(group.members, Unreadable):
        for member in group.members:
            netdevs: tuple[NetDevice, ...] | Unreadable = member.netdevs
            names += [n.name for n in netdevs] if isinstance(netdevs, tuple) else []
    return names


def read_surroundings(
    root: SysfsRoot,
    check_input: CheckInput,
    persist: str | None,
    driverctl: bool,
    config_root: str = "",
    *,
    proc: ProcReader | None = None,
    also: tuple[PciAddress, ...] = (),
    unicast: UnicastReader | None = None,
) -> Surroundings:
    """Group members as read (their driver_override; `also`: devices to read with them, the members an undo
    record names), upper devices, what shows each device on vfio-pci open and the processes holding VFIO files
    (`proc`: None reads none), the interfaces' secondary unicast addresses (`unicast`: see unicast_reader), and
    the persistence files now (`config_root`: tests)."""
    members: list[PciFunction] = []
    group = check_input.group
    addresses = list(also)
    if isinstance(group, IommuGroup) and not isinstance(group.members, Unreadable):
        addresses = [member.address for member in group.members] + addresses
    for member_address in dict.fromkeys(addresses):
        function = pci.read_function(root, member_address)
        if isinstance(function, PciFunction):
            members.append(function)
    device = check_input.device
    address = str(device.address) if isinstance(device, PciFunction) else None
    rule = RuleFile(None)
    saved = None
    if address is not None and persist == "udev":
        rule = read_rule(config_root + udev_rule_path(address))
    if address is not None and persist == "driverctl":
        text = _read_text(f"{config_root}{DRIVERCTL_DIR}/pci-{address}")
        saved = None if text is None else text.strip()
    names = tuple(dict.fromkeys(_interfaces(check_input)))
    uppers = tuple((name, occupancy.upper_devices(root, name)) for name in names)
    read_unicast = unicast_reader(root, unicast)
    secondary = tuple((name, read_unicast(name)) for name in names)
    own = [device] if isinstance(device, PciFunction) else []
    vfio = vfio_devices(root, own + [m for m in members if m.address not in {f.address for f in own}])
    files = frozenset(path for v in vfio for path in v.files)
    holders = Holders() if proc is None else proc.holders(files, device_files=bool(vfio))
    return Surroundings(
        tuple(members), driverctl, rule.text, saved, uppers, holders, vfio, rule.mode, rule.problem, secondary
    )


def rollback_guard(root: SysfsRoot, unicast: UnicastReader | None = None) -> Guard:
    """Before a rollback unbinds a host driver: the device read anew and checked by the in-use rules (an interface
    DHCP or NetworkManager brought up meanwhile, an address, a macvlan); why not, or None to go on."""

    def guard(address: str, driver: str) -> str | None:
        if driver in NO_NETDEV_DRIVERS:
            return None
        fresh = root.fresh()
        try:
            query = DeviceQuery.parse(address)
        except ValueError as error:
            return f"cannot tell whether {address} is in use now: {error}"
        netlink = netlink_for(fresh)
        check_input = with_down_addresses(
            netlink, checked(fresh, query, CheckOptions(), strict=False, netlink=netlink)[0]
        )
        netdevs = check_input.netdevs
        names = [n.name for n in netdevs] if isinstance(netdevs, tuple) else []
        uppers = {name: occupancy.upper_devices(fresh, name) for name in names}
        read_unicast = unicast_reader(fresh, unicast)
        usage = network_use(netdevs, driver, uppers, {name: read_unicast(name) for name in names})
        refused = use_refusal(address, usage, " now")
        return None if refused is None else f"{refused}; {driver} was left bound"

    return guard


def _final(root: SysfsRoot, query: DeviceQuery, options: CheckOptions) -> CheckReport:
    return checked(root.fresh(), query, options, strict=False)[1]


def _address(check_input: CheckInput) -> str:
    device = check_input.device
    return str(device.address) if isinstance(device, PciFunction) else check_input.query.text


def _assess(
    root: SysfsRoot,
    query: DeviceQuery,
    request: Request,
    *,
    driverctl: bool,
    config_root: str,
    proc: ProcReader,
    unicast: UnicastReader | None = None,
) -> tuple[CheckInput, CheckReport, Plan, UndoRecord | None]:
    netlink = netlink_for(root)
    check_input, report = checked(root, query, CheckOptions(mac=request.mac), strict=False, netlink=netlink)
    check_input = with_down_addresses(netlink, check_input)
    surroundings = read_surroundings(
        root, check_input, request.persist, driverctl, config_root, proc=proc, unicast=unicast
    )
    plan, record = plan_prepare(check_input, report.results, request, surroundings)
    return check_input, report, _fits(plan, record), record


def _fits(plan: Plan, record: UndoRecord | None) -> Plan:
    """Refused before anything changes when the record the steps need could not be kept (see store.oversize)."""
    too_large = None if record is None or not plan.steps else oversize(record)
    if too_large is None:
        return plan
    return replace(plan, steps=(), refusals=(*plan.refusals, f"{too_large}: move it away first"))


def run_prepare(
    root: SysfsRoot,
    query: DeviceQuery,
    request: Request,
    writer: Writer,
    *,
    dry_run: bool,
    state_dir: str = STATE_DIR,
    driverctl: bool = False,
    config_root: str = "",
    proc_root: str = PROC,
    unicast: UnicastReader | None = None,
) -> PrepareReport:
    """Lock, assess, plan, and (unless `dry_run`) record the state before and run the steps with rollback.

    A dry run takes no lock (it writes nothing, not even the state directory). A state directory that does not
    exist yet is made only when a record is to be written: the host is assessed first without the lock (there
    is no record to protect yet); when steps are needed, the directory is made, locked, and the host assessed
    again under the lock, so the steps that run are planned from the state read under it.
    """
    options = CheckOptions(mac=request.mac)
    proc = ProcReader(proc_root)

    def assess() -> tuple[CheckInput, CheckReport, Plan, UndoRecord | None]:
        fresh = root.fresh()
        return _assess(fresh, query, request, driverctl=driverctl, config_root=config_root, proc=proc, unicast=unicast)

    if dry_run:
        check_input, report, plan, _record = assess()
        outcome = Outcome.REFUSED if plan.refusals else Outcome.DRY_RUN
        return PrepareReport(_address(check_input), False, True, outcome, plan, final=report)
    guard = rollback_guard(root, unicast)
    with UndoStore.opened(state_dir, create=False) as existing_store:
        done = None if existing_store is None else _prepare_locked(existing_store, assess, writer, guard)
    if done is None:
        check_input, report, plan, _record = assess()
        if plan.refusals or not plan.steps:
            outcome = Outcome.REFUSED if plan.refusals else Outcome.UNCHANGED
            return PrepareReport(_address(check_input), False, False, outcome, plan, final=report)
        with UndoStore.opened(state_dir, create=True) as store:
            assert store is not None
            done = _prepare_locked(store, assess, writer, guard)
    if done.result is None:
        return done
    return replace(done, final=_final(root, query, options))  # re-checked once the lock is released


def _prepare_locked(
    store: UndoStore,
    assess: Callable[[], tuple[CheckInput, CheckReport, Plan, UndoRecord | None]],
    writer: Writer,
    guard: Guard,
) -> PrepareReport:
    """Under the store's lock: assess, record the state before, run the steps with rollback (the caller re-checks
    what a run left: `final` is None then)."""
    check_input, report, plan, record = assess()
    address = _address(check_input)
    if plan.refusals:
        return PrepareReport(address, False, False, Outcome.REFUSED, plan, final=report)
    if not plan.steps:
        return PrepareReport(address, False, False, Outcome.UNCHANGED, plan, final=report)
    assert record is not None
    existing = store.load(address)
    merged = merge_records(existing, record)
    plan = _fits(plan, merged)
    if plan.refusals:
        return PrepareReport(address, False, False, Outcome.REFUSED, plan, final=report)
    path = store.save(merged)
    result = run_plan(plan.steps, writer, guard)
    notes = warning_notes(result)
    if result.failed is not None and not result.undo_failed:
        if existing is None:
            store.remove(address)
            notes.append("every step taken was undone: the undo record was removed")
        else:
            store.save(existing)
    return PrepareReport(address, False, False, result.outcome, plan, result, path, None, tuple(notes))


def _gone(query: DeviceQuery, store: UndoStore | None, report: CheckReport) -> PrepareReport | None:
    """--undo of a device that no longer exists but has a record: say so, keep the record (exit 7)."""
    if query.address is None or store is None:
        return None
    address = str(query.address)
    if store.load(address) is None:
        return None
    path = store.path(address)
    why = (
        f"{address} is gone: no such PCI device now (were its VFs destroyed, sriov_numvfs lowered?); "
        f"the undo record {path} is kept: create the VF again and run --undo, or remove the record by hand"
    )
    plan = Plan(address, refusals=(why,))
    return PrepareReport(address, True, False, Outcome.DEVICE_GONE, plan, record_path=path, final=report)


def run_undo(
    root: SysfsRoot,
    query: DeviceQuery,
    writer: Writer,
    *,
    dry_run: bool,
    state_dir: str = STATE_DIR,
    driverctl: bool = False,
    config_root: str = "",
    proc_root: str = PROC,
    unicast: UnicastReader | None = None,
) -> PrepareReport:
    """Back to the recorded state, under the store's lock; the record goes once every step ran."""
    options = CheckOptions()
    with UndoStore.opened(state_dir, create=False) as store:
        root = root.fresh()
        netlink = netlink_for(root)
        check_input, report = checked(root, query, options, strict=False, netlink=netlink)
        address = _address(check_input)
        record = None
        if store is not None and isinstance(check_input.device, PciFunction):
            record = store.load(address)
        if record is None:
            gone = _gone(query, store, report) if check_input.device is None else None
            if gone is not None:
                return replace(gone, dry_run=dry_run)
            plan = Plan(address, kept=(f"no undo record for {address} in {state_dir}: nothing to undo",))
            return PrepareReport(address, True, dry_run, Outcome.UNCHANGED, plan, final=report)
        persist = None if record.persist is None else record.persist.kind
        proc = ProcReader(proc_root)
        check_input = with_down_addresses(netlink, check_input)
        also = tuple(pci_address(m.address) for m in record.group)
        surroundings = read_surroundings(
            root, check_input, persist, driverctl, config_root, proc=proc, also=also, unicast=unicast
        )
        plan = plan_undo(check_input, record, surroundings)
        if plan.refusals:
            return PrepareReport(address, True, dry_run, Outcome.REFUSED, plan, final=report)
        if dry_run:
            return PrepareReport(address, True, True, Outcome.DRY_RUN, plan, final=report)
        assert store is not None
        result = run_plan(plan.steps, writer, rollback_guard(root, unicast)) if plan.steps else RunResult()
        path = store.path(address)
        if result.failed is None:
            store.remove(address)
    final = _final(root, query, options)
    outcome = Outcome.UNDONE if result.failed is None else result.outcome
    if not plan.steps:
        outcome = Outcome.UNCHANGED
    note = ("the undo record was removed",) if result.failed is None else ("the undo record was kept",)
    return PrepareReport(address, True, False, outcome, plan, result, path, final, (*warning_notes(result), *note))


def warning_notes(result: RunResult) -> list[str]:
    """One note per best-effort step that failed (the run went on)."""
    return [
        f"warning: {run.step.step_id} failed ({run.error}): {run.step.undo_note or 'left as it is'}; "
        "the rest was not rolled back for it"
        for run in result.warnings
    ]


def pci_address(text: str) -> PciAddress:
    return PciAddress.parse(text)
