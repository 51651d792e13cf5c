"""The libvirt output against libvirt's own domain and network schemas and its teaming rules."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Run

DEMO = str(Path(__file__).resolve().parent.parent / "fixtures_sysfs" / "demo-host")
VALIDATOR = "virt-xml-validate"
PACKAGES = ("libvirt-clients", "libxml2-utils")  # virt-xml-validate + RNG files; xmllint
CASES = {
    "hostdev-tap": ("--for", "libvirt"),
    "hostdev-user": ("--for", "libvirt", "--netdev", "user", "--standby-id", "backup0"),
    "pool-bridge": ("--for", "libvirt", "--pool", "sriov-pool", "--netdev", "bridge=br0"),
    "escaped": ("--for", "libvirt", "--pool", "p<&'\"--", "--netdev", "bridge=br0", "--primary-id", "ua-vf_0"),
    "forced": ("--for", "libvirt", "--force"),
    "macvtap": ("--for", "libvirt", "--netdev", "macvtap=enp94s0f1np1"),
}


@pytest.fixture(scope="module")
def validator() -> str:
    """virt-xml-validate, installed with apt-get when root and missing, else skip."""
    if shutil.which(VALIDATOR) is None or shutil.which("xmllint") is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip(f"{VALIDATOR} and xmllint missing (Debian {' '.join(PACKAGES)}; installing needs root)")
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            check=False,
            capture_output=True,
            timeout=600,
        )
    path = shutil.which(VALIDATOR)
    if path is None or shutil.which("xmllint") is None:
        pytest.skip(f"apt-get could not install {' '.join(PACKAGES)}")
    return path


def _parts(run: Run) -> list[ET.Element]:
    """The top-level elements of the libvirt output (comments dropped); the output must parse."""
    return list(ET.fromstring(f"<fragment>{run.out}</fragment>"))


def _domain(interfaces: list[ET.Element]) -> ET.Element:
    domain = ET.fromstring(
        "<domain type='kvm'><name>pair</name><memory unit='MiB'>512</memory>"
        "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices/></domain>"
    )
    devices = domain.find("devices")
    assert devices is not None
    devices.extend(interfaces)
    return domain


def _validate(validator: str, element: ET.Element, kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.xml"
    ET.ElementTree(element).write(path, encoding="utf-8", xml_declaration=True)
    result = subprocess.run([validator, str(path), kind], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _teaming_rules(persistent: ET.Element, transient: ET.Element) -> None:
    """Every libvirt teaming rule of the facts page, plus what libvirt does not check."""
    p_team, t_team = persistent.find("teaming"), transient.find("teaming")
    assert p_team is not None
    assert t_team is not None
    assert p_team.attrib == {"type": "persistent"}  # no persistent= on a persistent member
    assert t_team.get("type") == "transient"
    assert t_team.get("persistent")  # required on a transient member
    model = persistent.find("model")
    assert model is not None
    assert model.get("type") == "virtio"
    assert transient.get("type") in ("hostdev", "network")  # a hostdev network resolves to hostdev
    if transient.get("type") == "hostdev":
        assert transient.get("managed") == "yes"
    aliases = [e.find("alias") for e in (persistent, transient)]
    names = [a.get("name", "") for a in aliases if a is not None]
    assert len(names) == 2
    assert all(n.startswith("ua-") for n in names)
    assert t_team.get("persistent") == names[0]  # names the virtio member
    macs = [e.find("mac") for e in (persistent, transient)]
    assert len({m.get("address") for m in macs if m is not None}) == 1  # one MAC on both


@pytest.mark.parametrize("name", sorted(CASES))
def test_libvirt_output_validates(name: str, validator: str, cli: Callable[..., Run], tmp_path: Path) -> None:
    run = cli("--sysfs-root", DEMO, "pair", "5e:00.2", *CASES[name], "--format", "libvirt")
    assert run.code == 0
    parts = _parts(run)
    interfaces = [p for p in parts if p.tag == "interface"]
    assert len(interfaces) == 2
    _teaming_rules(*interfaces)
    _validate(validator, _domain(interfaces), "domain", tmp_path)
    for network in (p for p in parts if p.tag == "network"):
        _validate(validator, network, "network", tmp_path)


def test_escaped_values_survive(cli: Callable[..., Run]) -> None:
    """Names libvirt's schema would refuse (a Linux bridge may be called this) still parse back exactly."""
    args = ("--pool", "p<&'\"--", "--netdev", "bridge=b<&'\",=", "--primary-id", "ua-vf_0")
    run = cli("--sysfs-root", DEMO, "pair", "5e:00.2", "--for", "libvirt", *args, "--force", "--format", "libvirt")
    assert "pcie-failover pair: FAIL standby-uplink: the standby backend " in run.err  # no such bridge on the demo host
    standby, primary, network = _parts(run)
    assert standby.find("source").get("bridge") == "b<&'\",="  # type: ignore[union-attr]
    assert primary.find("source").get("network") == "p<&'\"--"  # type: ignore[union-attr]
    assert network.findtext("name") == "p<&'\"--"
    assert primary.find("alias").get("name") == "ua-vf_0"  # type: ignore[union-attr]
