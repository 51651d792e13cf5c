"""What `capture` reads: the commands' own reads of the devices, made once through a recording root.

A capture of some devices must answer as the host did: `check`, `pair` and `register` of each
(also by interface name), `list` of their PF's family (of every network function when none is
named), `audit`'s search for a primary whose address changed, and `check --standby-netdev`
with each virtual interface. Each read is made here by the reader the command itself calls;
which paths those readers touch is written down nowhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from pcie_failover.audit.record import identity_of
from pcie_failover.model.address import DeviceQuery, PciAddress
from pcie_failover.model.check import CheckInput, CheckOptions
from pcie_failover.model.host import NETWORK_CLASS, PciFunction
from pcie_failover.netinfo.source import NetlinkSource
from pcie_failover.sysfs import attributes as attr
from pcie_failover.sysfs.check_input import HostReader, locate
from pcie_failover.sysfs.iommu import group_of
from pcie_failover.sysfs.net import NET, interface_with_mac, standby_backend
from pcie_failover.sysfs.pci import functions_of_class, identity_at, read_function, slot_function, virtfn, virtfns
from pcie_failover.sysfs.root import SysfsRoot

Done = Callable[[int, int], None]  # told how many devices have been read, of how many (0 of them first)


def rehearse(
    root: SysfsRoot, netlink: NetlinkSource, wanted: Sequence[PciAddress] | None, done: Done | None = None
) -> list[PciFunction]:
    """Read what the commands read of `wanted` (None: `list` and each of every network function); the functions read."""
    reader = HostReader(root, netlink)
    options = CheckOptions()
    functions: dict[PciAddress, PciFunction] = {}  # every function read, for the names file
    listed_once: set[PciAddress] = set()
    families: set[PciAddress] = set()  # PFs whose family was listed (each once: a PF of 256 VFs is not 256 times)
    refound: set[tuple[object, ...]] = set()  # PF MAC and slot searches made (each once)

    def listed(candidates: Iterable[tuple[PciAddress, int]]) -> None:
        """`list`'s reads: each function read with its class, then its check input."""
        for address, pci_class in candidates:
            if address in listed_once:
                continue
            listed_once.add(address)
            function = read_function(root, address, pci_class)
            if isinstance(function, PciFunction):
                functions.setdefault(address, function)
                _collect(functions, reader.check_input(DeviceQuery(str(address), address, None), options, function))

    if wanted is None:  # the host's listing, read once: `list` of every network function, then each of them
        candidates = functions_of_class(root, NETWORK_CLASS)
        listed(candidates)
        wanted = [address for address, _ in candidates]
    if done is not None:
        done(0, len(wanted))
    for count, address in enumerate(wanted, 1):
        check_input = reader.check_input(DeviceQuery(str(address), address, None), options)
        _collect(functions, check_input)
        device = check_input.device
        if isinstance(device, PciFunction):
            _by_name(root, device)
            family = device.physfn if isinstance(device.physfn, PciAddress) else device.address
            owner = None if family in families else functions.get(family) or read_function(root, family)
            if isinstance(owner, PciFunction) and owner.sriov is not None:
                families.add(family)  # `list --pf`: the PF and its VFs
                names = sorted(str(a) for a in {owner.address, *virtfns(root, owner.path)})
                listed(functions_of_class(root, NETWORK_CLASS, names))
            _refind(root, check_input, refound)
        if done is not None:
            done(count, len(wanted))
    _standby_backends(root)
    return list(functions.values())


def _collect(functions: dict[PciAddress, PciFunction], check_input: CheckInput) -> None:
    for function in (check_input.device, check_input.pf):
        if isinstance(function, PciFunction):
            functions.setdefault(function.address, function)


def _by_name(root: SysfsRoot, device: PciFunction) -> None:
    """`check IFNAME`: the device found through its interfaces."""
    for name in device.netdevs if isinstance(device.netdevs, tuple) else ():
        locate(root, DeviceQuery(name, None, name))


def _refind(root: SysfsRoot, check_input: CheckInput, done: set[tuple[object, ...]]) -> None:
    """`audit` of a pair registered here: the primary at its address, else through its PF's MAC or slot.

    The searches for a PF (by MAC: every interface's address; by slot) are the same for all its VFs: made once.
    """
    identity = identity_of(check_input)
    if identity is None:
        return
    identity_at(root, identity.bdf)
    group_of(root, identity.bdf)
    pf = identity.pf_bdf
    if pf is None:
        return
    if identity.pf_mac is not None and ("mac", identity.pf_mac) not in done:
        done.add(("mac", identity.pf_mac))
        interface_with_mac(root, identity.pf_mac)
    if identity.pf_slot is not None and ("slot", identity.pf_slot, pf.function) not in done:
        done.add(("slot", identity.pf_slot, pf.function))
        slot_function(root, identity.pf_slot, pf.function)
    if identity.vf_index is not None:
        virtfn(root, pf, identity.vf_index)


def _standby_backends(root: SysfsRoot) -> None:
    """`check --standby-netdev NAME` and `pair --netdev macvtap=NAME` for every interface of the host."""
    names = attr.listing(root, NET)
    for name in names if isinstance(names, tuple) else ():
        standby_backend(root, name)
