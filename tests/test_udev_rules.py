"""The udev rule and the systemd units: syntax, what they react to, and their sandbox."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Run

REPO = Path(__file__).parent.parent
RULES = REPO / "pcie_failover" / "units"  # shipped in the package; rules/ links to each file
RULE_FILE = RULES / "90-pcie-failover.rules"
_TOKEN = re.compile(
    r'\s*(?P<key>[A-Z_]+)(?:\{(?P<attr>[^}]+)\})?\s*(?P<op>==|!=|\+=|-=|:=|=)\s*"(?P<value>[^"]*)"\s*(?:,|$)'
)
UNIT_NAMES = (
    "pcie-failover-audit.service",
    "pcie-failover-audit.path",
    "pcie-failover-audit.timer",
    "pcie-failover-watch.service",
)
MATCH_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "DRIVER", "ENV", "ATTR", "TAG", "TEST", "PROGRAM", "RESULT"}
ASSIGN_KEYS = {"RUN", "ENV", "TAG", "GOTO", "LABEL", "OPTIONS", "NAME", "SYMLINK", "OWNER", "GROUP", "MODE"}


def _rules(text: str) -> list[list[tuple[str, str | None, str, str]]]:
    """Parse every rule line into (key, attribute, operator, value) tokens; fail on anything else."""
    parsed = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        tokens, position = [], 0
        while position < len(line):
            match = _TOKEN.match(line, position)
            assert match, f"line {number}: cannot parse {line[position:]!r}"
            key, op = match["key"], match["op"]
            if op in ("==", "!="):
                assert key in MATCH_KEYS, f"line {number}: {key} cannot be matched"
            else:
                assert key in ASSIGN_KEYS, f"line {number}: {key} cannot be assigned"
            tokens.append((key, match["attr"], op, match["value"]))
            position = match.end()
        parsed.append(tokens)
    return parsed


def test_rules_file_syntax_and_labels() -> None:
    rules = _rules(RULE_FILE.read_text())
    labels = {value for rule in rules for key, _, _, value in rule if key == "LABEL"}
    gotos = {value for rule in rules for key, _, _, value in rule if key == "GOTO"}
    assert gotos <= labels
    runs = [value for rule in rules for key, _, _, value in rule if key == "RUN"]
    assert runs == ["/bin/sh -c 'mkdir -p /run/pcie-failover && : > /run/pcie-failover/pending'"]
    # no work in RUN: only a mark, which pcie-failover-audit.path turns into a (re-)run of the audit
    path_unit = (RULES / "pcie-failover-audit.path").read_text()
    assert "PathExists=/run/pcie-failover/pending" in path_unit
    assert "Unit=pcie-failover-audit.service" in path_unit
    assert all(run.split()[0].startswith("/") for run in runs)


def test_rules_react_to_pci_events_and_match_removed_devices_by_env() -> None:
    text = RULE_FILE.read_text()
    assert 'SUBSYSTEM!="pci", GOTO="pcie_failover_end"' in text
    assert 'ACTION=="add|remove|bind|unbind", GOTO="pcie_failover_audit"' in text
    assert 'ACTION=="change", ENV{PCI_CLASS}=="2????", GOTO="pcie_failover_audit"' in text


@pytest.mark.skipif(shutil.which("udevadm") is None, reason="no udevadm")
def test_udevadm_verify_when_available() -> None:
    help_text = subprocess.run(["udevadm", "--help"], capture_output=True, text=True, check=False).stdout
    if "verify" not in help_text:
        pytest.skip("udevadm verify needs systemd 254 (this is older); the parser above checks the syntax")
    subprocess.run(["udevadm", "verify", str(RULE_FILE)], check=True)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
@pytest.mark.parametrize("unit", ["pcie-failover-audit.service", "pcie-failover-watch.service"])
def test_units_are_sandboxed(unit: str, tmp_path: Path) -> None:
    path = tmp_path / unit
    path.write_text((RULES / unit).read_text().replace("@BINDIR@", "/usr/local/bin"))
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(path)], capture_output=True, text=True, check=False
    )
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", done.stdout)
    assert score is not None, done.stdout[-2000:] + done.stderr
    assert (float(score[1]) <= 1.5, score[2]) == (True, "OK")  # README: 1.0 OK


def test_make_install_uses_pkg_config_and_destdir(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("no make")
    root = Path(__file__).parent.parent
    subprocess.run(["make", "-s", "-C", str(root), "install-udev", f"DESTDIR={tmp_path}"], check=True)
    installed = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert any(p.endswith("rules.d/90-pcie-failover.rules") for p in installed)
    assert sum(p.endswith((".service", ".path", ".timer")) for p in installed) == 4
    subprocess.run(["make", "-s", "-C", str(root), "uninstall-udev", f"DESTDIR={tmp_path}"], check=True)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


# -- `pcie-failover install-units`: the package's own files, no checkout needed ------------------------

INSTALLED = {  # below the destdir: (packaged file, installed path)
    "90-pcie-failover.rules": "lib/udev/rules.d/90-pcie-failover.rules",
    "pcie-failover.tmpfiles": "usr/lib/tmpfiles.d/pcie-failover.conf",
    **{unit: f"lib/systemd/system/{unit}" for unit in UNIT_NAMES},
}
DIRS = ["--udevdir", "/lib/udev", "--unitdir", "/lib/systemd/system", "--tmpfilesdir", "/usr/lib/tmpfiles.d"]


def _installed(destdir: Path) -> dict[str, str]:
    return {str(p.relative_to(destdir)): p.read_text() for p in sorted(destdir.rglob("*")) if p.is_file()}


def test_rules_directory_links_to_the_packaged_files() -> None:
    """rules/ stays where the layout says, as links: the package holds the one copy a wheel can carry."""
    linked = {p.name: os.readlink(p) for p in (REPO / "rules").iterdir()}
    assert linked == {name: f"../pcie_failover/units/{name}" for name in INSTALLED}


def test_install_units_below_a_destdir(
    cli: Callable[..., Run], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[object] = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **_: ran.append(args))
    run = cli("install-units", "--destdir", str(tmp_path), "--bindir", "/opt/pf/bin", *DIRS)
    assert (run.code, run.err) == (0, "")
    assert run.out == "".join(f"installed {tmp_path}/{path}\n" for path in INSTALLED.values())
    expected = {path: (RULES / name).read_text() for name, path in INSTALLED.items()}
    for unit in UNIT_NAMES:
        expected[INSTALLED[unit]] = expected[INSTALLED[unit]].replace("@BINDIR@", "/opt/pf/bin")
    assert _installed(tmp_path) == expected
    assert "ExecStart=/opt/pf/bin/pcie-failover audit --coalesce" in expected[INSTALLED["pcie-failover-audit.service"]]
    assert {stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*") if p.is_file()} == {0o644}
    assert ran == []  # with a destdir, systemd and udev are not told (nor is pkg-config asked: every dir given)
    again = cli("install-units", "--destdir", str(tmp_path), "--bindir", "/opt/pf/bin", *DIRS)
    assert again.out == "".join(f"unchanged {tmp_path}/{path}\n" for path in INSTALLED.values())


def test_install_units_refuses_to_overwrite_an_edited_unit(cli: Callable[..., Run], tmp_path: Path) -> None:
    install = ["install-units", "--destdir", str(tmp_path), "--bindir", "/usr/bin", *DIRS]
    assert cli(*install).code == 0
    edited = tmp_path / INSTALLED["pcie-failover-watch.service"]
    edited.write_text(edited.read_text().replace("node-exporter", "collector"))
    (tmp_path / INSTALLED["90-pcie-failover.rules"]).unlink()
    before = _installed(tmp_path)
    assert cli(*install) == Run(
        2, "", f"pcie-failover install-units: {edited} differs from the packaged file (--force replaces it)\n"
    )
    assert _installed(tmp_path) == before  # nothing written, not even the missing rule
    forced = cli(*install, "--force")
    assert (forced.code, forced.out.splitlines()[0], forced.out.splitlines()[-1]) == (
        0, f"installed {tmp_path}/{INSTALLED['90-pcie-failover.rules']}", f"replaced {edited}",
    )  # fmt: skip


def test_install_units_never_writes_through_a_link(cli: Callable[..., Run], tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    target = tmp_path / "dest" / INSTALLED["pcie-failover-audit.timer"]
    target.parent.mkdir(parents=True)
    target.symlink_to(victim)
    for force in ([], ["--force"]):
        run = cli("install-units", "--destdir", str(tmp_path / "dest"), "--bindir", "/usr/bin", *DIRS, *force)
        assert run == Run(2, "", f"pcie-failover install-units: {target}: {target} is not a regular file\n")
    assert (victim.read_text(), [p.name for p in target.parent.iterdir()]) == ("untouched\n", [target.name])


def test_install_units_bindir(cli: Callable[..., Run], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Default: where the running pcie-failover is (links resolved); never a path systemd would read otherwise."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / "pcie-failover").touch()
    (tmp_path / "bin" / "pcie-failover").symlink_to(tmp_path / "venv" / "pcie-failover")
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "bin" / "pcie-failover")])
    assert cli("install-units", "--destdir", str(tmp_path / "d"), *DIRS).code == 0
    unit = (tmp_path / "d" / INSTALLED["pcie-failover-watch.service"]).read_text()
    assert f"ExecStart={tmp_path}/venv/pcie-failover watch" in unit
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/dist-packages/pcie_failover/__main__.py"])
    assert cli("install-units", "--destdir", str(tmp_path / "e"), *DIRS) == Run(
        2,
        "",
        "pcie-failover install-units: cannot tell where pcie-failover is installed "
        "(this is /usr/lib/python3/dist-packages/pcie_failover/__main__.py): pass --bindir DIR"
        " (try 'pcie-failover install-units --help')\n",
    )
    for bad in ("bin", "/opt/my bin", "/opt/%n", "/opt/$HOME"):
        run = cli("install-units", "--destdir", str(tmp_path / "e"), "--bindir", bad, *DIRS)
        assert run == Run(
            2,
            "",
            f"pcie-failover install-units: --bindir {bad!a} cannot go into ExecStart= "
            "(an absolute path of [A-Za-z0-9._+@:/-]) (try 'pcie-failover install-units --help')\n",
        )
    assert not (tmp_path / "e").exists()


def test_install_units_tells_systemd_and_udev_as_root(
    cli: Callable[..., Run], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a destdir: each program that exists (in a system directory) is run, and reported."""
    from pcie_failover.audit import install_units

    fake = tmp_path / "sbin"
    fake.mkdir()
    log = tmp_path / "log"
    for name, status in (("systemd-tmpfiles", 0), ("systemctl", 1)):  # no udevadm
        (fake / name).write_text(f'#!/bin/sh\necho "$0 $*" >> {log}\necho "{name}: oops" >&2\nexit {status}\n')
        (fake / name).chmod(0o755)
    monkeypatch.setattr(install_units, "SYSTEM_DIRECTORIES", (str(fake),))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    root = tmp_path / "root"
    bindir = tmp_path / "bin"  # the live install wants the command there; tmp_path is under /tmp, which the
    bindir.mkdir()  # units' PrivateTmp would hide: that refusal is tested apart
    (bindir / "pcie-failover").write_text("#!/bin/sh\n")
    (bindir / "pcie-failover").chmod(0o755)
    monkeypatch.setattr(install_units, "SANDBOX_HIDES", {})
    dirs = ["--udevdir", f"{root}/udev", "--unitdir", f"{root}/units", "--tmpfilesdir", f"{root}/tmpfiles.d"]
    run = cli("install-units", "--bindir", str(bindir), *dirs)
    assert (run.code, run.err, run.out.splitlines()[6:]) == (
        1,
        "",
        [
            f"ran systemd-tmpfiles --create {root}/tmpfiles.d/pcie-failover.conf",
            "failed systemctl daemon-reload: systemctl: oops",
            "skipped udevadm control --reload: udevadm is not installed",
        ],
    )
    assert log.read_text() == (
        f"{fake}/systemd-tmpfiles --create {root}/tmpfiles.d/pcie-failover.conf\n{fake}/systemctl daemon-reload\n"
    )
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert cli("install-units", "--bindir", str(bindir), *dirs).out.splitlines()[6:] == [
        f"skipped systemd-tmpfiles --create {root}/tmpfiles.d/pcie-failover.conf: not root",
        "skipped systemctl daemon-reload: not root",
        "skipped udevadm control --reload: not root",
    ]


def test_a_wheel_carries_the_units(tmp_path: Path) -> None:
    """`pip install` users need no checkout: the wheel built offline from this tree holds every unit file."""
    build = REPO / "build"  # setuptools builds in the tree; leave no build/ behind that was not there
    had_build = build.exists()
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if not had_build:
        shutil.rmtree(build, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("pcie_failover-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name: archive.read(name) for name in archive.namelist() if name.startswith("pcie_failover/units/")}
    assert shipped == {f"pcie_failover/units/{name}": (RULES / name).read_bytes() for name in INSTALLED}
