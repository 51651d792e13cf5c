"""The named guest topologies: QEMU devices, kernel arguments and guest job lines."""

from __future__ import annotations

from dataclasses import dataclass

VTD_MACHINE = "q35,kernel-irqchip=split"
VTD = "intel-iommu,intremap=on,caching-mode=on"
NATIVE_HOTPLUG = ("-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off")
PRIMARY_MAC = "52:54:00:6f:55:cc"
IP = "/usr/bin/ip"


@dataclass(frozen=True)
class Topology:
    """One guest layout (devices, other QEMU arguments) and the job that prepares it."""

    name: str
    description: str
    machine: str
    devices: tuple[str, ...]
    qemu_args: tuple[str, ...]
    job: tuple[str, ...]
    append: str = ""


def port(n: int, hotplug: bool = True) -> str:
    """pcie-root-port rp<n> at 00:<n+1>.0 with chassis = slot = n."""
    off = "" if hotplug else ",hotplug=off"
    return f"pcie-root-port,id=rp{n},bus=pcie.0,chassis={n},slot={n},addr={n + 1:#x}{off}"


def nic(model: str, n: int, bus: str, addr: str = "0x0", extra: str = "") -> str:
    """NIC nic<n> on backend nd<n> with MAC 52:54:00:00:00:<n> and no option ROM."""
    return f"{model},id=nic{n},netdev=nd{n},mac=52:54:00:00:00:{n:02x},bus={bus},addr={addr},romfile={extra}"


def netdevs(count: int) -> tuple[str, ...]:
    """Isolated user-mode backends nd1..nd<count>."""
    args: list[str] = []
    for n in range(1, count + 1):
        args += ["-netdev", f"user,id=nd{n},restrict=on"]
    return tuple(args)


def pf_up(bdf: str) -> tuple[str, ...]:
    """Bring a PF's interface up and wait for its carrier (igbvf needs an up PF)."""
    return (f'{IP} link set dev "$(ifname {bdf})" up', f"wait_carrier {bdf}")


def vfs(pf: str, count: int, *before_probe: str) -> tuple[str, ...]:
    """Create `count` VFs with autoprobe off, run `before_probe`, then probe them all."""
    dev = f"/sys/bus/pci/devices/{pf}"
    return (
        f"echo 0 > {dev}/sriov_drivers_autoprobe",
        f"echo {count} > {dev}/sriov_numvfs",
        "sleep 1",
        f"wait_carrier {pf}",
        *before_probe,
        f"echo 1 > {dev}/sriov_drivers_autoprobe",
        f"probe_vfs {pf}",
    )


def vf_mac(pf: str, index: int, mac: str, extra: str = "") -> str:
    """Set VF `index`'s admin MAC (and more) through the PF."""
    return f'{IP} link set dev "$(ifname {pf})" vf {index} mac {mac}{extra}'


def vfio_override(pf: str, index: int) -> str:
    """Make vfio-pci the only driver VF `index` of `pf` may bind."""
    return f'echo vfio-pci > "/sys/bus/pci/devices/$(vf {pf} {index})/driver_override"'


def failed_probe_job() -> tuple[str, ...]:
    """One igb PF with 4 VFs; VF 0 gets an admin MAC and is offered to vfio-pci."""
    pf = "0000:01:00.0"
    return (
        "modprobe igb",
        "modprobe igbvf",
        "modprobe virtio_net",
        "modprobe vfio-pci",
        *pf_up(pf),
        *vfs(pf, 4, vf_mac(pf, 0, PRIMARY_MAC), vfio_override(pf, 0)),
    )


# Open VF 0's group and attach it to a type1 container, as QEMU does (linux include/uapi/linux/vfio.h:
# VFIO_GROUP_SET_CONTAINER = _IO(';', 104), VFIO_SET_IOMMU = _IO(';', 102), VFIO_TYPE1v2_IOMMU = 3).
VFIO_ATTACH = (
    "import fcntl, os, struct, sys\n"
    "group = os.path.basename(os.readlink(f'/sys/bus/pci/devices/{sys.argv[1]}/iommu_group'))\n"
    "container = os.open('/dev/vfio/vfio', os.O_RDWR)\n"
    "fd = os.open(f'/dev/vfio/{group}', os.O_RDWR)\n"
    "fcntl.ioctl(fd, 0x3B68, struct.pack('i', container))\n"
    "try:\n"
    "    fcntl.ioctl(container, 0x3B66, 3)\n"
    "except OSError as error:\n"
    "    print(f'VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU) on group {group}: {error}')\n"
    "else:\n"
    "    print(f'VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU) on group {group}: attached')\n"
)


def vfio_attach_proof(pf: str, index: int) -> tuple[str, ...]:
    """Try QEMU's VFIO attach on VF `index` and keep its outcome and the kernel's lines in /job/proof.log."""
    return (
        f'/usr/bin/python3 -I -c "{VFIO_ATTACH}" "$(vf {pf} {index})" >> /job/proof.log 2>&1'
        ' || echo "attach attempt exited $?" >> /job/proof.log',
        "dmesg | grep -i -e 'remapping' -e 'x2apic' -e 'vfio' >> /job/proof.log || true",
    )


def vtd_acpi(name: str, description: str, qemu_args: tuple[str, ...] = ()) -> Topology:
    """Two igb PFs with 4 VFs each (VF 0 of the first on vfio-pci), virtio-net, e1000e."""
    return Topology(
        name=name,
        description=description,
        machine=VTD_MACHINE,
        devices=(
            VTD,
            port(1),
            nic("igb", 1, "rp1"),
            port(2),
            nic("igb", 2, "rp2"),
            port(3),
            nic("virtio-net-pci", 3, "rp3"),
            port(4, hotplug=False),
            nic("e1000e", 4, "rp4"),
        ),
        qemu_args=netdevs(4) + qemu_args,
        append="intel_iommu=on",
        job=(
            "modprobe igb",
            "modprobe igbvf",
            "modprobe e1000e",
            "modprobe virtio_net",
            "modprobe vfio-pci",
            *pf_up("0000:01:00.0"),
            *pf_up("0000:02:00.0"),
            *vfs("0000:01:00.0", 4, vf_mac("0000:01:00.0", 0, PRIMARY_MAC), vfio_override("0000:01:00.0", 0)),
            *vfs("0000:02:00.0", 4),
        ),
    )


TOPOLOGIES: dict[str, Topology] = {
    t.name: t
    for t in (
        vtd_acpi("vtd-acpi", "VT-d on, QEMU 10 default ACPI PCI hotplug (acpiphp slots)"),
        vtd_acpi(
            "vtd-pciehp",
            "VT-d on, native PCIe hotplug (pciehp slots, pcie004 port services)",
            NATIVE_HOTPLUG,
        ),
        Topology(
            name="no-iommu",
            description="no IOMMU device: vfio-pci probe of an igb VF fails (-22)",
            machine="q35",
            devices=(port(1), nic("igb", 1, "rp1"), port(2), nic("virtio-net-pci", 2, "rp2")),
            qemu_args=netdevs(2),
            job=failed_probe_job(),
        ),
        Topology(
            name="iommu-off",
            description="intel-iommu present but intel_iommu=off: vfio-pci probe fails (-22)",
            machine=VTD_MACHINE,
            devices=(VTD, port(1), nic("igb", 1, "rp1"), port(2), nic("virtio-net-pci", 2, "rp2")),
            qemu_args=netdevs(2),
            append="intel_iommu=off",
            job=failed_probe_job(),
        ),
        Topology(
            name="shared-groups",
            description="VT-d on, native hotplug; a two-function e1000e slot and conventional "
            "PCI NICs behind a pcie-pci-bridge (shpchp slots) share IOMMU groups",
            machine=VTD_MACHINE,
            devices=(
                VTD,
                port(1),
                nic("e1000e", 1, "rp1", "0x0.0", ",multifunction=on"),
                nic("e1000e", 2, "rp1", "0x0.1"),
                port(2),
                "pcie-pci-bridge,id=pbr2,bus=rp2,addr=0x0",
                nic("e1000", 3, "pbr2", "0x1"),
                nic("rtl8139", 4, "pbr2", "0x2"),
                port(3),
                nic("virtio-net-pci", 5, "rp3"),
            ),
            qemu_args=netdevs(5) + NATIVE_HOTPLUG,
            append="intel_iommu=on",
            job=("modprobe e1000e", "modprobe e1000", "modprobe 8139cp", "modprobe virtio_net"),
        ),
        Topology(
            name="vtd-intremap-off",
            description="intel-iommu with interrupt remapping, guest booted with intremap=off: "
            "VF 0 on vfio-pci, whose VFIO attach fails (-EPERM)",
            machine=VTD_MACHINE,
            devices=(VTD, port(1), nic("igb", 1, "rp1")),
            qemu_args=netdevs(1),
            append="intel_iommu=on intremap=off",
            job=(*failed_probe_job(), *vfio_attach_proof("0000:01:00.0", 0)),
        ),
        Topology(
            name="vf-admin",
            description="VT-d on; igb PF with VF admin settings made through the PF: "
            "VFs 0 (MAC), 1 (MAC, VLAN 100) and 2 (all-zero MAC) on vfio-pci, "
            "VF 3 (spoofchk off, trust on) on igbvf",
            machine=VTD_MACHINE,
            devices=(VTD, port(1), nic("igb", 1, "rp1")),
            qemu_args=netdevs(1),
            append="intel_iommu=on",
            job=(
                "modprobe igb",
                "modprobe igbvf",
                "modprobe vfio-pci",
                *pf_up("0000:01:00.0"),
                *vfs(
                    "0000:01:00.0",
                    4,
                    vf_mac("0000:01:00.0", 0, "52:54:00:6f:55:c0"),
                    vf_mac("0000:01:00.0", 1, "52:54:00:6f:55:c1", " vlan 100"),
                    f'{IP} link set dev "$(ifname 0000:01:00.0)" vf 3 spoofchk off trust on',
                    *(vfio_override("0000:01:00.0", index) for index in (0, 1, 2)),
                ),
            ),
        ),
    )
}
