"""`pcie-failover lint`: exact outputs, exit codes, host cross-check, hostile and huge inputs."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Host
from fixtures_sysfs.hosts import demo_host, demo_pf
from pcie_failover.lint.parse import MAX_CONFIG_BYTES
from tests.support.cli import Run
from tests.support.golden import compare_entry
from tests.support.lint_configs import BILLION_LAUGHS, DTD, EXTERNAL, GOOD, MAC, PRIMARY, RP1, STANDBY, XML_GOOD, domain

DEMO = str(Path(__file__).resolve().parent.parent / "fixtures_sysfs" / "demo-host")
DUMPXML = Path(__file__).parent / "lint_corpus" / "libvirt" / "dumpxml.xml"
Cli = Callable[..., Run]


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Callable[[bytes], None]:
    """Feed bytes to the command's stdin."""

    def feed(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    return feed


def _golden(key: str, run: Run) -> None:
    compare_entry("lint_outputs", key, {"code": run.code, "out": run.out.replace(DEMO, "<DEMO>"), "err": run.err})


GOLDEN = {
    "qemu-ready": (GOOD, "--qemu-args"),
    "qemu-mac-mismatch": (GOOD.replace(MAC, "52:54:00:6f:55:dd"), "--qemu-args"),
    "qemu-pcie0-primary-first": (
        f"-machine q35 {RP1} -netdev tap,id=hostnet0 {PRIMARY.replace('bus=rp2', 'bus=pcie.0')} {STANDBY}",
        "--qemu-args",
    ),
    "libvirt-dumpxml": (DUMPXML.read_text(), "--domain-xml"),
    "libvirt-fragment": (XML_GOOD, "--domain-xml"),
}


@pytest.mark.parametrize("output", ["table", "json"])
@pytest.mark.parametrize("key", GOLDEN)
def test_exact_outputs(cli: Cli, stdin: Callable[[bytes], None], key: str, output: str) -> None:
    text, option = GOLDEN[key]
    stdin(text.encode())
    run = cli("--sysfs-root", DEMO, "lint", option, "-", "--format", output)
    if output == "json":
        assert run.json["command"] == "lint"
    _golden(f"{key}-{output}", run)


def test_exit_codes(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "vm.args"
    config.write_text(GOOD)
    assert cli("--sysfs-root", DEMO, "lint", "--qemu-args", str(config), "--qemu-version", "10.0").code == 0
    config.write_text(GOOD.replace("bus=rp2", "bus=pcie.0"))
    assert cli("--sysfs-root", DEMO, "lint", "--qemu-args", str(config)).code == 1
    config.write_text(GOOD.replace("0000:5e:00.2", "0000:5e:00.4"))  # a VF the host check refuses
    run = cli("--sysfs-root", DEMO, "lint", "--qemu-args", str(config), "--format", "json")
    assert (run.code, run.json["hosts"][0]["verdict"]) == (1, "not-ready")
    assert {r["id"] for r in run.json["checks"] if r["status"] == "fail"} == {"mac-match"}  # its admin MAC is 0
    assert {r["id"] for r in run.json["hosts"][0]["checks"] if r["status"] == "fail"} == {"driver", "vf-mac"}


def test_without_a_host_tree_the_host_items_are_unknown(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "vm.args"
    config.write_text(GOOD)
    run = cli("--sysfs-root", str(tmp_path), "lint", "--qemu-args", str(config), "--format", "json")
    document = run.json
    assert (run.code, document["verdict"], document["sysfs_root"]) == (4, "undetermined", None)
    assert document["hosts"][0]["verdict"] == "undetermined"
    assert document["hosts"][0]["note"].startswith("not checked: ")
    assert [r["status"] for r in document["checks"] if r["id"] == "mac-match"] == ["unknown"]


def test_no_host_skips_the_host_check(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "vm.xml"
    config.write_text(domain(XML_GOOD))
    run = cli("--sysfs-root", str(tmp_path), "lint", "--domain-xml", str(config), "--no-host", "--format", "json")
    assert (run.code, run.json["hosts"][0]["verdict"], run.json["input"]["host_check"]) == (0, None, False)


COMM = Path(f"/proc/{os.getpid()}/comm").read_text().strip()  # what the kernel says of the test process
EXE = os.readlink(f"/proc/{os.getpid()}/exe")
HINT = " (try 'pcie-failover lint --help')"  # what was typed is wrong, not a file, process or device
USAGE = "give one of --qemu-args FILE, --domain-xml FILE, --domain NAME, --pid PID" + HINT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), USAGE),
        (("--domain", "vm1", "--domain-xml", "b"), USAGE),
        (("--qemu-args", "a", "--domain-xml", "b"), USAGE),
        (("--qemu-args", "a", "--pid", "1"), USAGE),
        (("--pid", "0"), "--pid 0 is not a process id"),
        (("--pid", "999999999"), "--pid 999999999: no such process (or its command line cannot be read)"),
        (("--pid", str(os.getpid())), f"--pid {os.getpid()} is not QEMU: comm {COMM!r}, exe {EXE}"),
        (("--qemu-args", "/nonexistent/vm.args"), "cannot read /nonexistent/vm.args: No such file or directory"),
        (("--qemu-args", "-", "--qemu-version", "ten"), "--qemu-version 'ten' is not MAJOR.MINOR[.MICRO]" + HINT),
    ],
)
def test_usage_errors(cli: Cli, stdin: Callable[[bytes], None], args: tuple[str, ...], message: str) -> None:
    stdin(GOOD.encode())
    run = cli("--sysfs-root", DEMO, "lint", *args)
    assert (run.code, run.out, run.err) == (2, "", f"pcie-failover lint: {message}\n")


@pytest.mark.parametrize(
    ("text", "name"),
    [(BILLION_LAUGHS, "lolz"), (EXTERNAL, "domain"), (DTD, "domain")],
    ids=["billion-laughs", "external-entity", "dtd"],
)
def test_hostile_xml_is_one_line_and_exit_2(cli: Cli, stdin: Callable[[bytes], None], text: str, name: str) -> None:
    stdin(text.encode())
    run = cli("--sysfs-root", DEMO, "lint", "--domain-xml", "-")
    assert (run.code, run.out, run.err) == (
        2,
        "",
        f"pcie-failover lint: the domain XML has a DTD (<!DOCTYPE {name}>): libvirt XML never does; refused\n",
    )
    stdin(text.encode())
    run = cli("--sysfs-root", DEMO, "lint", "--domain-xml", "-", "--format", "json")
    assert (run.code, run.json["error"]["kind"]) == (2, "input")


def test_broken_xml_is_one_worded_line_and_exit_2(cli: Cli, stdin: Callable[[bytes], None]) -> None:
    stdin(b"<domain>\n  <devices>\n</domain>\n")
    run = cli("--sysfs-root", DEMO, "lint", "--domain-xml", "-")
    assert (run.code, run.out, run.err) == (
        2,
        "",
        "pcie-failover lint: the domain XML does not parse: mismatched tag at line 3, column 3\n",
    )


def test_huge_and_binary_inputs_are_bounded(cli: Cli, stdin: Callable[[bytes], None]) -> None:
    stdin(b"-S " * (MAX_CONFIG_BYTES // 3 + 1))
    run = cli("--sysfs-root", DEMO, "lint", "--qemu-args", "-")
    assert (run.code, run.err) == (2, f"pcie-failover lint: - is larger than {MAX_CONFIG_BYTES} bytes\n")
    stdin(b"\xff\xfe-device")
    assert cli("--sysfs-root", DEMO, "lint", "--qemu-args", "-").err == "pcie-failover lint: - is not UTF-8 text\n"
    stdin(b"<a>" * 100_000 + b"</a>" * 100_000)  # deep but within the size bound: parsed, no pair found
    run = cli("--sysfs-root", DEMO, "lint", "--domain-xml", "-", "--format", "json")
    assert (run.code, [r["status"] for r in run.json["checks"] if r["id"] == "pair-id"]) == (1, ["fail"])


def test_a_host_address_that_does_not_parse_fails_its_host_item(cli: Cli, stdin: Callable[[bytes], None]) -> None:
    stdin(GOOD.replace("host=0000:5e:00.2", "host=zz").encode())
    run = cli("--sysfs-root", DEMO, "lint", "--qemu-args", "-", "--format", "json")
    assert (run.code, run.json["hosts"]) == (
        1,
        [{"primary": "hostdev0", "device": "zz", "verdict": "not-ready", "note": "not a PCI address", "checks": []}],
    )


VF4 = "<address type='pci' domain='0x0000' bus='0x5e' slot='0x00' function='0x4'/>"  # unbound, admin MAC 0


@pytest.mark.parametrize(
    ("element", "failing"),
    [
        # libvirt binds it, but sets a VF's MAC only for an <interface type='hostdev'> (virhostdev.c
        # virHostdevIsPCINetDevice(): hostdev->parentnet), so VF 4's all-zero MAC stays
        ("<hostdev mode='subsys' type='pci' managed='yes'>", {"vf-mac"}),
        ("<hostdev mode='subsys' type='pci'>", {"driver", "vf-mac"}),  # managed defaults to no: neither
        ("<hostdev mode='subsys' type='pci' managed='no'>", {"driver", "vf-mac"}),
        ("<interface type='hostdev' managed='yes'>", set()),
        ("<interface type='hostdev'>", {"driver"}),  # unmanaged: not bound, but libvirt still sets the MAC
    ],
)
def test_libvirt_managed_decides_who_binds_and_sets_the_mac(
    cli: Cli, stdin: Callable[[bytes], None], element: str, failing: set[str]
) -> None:
    tag = element[1 : element.index(" ")]
    primary = f"{element}<source>{VF4}</source><teaming type='transient' persistent='ua-net0'/></{tag}>"
    standby = XML_GOOD[: XML_GOOD.index("<interface type='hostdev'")]
    stdin(domain(standby + primary).encode())
    run = cli("--sysfs-root", DEMO, "lint", "--domain-xml", "-", "--format", "json")
    assert {r["id"] for r in run.json["hosts"][0]["checks"] if r["status"] == "fail"} == failing


def test_control_characters_from_ids_are_escaped(cli: Cli, stdin: Callable[[bytes], None]) -> None:
    stdin(GOOD.replace("id=net0", "id=net\x1b[31m0").encode())
    run = cli("--sysfs-root", DEMO, "lint", "--qemu-args", "-", "--no-host")
    assert (run.code, "\x1b" in run.out + run.err, "net\\x1b[31m0" in run.out) == (4, False, True)


@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU (make test installs it as root)")
def test_a_running_qemu_by_pid_and_its_cmdline_in_every_layout(cli: Cli, tmp_path: Path) -> None:
    """A real QEMU's /proc/PID/cmdline (JSON -device values): --pid, the raw file, and one argument per line."""
    argv = ["qemu-system-x86_64", "-S", "-nodefaults", "-display", "none", "-machine", "q35", "-accel", "tcg"]
    argv += ["-device", '{"driver":"pcie-root-port","id":"rp1","bus":"pcie.0","chassis":1,"slot":1}']
    argv += ["-device", '{"driver":"pcie-root-port","id":"rp2","bus":"pcie.0","chassis":2,"slot":2}']
    argv += ["-netdev", '{"type":"user","id":"hostnet0"}', "-netdev", '{"type":"user","id":"primarynet"}']
    argv += [
        "-device",
        f'{{"driver":"virtio-net-pci","netdev":"hostnet0","id":"net0","mac":"{MAC}","bus":"rp1","failover":true}}',
    ]
    argv += [
        "-device",
        f'{{"driver":"e1000e","netdev":"primarynet","id":"hostdev0","mac":"{MAC}","bus":"rp2",'
        '"addr":"0x3","failover_pair_id":"net0"}',
    ]
    qemu = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cmdline = Path(f"/proc/{qemu.pid}/cmdline")
        deadline = time.monotonic() + 10
        while not cmdline.read_bytes().startswith(b"qemu-system") and time.monotonic() < deadline:
            time.sleep(0.05)  # the fork is not QEMU yet
        raw = cmdline.read_bytes()
        (tmp_path / "lines.args").write_bytes(raw.replace(b"\0", b"\n"))
        runs = [
            cli("--sysfs-root", DEMO, "lint", "--pid", str(qemu.pid), "--format", "json"),
            cli("--sysfs-root", DEMO, "lint", "--qemu-args", str(cmdline), "--format", "json"),
            cli("--sysfs-root", DEMO, "lint", "--qemu-args", str(tmp_path / "lines.args"), "--format", "json"),
        ]
    finally:
        qemu.kill()
        qemu.wait()
    assert raw.split(b"\0")[:-1] == [a.encode() for a in argv]
    for run in runs:
        failing = {r["id"] for r in run.json["checks"] if r["status"] == "fail"}
        assert (run.code, failing, run.json["vm"]["pairs"][0]["primary"]) == (1, {"slot-zero"}, "hostdev0")


def _host_checks(cli: Cli, tmp_path: Path, text: str) -> tuple[int, dict[str, dict[str, str | None]]]:
    args = tmp_path / "vm.args"
    args.write_text(text)
    run = cli("--sysfs-root", DEMO, "lint", "--qemu-args", str(args), "--qemu-version", "10.0.2", "--format", "json")
    (host,) = run.json["hosts"]
    return run.code, {c["id"]: {"status": c["status"], "message": c["message"]} for c in host["checks"]}


def test_a_vf_token_for_a_pf_not_on_vfio_is_refused_by_vfio(cli: Cli, tmp_path: Path) -> None:
    """vfio_pci_validate_vf_token(): -EINVAL 'VF token incorrectly provided, PF not bound to vfio-pci'."""
    token = "bd8d9d2b-5a5f-4f5a-a5f5-5f5a5f5a5f5a"
    code, checks = _host_checks(
        cli, tmp_path, GOOD.replace("failover_pair_id=net0", f"failover_pair_id=net0,vf-token={token}")
    )
    assert code == 1
    assert checks["sriov-vf"] == {
        "status": "fail",
        "message": "VF 0 of PF 0000:5e:00.0 (enp94s0f0np0); the primary is given a VF token but the PF is on "
        "mlx5_core, not vfio: vfio refuses the device (-EINVAL, 'VF token incorrectly provided, PF not bound to "
        "vfio-pci')",
    }


def test_the_standby_mac_is_compared_not_taken_as_an_administrators_word(cli: Cli, tmp_path: Path) -> None:
    """lint keeps check's warning: a reported VF MAC copied into the standby may be one a VF driver picked."""
    code, checks = _host_checks(cli, tmp_path, GOOD)
    assert code == 0
    assert checks["vf-mac"]["status"] == "warn"
    assert str(checks["vf-mac"]["message"]).startswith("MAC 52:54:00:6f:55:cc is not proof of an administrator's MAC")


def test_a_vf_of_a_pf_on_vfio_needs_the_token(cli: Cli, tmp_path: Path, host_root: Callable[[Host], Path]) -> None:
    """vfio_pci_validate_vf_token(): a PF on vfio-pci admits its VFs only with its token (-EACCES without)."""
    base = demo_pf()
    root = str(host_root(demo_host(pf=replace(base, pf=replace(base.pf, driver="vfio-pci", netdevs=())))))
    args = tmp_path / "vm.args"

    def sriov(text: str) -> tuple[int, str, str]:
        args.write_text(text)
        run = cli(
            "--sysfs-root", root, "lint", "--qemu-args", str(args), "--qemu-version", "10.0.2", "--format", "json"
        )
        (check,) = [c for c in run.json["hosts"][0]["checks"] if c["id"] == "sriov-vf"]
        return run.code, check["status"], check["message"]

    code, status, message = sriov(GOOD)
    assert (code, status) == (1, "fail")
    assert message.endswith("its PF's user set, and the primary has none (-EACCES)")
    with_token = GOOD.replace(
        "failover_pair_id=net0", "failover_pair_id=net0,vf-token=bd8d9d2b-5a5f-4f5a-a5f5-5f5a5f5a5f5a"
    )
    assert sriov(with_token)[1:] == (
        "pass",
        "VF 0 of PF 0000:5e:00.0 (no interface); the PF is on vfio-pci and the primary is given a VF token",
    )


def test_a_managed_plain_hostdev_gets_no_mac_from_libvirt(cli: Cli, tmp_path: Path) -> None:
    """managed='yes' binds vfio-pci, but libvirt sets a VF's MAC only for <interface type='hostdev'>."""
    hostdev = (
        "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x5e' "
        "slot='0x00' function='0x2'/></source><teaming type='transient' persistent='ua-net0'/></hostdev>"
    )
    xml = tmp_path / "vm.xml"
    xml.write_text(domain(XML_GOOD.split("<interface type='hostdev'")[0] + hostdev))
    run = cli("--sysfs-root", DEMO, "lint", "--domain-xml", str(xml), "--qemu-version", "10.0.2", "--format", "json")
    checks = {c["id"]: c for c in run.json["hosts"][0]["checks"]}
    assert (checks["driver"]["status"], checks["vf-mac"]["status"]) == ("pass", "warn")
    assert checks["vf-mac"]["message"].startswith("MAC 52:54:00:6f:55:cc is not proof of an administrator's MAC")
