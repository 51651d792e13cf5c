"""Root ports: chassis/slot pairs and pcie.0 slots the VM does not use yet."""

from __future__ import annotations

from dataclasses import dataclass

from pcie_failover.model.address import InputError, PciAddress

MAX_CHASSIS = 255  # pcie-root-port `chassis` is a uint8
MAX_SLOT = 8191  # the Physical Slot Number field of the slot capabilities is 13 bits
# q35's pcie.0: 00.0 is the host bridge, 01.0 the default VGA device, 1f.x the ICH9 functions.
RESERVED_DEVICES = frozenset({0x00, 0x01, 0x1F})


@dataclass(frozen=True, order=True)
class ChassisSlot:
    """A root port's (chassis, slot): QEMU refuses a pair used twice (`error -16`)."""

    chassis: int
    slot: int

    def __str__(self) -> str:
        return f"{self.chassis}/{self.slot}"


def _number(text: str, limit: int, what: str) -> int:
    if not text.isdigit() or int(text) > limit:
        raise InputError(f"{what} {text!a} is not a number from 0 to {limit}")
    return int(text)


def parse_chassis_slots(text: str, what: str) -> tuple[ChassisSlot, ...]:
    """Parse `1/1,2/3` (empty: none); raise InputError on malformed or repeated pairs."""
    pairs: list[ChassisSlot] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        chassis, sep, slot = item.partition("/")
        if not sep:
            raise InputError(f"{what}: {item!a} is not CHASSIS/SLOT (e.g. 1/1)")
        pair = ChassisSlot(_number(chassis, MAX_CHASSIS, "chassis"), _number(slot, MAX_SLOT, "slot"))
        if pair in pairs:
            raise InputError(f"{what}: chassis {pair.chassis} slot {pair.slot} is listed twice")
        pairs.append(pair)
    return tuple(pairs)


def parse_addresses(text: str) -> tuple[PciAddress, ...]:
    """Parse `00:02.0,00:03.0` (empty: none); raise InputError on a malformed address."""
    return tuple(PciAddress.parse(part.strip()) for part in text.split(",") if part.strip())


def choose_ports(used: tuple[ChassisSlot, ...], wanted: tuple[ChassisSlot, ...]) -> tuple[ChassisSlot, ChassisSlot]:
    """The standby's and primary's ports: `wanted` (two pairs) or the first free N/N pairs from 1/1."""
    if wanted:
        if len(wanted) != 2:
            raise InputError(f"--ports needs two CHASSIS/SLOT pairs (standby, primary), not {len(wanted)}")
        clash = [str(p) for p in wanted if p in used]
        if clash:
            raise InputError(f"--ports {', '.join(clash)} conflicts with --used-chassis: the VM already has it")
        return wanted[0], wanted[1]
    free = (ChassisSlot(n, n) for n in range(1, MAX_CHASSIS + 1) if ChassisSlot(n, n) not in used)
    first, second = next(free, None), next(free, None)
    if first is None or second is None:
        raise InputError("no free chassis/slot pair N/N left for two root ports")
    return first, second


def choose_addrs(used: tuple[PciAddress, ...]) -> tuple[int, int]:
    """Two free device numbers on pcie.0 (bus 00), never 00, 01 (VGA) or 1f (ICH9)."""
    taken = {a.device for a in used if a.domain == 0 and a.bus == 0} | RESERVED_DEVICES
    free = [n for n in range(0x20) if n not in taken]
    if len(free) < 2:
        raise InputError("fewer than two free slots on pcie.0 for the root ports")
    return free[0], free[1]
