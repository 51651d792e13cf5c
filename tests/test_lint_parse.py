"""Parsing QEMU command lines and libvirt XML into the lint model; hostile XML is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from pcie_failover.lint.libvirt_parse import parse_libvirt, refusal
from pcie_failover.lint.model import BusKind, ConfigKind
from pcie_failover.lint.options import global_setting, parse_value, pci_addr
from pcie_failover.lint.qemu_parse import parse_qemu
from pcie_failover.lint.qemu_words import MAX_WORDS, ConfigError, split_command
from pcie_failover.model.address import PciAddress
from tests.support.lint_configs import HOSTILE

CORPUS = Path(__file__).parent / "lint_corpus"

PAIR = (
    "-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1 "
    "-device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2 "
    "-netdev bridge,id=hostnet0,br=br7 "
    "-device virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:6f:55:cc,bus=rp1,failover=on "
    "-device vfio-pci,host=0000:5e:00.2,id=hostdev0,bus=rp2,addr=0x0,failover_pair_id=net0"
)
LOG = """2026-11-20 10:00:00.123+0000: starting up libvirt version: 7.6.0, qemu version: 6.1.0Debian 1:6.1+dfsg-1
LC_ALL=C \\
PATH=/usr/bin \\
/usr/bin/qemu-system-x86_64 \\
-name guest=vm1,debug-threads=on \\
-S \\
-machine pc-q35-6.1,usb=off,dump-guest-core=off \\
-device '{"driver":"pcie-root-port","port":16,"chassis":1,"id":"pci.1","bus":"pcie.0","addr":"0x2"}' \\
-device '{"driver":"virtio-net-pci","netdev":"hostnet0","id":"ua-net0","mac":"52:54:00:6f:55:cc",\
"bus":"pci.1","failover":true}'
char device redirected to /dev/pts/3 (label charserial0)
2026-11-20 10:05:00.000+0000: shutting down, reason=destroyed
"""


@pytest.mark.parametrize(
    "text",
    [
        PAIR,
        PAIR.replace(" -", "\n-"),
        PAIR.replace(" -", " \\\n  -"),
        "# a comment line\n" + PAIR.replace(" -", "\n-") + "\n# trailing",
        "LC_ALL=C PATH=/bin /usr/bin/qemu-system-x86_64 -machine q35 " + PAIR,
    ],
    ids=["one-line", "per-line", "continuations", "comments", "env-and-binary"],
)
def test_every_layout_gives_the_same_devices(text: str) -> None:
    config = parse_qemu(text)
    assert [d.driver for d in config.devices] == ["pcie-root-port"] * 2 + ["virtio-net-pci", "vfio-pci"]
    primary = config.device("hostdev0")
    assert primary is not None
    assert (primary.bus, primary.slot, primary.function, primary.host) == ("rp2", 0, 0, PciAddress(0, 0x5E, 0, 2))
    standby = config.device("net0")
    assert standby is not None
    assert (standby.is_standby, standby.backend_bridge, standby.mac) == (True, "br7", "52:54:00:6f:55:cc")
    assert config.buses["rp2"].kind is BusKind.PCIE_PORT


def test_a_libvirt_log_gives_its_last_command_and_qemu_version() -> None:
    command = split_command(LOG)
    assert command.binary == "/usr/bin/qemu-system-x86_64"
    assert command.qemu_version == "6.1.0"
    config = parse_qemu(LOG)
    assert (config.machine, config.complete, config.qemu_version) == ("pc-q35-6.1", True, "6.1.0")
    standby = config.device("ua-net0")
    assert standby is not None
    assert (standby.bus, standby.failover) == ("pci.1", True)


def test_a_whole_command_line_without_machine_runs_pc() -> None:
    assert parse_qemu("qemu-system-x86_64 " + PAIR).machine == "pc"
    assert parse_qemu(PAIR).machine is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-device 'e1000e,id=x", "cannot be split into words"),
        ("", "has no options"),
        ("-device", "option -device has no argument"),
        ("-device '{\"driver\": e1000e}'", "not valid JSON"),
        ('-device \'{"a":' + "[" * 5000 + "]" * 5000 + "}'", "nested more than 64 levels deep"),
        ('-device \'{"driver":"e1000e","chassis":' + "9" * 5000 + "}'", "a number of 5000 characters"),
        ('-device \'{"id":"x"}\'', "no driver"),
        ('-device \'{"driver":"e1000e","x":[1]}\'', "is not a string, number or boolean"),
        ("-device e1000e,addr=0x20", "is not SLOT[.FUNCTION]"),
        ("-device virtio-net-pci,failover=maybe", "failover='maybe' is not on/off"),
        ("-device pcie-root-port,chassis=x", "chassis='x' is not a number"),
    ],
)
def test_malformed_command_lines_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_qemu(text)


def test_argv_one_per_line_and_nul_separated_keep_json_intact() -> None:
    """`tr '\\0' '\\n' < /proc/PID/cmdline` and the raw cmdline give the words QEMU got."""
    argv = ["/usr/bin/qemu-system-x86_64", "-machine", "q35", "-device", '{"driver":"e1000e","id":"a b","addr":"0x0"}']
    for text in ("\n".join(argv) + "\n", "\0".join(argv) + "\0"):
        command = split_command(text)
        assert (command.binary, command.words) == (argv[0], tuple(argv[1:]))


def test_word_count_is_bounded() -> None:
    with pytest.raises(ConfigError, match=f"more than {MAX_WORDS} words"):
        split_command("-S " * (MAX_WORDS + 1))


def test_option_values() -> None:
    assert parse_value("-netdev", "user,id=a,,b,restrict", "type") == {"type": "user", "id": "a,b", "restrict": "on"}
    assert parse_value("-device", '{"driver":"x","n":3,"f":false}', "driver") == {"driver": "x", "n": "3", "f": "off"}
    assert pci_addr("-device", "0x2.0x1") == (2, 1)
    assert pci_addr("-device", "00.0") == (0, 0)
    assert global_setting("ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off") == (
        "ich9-lpc.acpi-pci-hotplug-with-bridge-support",
        "off",
    )
    assert global_setting("driver=ICH9-LPC,property=acpi-pci-hotplug-with-bridge-support,value=off")[1] == "off"


def test_libvirt_dumpxml() -> None:
    config = parse_libvirt((CORPUS / "libvirt" / "dumpxml.xml").read_text())
    assert (config.kind, config.complete, config.machine) == (ConfigKind.LIBVIRT, True, "pc-q35-8.2")
    assert {name: bus.kind for name, bus in config.buses.items()} == {
        "pcie.0": BusKind.PCIE_ROOT,
        **{f"pci.{i}": BusKind.PCIE_PORT for i in range(1, 6)},
    }
    primary = config.device("ua-hostdev0")
    standby = config.device("ua-net0")
    assert primary is not None
    assert standby is not None
    assert (primary.driver, primary.bus, primary.host, primary.failover_pair_id) == (
        "vfio-pci",
        "pci.3",
        PciAddress(0, 0x5E, 0, 2),
        "ua-net0",
    )
    assert (standby.driver, standby.bus, standby.backend_bridge, standby.mac) == (
        "virtio-net-pci",
        "pci.1",
        "br0",
        "52:54:00:6F:55:CC",
    )
    assert standby.order < primary.order
    assert [p.chassis for p in config.devices if p.driver == "pcie-root-port"] == [1, 2, 3, 4, 5]


def test_libvirt_creates_hostdevs_after_interfaces() -> None:
    config = parse_libvirt(
        "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x5e' "
        "slot='0x00' function='0x2'/></source><teaming type='transient' persistent='ua-net0'/></hostdev>"
        "<interface type='bridge'><model type='virtio'/><teaming type='persistent'/><alias name='ua-net0'/>"
        "<link state='down'/></interface>"
    )
    assert not config.complete
    assert [(d.driver, d.order) for d in config.devices] == [("virtio-net-pci", 0), ("vfio-pci", 1)]
    standby = config.device("ua-net0")
    assert standby is not None
    assert standby.link_down


def test_libvirt_qemu_commandline_globals() -> None:
    xml = (
        "<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><os><type machine='pc-q35-6.1'>hvm</type>"
        "</os><devices/><qemu:commandline><qemu:arg value='-global'/>"
        "<qemu:arg value='ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off'/></qemu:commandline></domain>"
    )
    assert parse_libvirt(xml).globals == {"ich9-lpc.acpi-pci-hotplug-with-bridge-support": "off"}


HOSTILE_WORDS = {
    "billion-laughs": "the domain XML has a DTD (<!DOCTYPE lolz>): libvirt XML never does; refused",
    "external-entity": "the domain XML has a DTD (<!DOCTYPE domain>): libvirt XML never does; refused",
    "dtd": "the domain XML has a DTD (<!DOCTYPE domain>): libvirt XML never does; refused",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_xml_is_refused_in_words(name: str) -> None:
    """The DOCTYPE comes first, so a DTD is what every hostile document is refused for."""
    with pytest.raises(ConfigError) as raised:
        parse_libvirt(HOSTILE[name])
    assert str(raised.value) == HOSTILE_WORDS[name]


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            DTDForbidden("lolz", None, None),
            "the domain XML has a DTD (<!DOCTYPE lolz>): libvirt XML never does; refused",
        ),
        (
            EntitiesForbidden("xxe", None, None, "file:///etc/passwd", None, None),
            "the domain XML declares an entity (xxe): libvirt XML never does; refused",
        ),
        (
            ExternalReferenceForbidden("xxe", "", "file:///etc/passwd", ""),
            "the domain XML refers to an external resource (file:///etc/passwd): libvirt XML never does; refused",
        ),
    ],
    ids=["dtd", "entity", "external-reference"],
)
def test_every_defusedxml_refusal_is_worded(
    error: DTDForbidden | EntitiesForbidden | ExternalReferenceForbidden, words: str
) -> None:
    assert refusal(error) == words


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<domain>", "the domain XML does not parse: no element found at line 1, column 9"),
        ("", "the domain XML does not parse: no element found at line 1, column 1"),
        ("<domain>\n  <devices>\n</domain>\n", "the domain XML does not parse: mismatched tag at line 3, column 3"),
        (
            "<interface type='bridge'><mac address='x'/></interface><",
            "the domain XML does not parse: unclosed token at line 1, column 56",
        ),
        (  # a fragment: lines and columns are the user's, its XML declaration included
            "<?xml version='1.0'?>\n<interface type='bridge'/>\n<interface></hostdev>\n",
            "the domain XML does not parse: mismatched tag at line 3, column 14",
        ),
        ("<domain>\x01</domain>", "the domain XML does not parse: not well-formed (invalid token) at line 1, column 9"),
        ("<controller type='pci' index='x' model='pcie-root-port'/>", "index='x' is not a number"),
    ],
)
def test_malformed_xml_is_one_worded_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_libvirt(text)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_vfio_host_forms() -> None:
    config = parse_qemu(
        "-device vfio-pci,sysfsdev=/sys/bus/pci/devices/0000:5e:00.3/,id=a -device vfio-pci,host=5e:00.4,id=b "
        "-device vfio-pci,host=zz,id=c"
    )
    assert [(d.host, d.host_text) for d in config.devices] == [
        (PciAddress(0, 0x5E, 0, 3), None),
        (PciAddress(0, 0x5E, 0, 4), None),
        (None, "zz"),
    ]
