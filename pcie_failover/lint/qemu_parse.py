"""A QEMU command line (text) -> VmConfig: devices in argument order, the buses their ports create."""

from __future__ import annotations

from dataclasses import dataclass, field

from pcie_failover.lint.model import Bus, BusKind, ConfigKind, Device, VmConfig, machine_is_pcie
from pcie_failover.lint.options import flag, global_setting, number, parse_value, pci_addr
from pcie_failover.lint.qemu_words import ConfigError, split_command
from pcie_failover.model.address import InputError, PciAddress

# Options that take no argument (qemu-options.hx); every other option takes the next word.
_NO_ARGUMENT = frozenset(
    {
        "S",
        "nodefaults",
        "no-user-config",
        "no-reboot",
        "no-shutdown",
        "enable-kvm",
        "nographic",
        "daemonize",
        "snapshot",
        "no-hpet",
        "no-acpi",
        "full-screen",
        "s",
        "usb",
        "version",
        "help",
        "h",
        "only-migratable",
        "preconfig",
        "no-fd-bootchk",
        "win2k-hack",
        "no-quit",
        "alt-grab",
        "ctrl-grab",
        "semihosting",
        "enable-sync-profile",
        "xen-attach",
        "xen-domid-restrict",
        "curses",
        "portrait",
        "no-frame",
        "sdl",
        "enable-fips",
        "rtc-td-hack",
        "no-kvm-pit-reinjection",
        "old-param",
    }
)
PORTS = {"pcie-root-port": BusKind.PCIE_PORT, "ioh3420": BusKind.PCIE_PORT, "xio3130-downstream": BusKind.PCIE_PORT}
_OTHER_BUSES = {
    "x3130-upstream": BusKind.PCIE_INTERNAL,
    "pxb-pcie": BusKind.PCIE_INTERNAL,
    "pci-bridge": BusKind.PCI_BRIDGE,
    "pcie-pci-bridge": BusKind.PCI_BRIDGE,
    "pci-bridge-seat": BusKind.PCI_BRIDGE,
    "i82801b11-bridge": BusKind.PCI_BRIDGE,
    "pxb": BusKind.PCI_BRIDGE,
}


@dataclass
class _State:
    machine: str | None = None
    devices: list[Device] = field(default_factory=list)
    netdevs: dict[str, dict[str, str]] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)


def _options(words: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """(option, argument) pairs; `--opt` is `-opt`; a word that is no option is a positional argument."""
    pairs: list[tuple[str, str | None]] = []
    it = iter(words)
    for word in it:
        if not word.startswith("-") or word == "-":
            pairs.append(("", word))
            continue
        name = word[2:] if word.startswith("--") else word[1:]
        if name in _NO_ARGUMENT:
            pairs.append((name, None))
            continue
        argument = next(it, None)
        if argument is None:
            raise ConfigError(f"option -{name} has no argument")
        pairs.append((name, argument))
    return pairs


def _host(props: dict[str, str]) -> tuple[PciAddress | None, str | None]:
    text = props.get("host") or (props.get("sysfsdev") or "").rstrip("/").rpartition("/")[2] or None
    if text is None:
        return None, None
    try:
        return PciAddress.parse(text), None
    except InputError:
        return None, text


# QEMU's qdev aliases for network devices on PCI targets (qdev-monitor.c qdev_alias_table[];
# `-device help` lists `name "virtio-net-pci", bus PCI, alias "virtio-net"`).
QDEV_ALIASES = {"virtio-net": "virtio-net-pci", "e1000-82540em": "e1000"}


def _device(state: _State, value: str) -> None:
    option = f"-device {value}"
    props = parse_value(option, value, "driver")
    written = props.get("driver")
    if not written:
        raise ConfigError(f"{option}: no driver")
    driver = QDEV_ALIASES.get(written, written)
    slot, function = pci_addr(option, props.get("addr"))
    device_id = props.get("id") or None
    netdev = state.netdevs.get(props.get("netdev", ""), {})
    host, host_text = _host(props) if driver == "vfio-pci" else (None, None)
    state.devices.append(
        Device(
            order=len(state.devices),
            label=f"-device {written}" + (f" (id {device_id})" if device_id else f" #{len(state.devices) + 1}"),
            driver=driver,
            id=device_id,
            bus=props.get("bus"),
            slot=slot,
            function=function,
            multifunction=flag(option, "multifunction", props.get("multifunction"), False),
            failover=flag(option, "failover", props.get("failover"), False),
            failover_pair_id=props.get("failover_pair_id"),
            mac=props.get("mac"),
            host=host,
            host_text=host_text,
            chassis=(number(option, "chassis", props.get("chassis")) or 0) if driver in PORTS else None,
            port_slot=(number(option, "slot", props.get("slot")) or 0) if driver in PORTS else None,
            hotplug=flag(option, "hotplug", props.get("hotplug"), True),
            backend_bridge=netdev.get("br", "br0") if netdev.get("type") == "bridge" else None,
            vf_token=bool(props.get("vf-token")) if driver == "vfio-pci" else None,
        )
    )


def _apply(state: _State, name: str, value: str | None) -> None:
    if value is None:
        return
    if name == "device":
        _device(state, value)
    elif name == "netdev":
        props = parse_value(f"-netdev {value}", value, "type")
        state.netdevs[props.get("id", "")] = props
    elif name in ("machine", "M"):
        machine = parse_value(f"-{name} {value}", value, "type").get("type")
        state.machine = machine or state.machine
    elif name == "global":
        key, setting = global_setting(value)
        state.globals[key] = setting


def _buses(machine: str | None, devices: tuple[Device, ...]) -> dict[str, Bus]:
    """The root bus and one bus per port or bridge with an id."""
    pcie = machine_is_pcie(machine) is not False
    root = Bus("pcie.0", BusKind.PCIE_ROOT, False) if pcie else Bus("pci.0", BusKind.PCI_ROOT, True)
    found = {root.name: root}
    for device in devices:
        kind = PORTS.get(device.driver) or _OTHER_BUSES.get(device.driver)
        if kind is not None and device.id:
            hotplug = kind is BusKind.PCI_BRIDGE or (kind is BusKind.PCIE_PORT and device.hotplug)
            found[device.id] = Bus(device.id, kind, hotplug)
    return found


def parse_qemu(text: str) -> VmConfig:
    """Parse a QEMU command line; raise ConfigError when it is malformed."""
    command = split_command(text)
    state = _State()
    for name, value in _options(command.words):
        _apply(state, name, value)
    devices = tuple(state.devices)
    defaulted = not state.machine and command.binary is not None
    machine = _default_machine(command.binary) if defaulted and command.binary is not None else state.machine
    return VmConfig(
        kind=ConfigKind.QEMU,
        complete=command.binary is not None,
        machine=machine,
        devices=devices,
        buses=_buses(machine, devices),
        globals=state.globals,
        qemu_version=command.qemu_version,
        machine_default=_default_note(command.binary, machine) if defaulted else None,
    )


def _default_note(binary: str | None, machine: str | None) -> str | None:
    """What a whole command line without -machine gets: x86's `pc`, or nothing at all on Arm."""
    if machine:
        return "the default of a command line without -machine"
    if binary is not None and binary.endswith(("aarch64", "-arm")):
        # system/vl.c select_machine(): "No machine specified, and there is no default"
        return f"{binary.rsplit('/', 1)[-1]} has no default machine: QEMU refuses to start without -machine"
    return None


def _default_machine(binary: str) -> str | None:
    """A whole command line without -machine runs the binary's default: `pc` on x86."""
    return "pc" if binary.endswith(("x86_64", "i386", "qemu-kvm", "kvm")) else None
