"""`lint --domain NAME`: the XML of `virsh dumpxml -- NAME`, NAME one argument (no shell); virsh faked on PATH."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from pcie_failover.adapters import vm_config
from tests.support.cli import Run
from tests.support.lint_configs import XML_GOOD, domain

DEMO = str(Path(__file__).resolve().parent.parent / "fixtures_sysfs" / "demo-host")
Cli = Callable[..., Run]
HOSTILE_NAME = "vm 1; touch pwned $(id) `id` --inactive"  # one argv word: no shell ever sees it


@pytest.fixture
def virsh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Put a fake `virsh` (a shell script body) first on PATH; it records its argv, NUL-separated, in argv.bin."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def make(body: str) -> Path:
        script = bin_dir / "virsh"
        script.write_text(f'#!/bin/sh\nprintf "%s\\0" "$@" > {tmp_path}/argv.bin\n{body}\n')
        script.chmod(0o755)
        return tmp_path / "argv.bin"

    return make


def test_the_domain_xml_comes_from_virsh_dumpxml(cli: Cli, virsh: Callable[[str], Path], tmp_path: Path) -> None:
    (tmp_path / "vm.xml").write_text(domain(XML_GOOD))
    argv = virsh(f"cat {tmp_path}/vm.xml")
    run = cli("--sysfs-root", DEMO, "lint", "--domain", HOSTILE_NAME, "--qemu-version", "10.0.2", "--format", "json")
    assert argv.read_bytes().split(b"\0")[:-1] == [b"dumpxml", b"--", HOSTILE_NAME.encode()]
    assert not (Path.cwd() / "pwned").exists()
    document = run.json
    assert (run.code, document["input"]["kind"], document["verdict"]) == (0, "libvirt", "ready")
    assert document["input"]["file"] == "virsh dumpxml 'vm 1; touch pwned $(id) `id` --inactive'"
    assert document["vm"]["pairs"] == [
        {"standby": "ua-net0", "primary": "ua-hostdev0", "mac": "52:54:00:6f:55:cc", "host": "0000:5e:00.2"}
    ]


def test_virsh_missing_is_one_line_and_exit_2(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    run = cli("--sysfs-root", DEMO, "lint", "--domain", "vm1")
    assert (run.code, run.out, run.err) == (
        2,
        "",
        "pcie-failover lint: --domain needs virsh (Debian: libvirt-clients), not found on PATH\n",
    )
    json_run = cli("--sysfs-root", DEMO, "lint", "--domain", "vm1", "--format", "json")
    assert (json_run.code, json_run.json["error"]["kind"]) == (2, "input")


def test_an_unknown_domain_reports_virshs_own_line(cli: Cli, virsh: Callable[[str], Path]) -> None:
    virsh("echo; echo \"error: failed to get domain '$3'\" >&2; exit 1")
    run = cli("--sysfs-root", DEMO, "lint", "--domain", "vm9")
    assert (run.code, run.out, run.err) == (
        2,
        "",
        "pcie-failover lint: virsh dumpxml vm9 failed (exit 1): error: failed to get domain 'vm9'\n",
    )


def test_several_virsh_error_lines_are_one_line(cli: Cli, virsh: Callable[[str], Path]) -> None:
    virsh(
        "echo 'error: failed to connect to the hypervisor' >&2; "
        "echo \"error: Failed to connect socket to '/run/libvirt/libvirt-sock': No such file or directory\" >&2; exit 1"
    )
    run = cli("--sysfs-root", DEMO, "lint", "--domain", "vm1")
    assert (run.code, run.err) == (
        2,
        "pcie-failover lint: virsh dumpxml vm1 failed (exit 1): error: failed to connect to the hypervisor; "
        "error: Failed to connect socket to '/run/libvirt/libvirt-sock': No such file or directory\n",
    )


def test_virsh_that_cannot_run_or_hangs_is_one_line(
    cli: Cli, virsh: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = virsh("exec /bin/sleep 30").parent / "bin"
    (bin_dir / "virsh").chmod(0o644)
    with monkeypatch.context() as only_fake:
        only_fake.setenv("PATH", str(bin_dir))  # else the search goes on to a real virsh
        assert cli("--sysfs-root", DEMO, "lint", "--domain", "vm1").err == (
            "pcie-failover lint: cannot run virsh: Permission denied\n"
        )
    virsh("exec /bin/sleep 30")
    monkeypatch.setattr(vm_config, "VIRSH_TIMEOUT", 1.0)
    run = cli("--sysfs-root", DEMO, "lint", "--domain", "vm1")
    assert (run.code, run.err) == (2, "pcie-failover lint: virsh dumpxml vm1 did not finish within 1 s\n")


def test_what_virsh_prints_is_checked_like_a_file(cli: Cli, virsh: Callable[[str], Path]) -> None:
    virsh("printf '\\377\\376'")
    assert cli("--sysfs-root", DEMO, "lint", "--domain", "vm1").err == (
        "pcie-failover lint: virsh dumpxml vm1 is not UTF-8 text\n"
    )
    virsh("echo '<!DOCTYPE domain><domain/>'")
    assert cli("--sysfs-root", DEMO, "lint", "--domain", "vm1").err == (
        "pcie-failover lint: the domain XML has a DTD (<!DOCTYPE domain>): libvirt XML never does; refused\n"
    )


@pytest.mark.skipif(shutil.which("virsh") is None, reason="needs virsh (Debian libvirt-clients)")
def test_real_virsh_on_libvirts_test_driver(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """libvirt's built-in test:///default driver (no daemon): its domain `test`, and one that does not exist."""
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "test:///default")
    run = cli("--sysfs-root", DEMO, "lint", "--domain", "test", "--format", "json")
    assert (run.code, run.json["input"]["file"], run.json["vm"]["pairs"]) == (1, "virsh dumpxml test", [])
    missing = cli("--sysfs-root", DEMO, "lint", "--domain", "nosuchvm")
    assert (missing.code, missing.err) == (
        2,
        "pcie-failover lint: virsh dumpxml nosuchvm failed (exit 1): error: failed to get domain 'nosuchvm'\n",
    )
