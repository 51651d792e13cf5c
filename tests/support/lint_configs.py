"""The guest configurations the lint tests share: the canonical failover pair, as QEMU words and libvirt XML,
and XML documents a parser must refuse."""

from __future__ import annotations

from pcie_failover.model.address import PciAddress

VF = PciAddress(0, 0x5E, 0, 2)
MAC = "52:54:00:6f:55:cc"
RP1 = "-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1"
RP2 = "-device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2"
STANDBY = f"-device virtio-net-pci,netdev=hostnet0,id=net0,mac={MAC},bus=rp1,addr=0x0,failover=on"
PRIMARY = "-device vfio-pci,host=0000:5e:00.2,id=hostdev0,bus=rp2,addr=0x0,failover_pair_id=net0"
GOOD = f"-machine q35 {RP1} {RP2} -netdev tap,id=hostnet0 {STANDBY} {PRIMARY}"
XML_STANDBY = (
    f"<interface type='bridge'><source bridge='br0'/><mac address='{MAC}'/><model type='virtio'/>"
    "<teaming type='persistent'/><alias name='ua-net0'/></interface>"
)
XML_PRIMARY = (
    "<interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' bus='0x5e' slot='0x00' "
    f"function='0x2'/></source><mac address='{MAC}'/><teaming type='transient' persistent='ua-net0'/>"
    "<alias name='ua-hostdev0'/></interface>"
)
XML_GOOD = XML_STANDBY + XML_PRIMARY
XML_PLACED = (
    "<controller type='pci' index='0' model='pcie-root'/>"
    "<controller type='pci' index='1' model='pcie-root-port'><target chassis='1' port='0x10'/></controller>"
    "<controller type='pci' index='2' model='pcie-root-port'><target chassis='2' port='0x11'/></controller>"
    + XML_STANDBY.replace("</interface>", "<address type='pci' bus='0x01' slot='0x00' function='0x0'/></interface>")
    + XML_PRIMARY.replace("</interface>", "<address type='pci' bus='0x02' slot='0x00' function='0x0'/></interface>")
)


def domain(devices: str, machine: str = "pc-q35-8.2") -> str:
    """A minimal whole domain around `devices`."""
    os = f"<os><type arch='x86_64' machine='{machine}'>hvm</type></os>"
    return f"<domain type='kvm'>{os}<devices>{devices}</devices></domain>"


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<domain><name>&lol3;</name></domain>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE domain [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<domain><name>&xxe;</name></domain>
"""
DTD = '<?xml version="1.0"?>\n<!DOCTYPE domain SYSTEM "http://example.invalid/domain.dtd">\n<domain/>\n'
HOSTILE = {"billion-laughs": BILLION_LAUGHS, "external-entity": EXTERNAL, "dtd": DTD}
