"""What a first-time user's walkthrough tripped over: usage hints, the README's Files and Install, a pipe closed
under `watch`, the units without node_exporter, fixes that paste, the --strict verdict, and small wordings."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Host
from fixtures_sysfs.hosts import demo_host
from pcie_failover.audit import install_units
from pcie_failover.model.results import RuleResult, Severity, Status, Verdict
from tests.support.cli import Run

REPO = Path(__file__).parent.parent
UNITS = REPO / "pcie_failover" / "units"
README = (REPO / "README.md").read_text()
LIVE = Path("/sys/bus/pci/devices").is_dir()
Cli = Callable[..., Run]
HostRoot = Callable[[Host], Path]


@pytest.fixture
def demo(host_root: HostRoot) -> str:
    return str(host_root(demo_host()))


def _hint(program: str) -> str:
    return f" (try '{program} --help')\n"


# 1. usage errors found by the commands end as the parser's do; errors --help cannot answer do not


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["capture"], "an output file is required (-o FILE.tar.gz)"),
        (["lint"], "give one of --qemu-args FILE, --domain-xml FILE, --domain NAME, --pid PID"),
        (
            ["audit", "--textfile-dir", "/nonexistent"],
            "--textfile-dir writes Prometheus text: it needs --format prometheus",
        ),
        (["audit", "--textfile-dir-optional"], "--textfile-dir-optional needs --textfile-dir"),
        (
            ["audit", "--device", "zz:zz.9"],
            "--device: 'zz:zz.9' is not a PCI address (expected [DDDD:]BB:DD.F, device 00-1f, function 0-7)",
        ),
        (["prepare", "5e:00.2", "--dry-run"], "--mac is required: the VM's MAC, which the VF's admin MAC must carry"),
        (["inspect"], "give one of --qmp PATH, --domain NAME"),
        (["check", "zz:zz"], "'zz:zz' is not a PCI address (expected [DDDD:]BB:DD.F, device 00-1f, function 0-7)"),
        (
            ["check", "5e:00.2", "--mac", "01:00:00:00:00:01"],
            "01:00:00:00:00:01 is a multicast address: a NIC needs a unicast MAC",
        ),
    ],
)
def test_a_usage_error_a_command_finds_says_where_to_look(
    cli: Cli, demo: str, tmp_path: Path, args: list[str], message: str
) -> None:
    command = args[0]
    run = (
        cli("--sysfs-root", demo, *args, "--registry", str(tmp_path))
        if command == "audit"
        else cli("--sysfs-root", demo, *args)
    )
    assert (run.code, run.out) == (2, "")
    assert run.err == f"pcie-failover {command}: {message}" + _hint(f"pcie-failover {command}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["capture", "nosuch0", "-o", "{tmp}/x.tar.gz"], "no network interface 'nosuch0' on this host"),
        (["lint", "--qemu-args", "{tmp}/missing"], "cannot read {tmp}/missing: No such file or directory"),
        (
            ["audit", "--registry", "{tmp}", "--device", "nosuch0"],
            "--device: no network interface 'nosuch0' on this host",
        ),
    ],
)
def test_an_error_help_cannot_answer_has_no_hint(
    cli: Cli, demo: str, tmp_path: Path, args: list[str], message: str
) -> None:
    run = cli("--sysfs-root", demo, *(arg.replace("{tmp}", str(tmp_path)) for arg in args))
    assert (run.code, run.out) == (2, "")
    assert run.err == f"pcie-failover {args[0]}: {message.replace('{tmp}', str(tmp_path))}\n"


def test_a_json_error_keeps_its_structure_and_an_absolute_root(
    cli: Cli, demo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(demo).parent)
    run = cli("--sysfs-root", Path(demo).name, "capture", "--format", "json")
    assert (run.code, run.err) == (2, "")
    document = run.json
    assert document["sysfs_root"] == demo  # as absolute as a report's
    assert document["error"] == {"code": 2, "kind": "usage", "message": "an output file is required (-o FILE.tar.gz)"}
    report = cli("--sysfs-root", Path(demo).name, "check", "5e:00.2", "--format", "json").json
    assert report["sysfs_root"] == demo


# 8. the global options before the command are the program's


def test_an_empty_sysfs_root_is_a_usage_error(cli: Cli) -> None:
    assert cli("--sysfs-root=", "list") == Run(2, "", "pcie-failover: --sysfs-root is empty" + _hint("pcie-failover"))
    assert cli("list", "--sysfs-root=") == Run(
        2, "", "pcie-failover list: --sysfs-root is empty" + _hint("pcie-failover list")
    )


def test_an_empty_sysfs_root_given_before_is_overridden_after(cli: Cli, demo: str) -> None:
    run = cli("--sysfs-root=", "check", "5e:00.2", "--sysfs-root", demo, "--format", "json")
    assert (run.code, run.json["sysfs_root"], run.json["verdict"]) == (0, demo, "ready")


def test_a_typo_before_the_command_is_blamed_on_the_program(cli: Cli) -> None:
    run = cli("--sysfs-rot", "X", "list")
    assert (run.code, run.out) == (2, "")
    assert run.err == (
        "pcie-failover: No such option: --sysfs-rot (Possible options: --sysfs-root)" + _hint("pcie-failover")
    )
    after = cli("list", "--bogus")
    assert after.err == "pcie-failover list: No such option: --bogus" + _hint("pcie-failover list")


def test_audit_device_takes_an_interface_name(cli: Cli, demo: str, tmp_path: Path) -> None:
    registry = str(tmp_path / "pairs.d")
    assert cli("--sysfs-root", demo, "register", "web", "5e:00.2", "--registry", registry).code == 0
    by_name = cli("--sysfs-root", demo, "audit", "--registry", registry, "--device", "enp94s0f0np0", "--format", "json")
    by_address = cli("--sysfs-root", demo, "audit", "--registry", registry, "--device", "5e:00.0", "--format", "json")
    assert by_name.code == by_address.code == 0
    assert [p["name"] for p in by_name.json["pairs"]] == [p["name"] for p in by_address.json["pairs"]] == ["web"]
    elsewhere = cli("--sysfs-root", demo, "audit", "--registry", registry, "--device", "eno1", "--format", "json")
    assert elsewhere.json["pairs"] == []


def test_capture_counts_in_the_singular(cli: Cli, demo: str, tmp_path: Path) -> None:
    run = cli("--sysfs-root", demo, "capture", "00:1f.6", "-o", str(tmp_path / "one.tar.gz"))
    assert re.fullmatch(rf"{tmp_path}/one\.tar\.gz: 1 device, \d+ entries, with netlink facts\n", run.out)


# 2. the README's Files section says what is on disk


def _files_section() -> str:
    return README.split("\n## Files\n", 1)[1].split("\n## ", 1)[0]


def test_readme_files_names_the_lock_files_that_are_left(cli: Cli, demo: str, tmp_path: Path) -> None:
    registry, state, textfiles = tmp_path / "pairs.d", tmp_path / "state", tmp_path / "textfiles"
    textfiles.mkdir()
    assert cli("--sysfs-root", demo, "register", "web", "5e:00.2", "--registry", str(registry)).code == 0
    audit = ["--sysfs-root", demo, "audit", "--registry", str(registry), "--state-dir", str(state)]
    assert cli(*audit, "--coalesce", "--format", "prometheus", "--textfile-dir", str(textfiles)).code == 0
    assert sorted(p.name for p in registry.iterdir()) == [".lock", "web.json"]
    assert ".lock" in [p.name for p in state.iterdir()]
    assert sorted(p.name for p in textfiles.iterdir()) == ["pcie_failover.prom"]
    bullets = {b.split(":", 1)[0]: b for b in _files_section().split("\n- ")}
    assert "`pairs.d/.lock`" in bullets["`/etc/pcie-failover/pairs.d/<name>.json`"]
    assert "`/run/pcie-failover/.lock`" in bullets["`/run/pcie-failover/pending`"]
    directory_flocks = [key for key, text in bullets.items() if "flock on the directory" in " ".join(text.split())]
    assert directory_flocks == ["`/var/lib/prometheus/node-exporter/pcie_failover.prom`"]


def test_readme_files_puts_the_snapshot_where_capture_writes_it(cli: Cli, demo: str, tmp_path: Path) -> None:
    archive = tmp_path / "c.tar.gz"
    assert cli("--sysfs-root", demo, "capture", "5e:00.2", "-o", str(archive)).code == 0
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    capture = next(b for b in _files_section().split("\n- ") if b.startswith("A capture"))
    documented = re.findall(r"`(sysfs/pcie-failover-snapshot[^`]*)`", capture)
    assert documented, capture
    for name in documented:
        pattern = re.escape(name).replace("<PF\\ interface>", "[^/]+")
        assert any(re.fullmatch(pattern, found) for found in names), name
    assert not any(n.startswith("pcie-failover-snapshot") for n in names)  # nothing beside sysfs/


# 3. a reader that goes away ends watch as it ends every other command


@pytest.mark.skipif(not LIVE, reason="watch runs on the live /sys only")
def test_watch_exits_141_when_its_reader_goes_away(tmp_path: Path) -> None:
    registry = tmp_path / "pairs.d"
    registry.mkdir(mode=0o700)
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| true` that has already exited
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pcie_failover", "watch", "--registry", str(registry), "--state-dir",
             str(tmp_path / "state"), "--format", "json"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, check=False, cwd=REPO,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")


# 4. install: a Makefile target, and install-units refusing a program the services could not run


def test_make_install_puts_a_venv_and_a_link(tmp_path: Path) -> None:
    """The commands `make install` runs (the real install was run by hand: it fetches the dependencies)."""
    done = subprocess.run(
        ["make", "-n", "install", f"PREFIX={tmp_path}/usr", f"DESTDIR={tmp_path}/pkg"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout
    venv = f"{tmp_path}/usr/lib/pcie-failover"
    assert f"python3 -m venv '{tmp_path}/pkg{venv}'" in lines
    assert f"'{tmp_path}/pkg{venv}/bin/python' -m pip install" in lines
    assert f"ln -sfn '{venv}/bin/pcie-failover' '{tmp_path}/pkg{tmp_path}/usr/bin/pcie-failover'" in lines
    assert "make install" in README.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("destdir", ["{tmp}/pkg/", "{tmp}/pkg", "pkg//"])
def test_a_staged_venv_names_its_final_path(tmp_path: Path, destdir: str) -> None:
    """venv writes the absolute, normalised staging path into its scripts (`#!`, VIRTUAL_ENV): a DESTDIR
    given relative or with a trailing slash must still be replaced by the final path."""
    staged = (tmp_path / "pkg" / "usr/lib/pcie-failover").resolve()
    (staged / "bin").mkdir(parents=True)
    (staged / "bin/pcie-failover").write_text(f"#!{staged}/bin/python\n")
    (staged / "bin/activate").write_text(f'VIRTUAL_ENV="{staged}"\n')
    (staged / "pyvenv.cfg").write_text(f"command = /usr/bin/python3 -m venv {staged}\n")
    done = subprocess.run(
        ["make", "-f", str(REPO / "Makefile"), "install-relocate", f"DESTDIR={destdir.format(tmp=tmp_path)}",
         "PREFIX=/usr"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (staged / "bin/pcie-failover").read_text() == "#!/usr/lib/pcie-failover/bin/python\n"
    assert (staged / "bin/activate").read_text() == 'VIRTUAL_ENV="/usr/lib/pcie-failover"\n'
    assert (staged / "pyvenv.cfg").read_text() == "command = /usr/bin/python3 -m venv /usr/lib/pcie-failover\n"


def _dirs(tmp_path: Path) -> list[str]:
    base = tmp_path / "system"
    return ["--udevdir", f"{base}/udev", "--unitdir", f"{base}/units", "--tmpfilesdir", f"{base}/tmpfiles.d"]


def _program(path: Path, interpreter: str = "/usr/bin/python3") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{interpreter}\nimport sys\n")
    path.chmod(0o755)
    return path


def test_the_units_sandbox_hides_home_and_tmp() -> None:
    """What install-units refuses follows the settings the packaged services carry."""
    targets = install_units.plan("/usr/bin", "/u", "/s", "/t", "")
    assert install_units.hidden(targets) == {
        "/home": "ProtectHome=yes", "/root": "ProtectHome=yes", "/run/user": "ProtectHome=yes",
        "/tmp": "PrivateTmp=yes", "/var/tmp": "PrivateTmp=yes",
    }  # fmt: skip
    for service in ("pcie-failover-audit.service", "pcie-failover-watch.service"):
        settings = (UNITS / service).read_text().splitlines()
        assert {"ProtectHome=yes", "PrivateTmp=yes"} <= set(settings)


def test_install_units_refuses_a_bindir_without_the_program(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for bindir in (tmp_path / "empty", tmp_path / "missing"):
        assert cli("install-units", "--bindir", str(bindir), *_dirs(tmp_path)) == Run(
            2,
            "",
            f"pcie-failover install-units: --bindir {bindir} has no executable pcie-failover: "
            "install it there first (see README, Install)\n",
        )
    not_executable = tmp_path / "noexec" / "pcie-failover"
    _program(not_executable).chmod(0o644)
    assert cli("install-units", "--bindir", str(not_executable.parent), *_dirs(tmp_path)).code == 2
    assert not (tmp_path / "system").exists()


def test_install_units_refuses_a_program_the_services_cannot_see(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = _program(tmp_path / "bin" / "pcie-failover").parent
    run = cli("install-units", "--bindir", str(bindir), *_dirs(tmp_path))  # tmp_path is below /tmp
    assert (run.code, run.out) == (2, "")
    assert run.err == (
        f"pcie-failover install-units: pcie-failover, {bindir}/pcie-failover, is under /tmp, which the services "
        "cannot see (PrivateTmp=yes): install it outside /home, /root and /tmp (see README, Install)\n"
    )
    # the same for a link into a hidden directory, and for a hidden interpreter (a venv made by a ~/ Python)
    home = tmp_path / "home"
    monkeypatch.setattr(install_units, "SANDBOX_HIDES", {"ProtectHome=yes": (str(home),), "PrivateTmp=yes": ()})
    real = _program(home / "u" / "venv" / "bin" / "pcie-failover")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "pcie-failover").symlink_to(real)
    run = cli("install-units", "--bindir", str(tmp_path / "linked"), *_dirs(tmp_path))
    assert (run.code, run.err) == (
        2,
        f"pcie-failover install-units: pcie-failover, {real} (from {tmp_path}/linked/pcie-failover), is under "
        f"{home}, which the services cannot see (ProtectHome=yes): install it outside /home, /root and /tmp "
        "(see README, Install)\n",
    )
    python = _program(home / "u" / "pyenv" / "python3", "/bin/sh")
    _program(tmp_path / "pyenv-bin" / "pcie-failover", str(python))
    run = cli("install-units", "--bindir", str(tmp_path / "pyenv-bin"), *_dirs(tmp_path))
    assert (run.code, f"its interpreter, {python}" in run.err) == (2, True)
    assert not (tmp_path / "system").exists()
    # a program the services see: installed (systemd and udev not told: no such programs here)
    monkeypatch.setattr(install_units, "SYSTEM_DIRECTORIES", (str(tmp_path / "no-sbin"),))
    run = cli("install-units", "--bindir", str(bindir), *_dirs(tmp_path))
    assert (run.code, run.err) == (0, "")
    assert (
        f"ExecStart={bindir}/pcie-failover audit" in (tmp_path / "system/units/pcie-failover-audit.service").read_text()
    )


def test_install_units_below_a_destdir_warns_of_a_hidden_bindir(cli: Cli, tmp_path: Path) -> None:
    run = cli("install-units", "--destdir", str(tmp_path / "pkg"), "--bindir", "/home/me/bin", *_dirs(tmp_path))
    assert run.code == 0
    assert run.err == (
        "pcie-failover install-units: warning: --bindir /home/me/bin is under /home, which the services cannot see "
        "(ProtectHome=yes)\n"
    )


def test_install_units_says_differs_of_one_file(cli: Cli, tmp_path: Path) -> None:
    install = ["install-units", "--destdir", str(tmp_path), "--bindir", "/usr/bin", *_dirs(tmp_path)]
    assert cli(*install).code == 0
    timer = Path(f"{tmp_path}{tmp_path}/system/units/pcie-failover-audit.timer")
    timer.write_text(timer.read_text() + "# edited\n")
    assert cli(*install).err == (
        f"pcie-failover install-units: {timer} differs from the packaged file (--force replaces it)\n"
    )
    watch = timer.with_name("pcie-failover-watch.service")
    watch.write_text(watch.read_text() + "# edited\n")
    assert cli(*install).err == (
        f"pcie-failover install-units: {timer} and 1 more differ from the packaged files (--force replaces them)\n"
    )


# 5. the units on a host without node_exporter: journal always, textfile when the directory exists


def _exec_start(unit: str) -> list[str]:
    line = next(x for x in (UNITS / unit).read_text().splitlines() if x.startswith("ExecStart="))
    words = shlex.split(line.removeprefix("ExecStart="))
    assert words[0] == "@BINDIR@/pcie-failover"
    return words[1:]


@pytest.mark.parametrize("unit", ["pcie-failover-audit.service", "pcie-failover-watch.service"])
def test_the_units_textfile_is_optional(unit: str) -> None:
    args = _exec_start(unit)
    assert args[args.index("--textfile-dir") + 1] == "/var/lib/prometheus/node-exporter"
    assert {"--textfile-dir-optional", "--journal"} <= set(args)


def test_the_audit_unit_runs_without_node_exporter(cli: Cli, demo: str, tmp_path: Path) -> None:
    registry = str(tmp_path / "pairs.d")
    assert cli("--sysfs-root", demo, "register", "web", "5e:00.2", "--registry", registry).code == 0
    textfiles = tmp_path / "node-exporter"
    args = [str(textfiles) if a == "/var/lib/prometheus/node-exporter" else a for a in _exec_start(
        "pcie-failover-audit.service"
    )]  # fmt: skip
    unit = ["--sysfs-root", demo, *args, "--registry", registry, "--state-dir", str(tmp_path / "state")]
    absent = cli(*unit)
    assert (absent.code, absent.out) == (0, "")
    assert absent.err.splitlines() == [
        f"pcie-failover audit: {textfiles} does not exist: no textfile written (--textfile-dir-optional)",
        "<6>pair web (0000:5e:00.2): ready",  # the journal line still goes out
    ]
    assert not textfiles.exists()
    without = cli(*[a for a in unit if a != "--textfile-dir-optional"])
    assert (without.code, without.err) == (2, f"pcie-failover audit: --textfile-dir: {textfiles} does not exist\n")
    textfiles.mkdir(mode=0o755)
    present = cli(*unit)
    assert (present.code, present.out) == (0, "")
    assert [line[:3] for line in present.err.splitlines()] == ["<6>"]
    assert 'pcie_failover_pair_ready{pair="web"' in (textfiles / "pcie_failover.prom").read_text()


def test_watch_needs_textfile_dir_for_the_optional_flag(cli: Cli) -> None:
    run = cli("watch", "--textfile-dir-optional")
    assert run == Run(
        2, "", "pcie-failover watch: --textfile-dir-optional needs --textfile-dir" + _hint("pcie-failover watch")
    )


@pytest.mark.skipif(not LIVE, reason="watch runs on the live /sys only")
def test_the_watch_unit_runs_without_node_exporter(tmp_path: Path) -> None:
    registry = tmp_path / "pairs.d"
    registry.mkdir(mode=0o700)
    textfiles = tmp_path / "node-exporter"
    args = [str(textfiles) if a == "/var/lib/prometheus/node-exporter" else a for a in _exec_start(
        "pcie-failover-watch.service"
    )]  # fmt: skip
    watch = subprocess.Popen(
        [sys.executable, "-m", "pcie_failover", *args, "--registry", str(registry), "--state-dir", str(tmp_path / "s")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "s" / ".lock").exists() and watch.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        watch.send_signal(signal.SIGTERM)
        out, err = watch.communicate(timeout=30)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    assert (watch.returncode, out) == (0, "")
    assert err == f"pcie-failover watch: {textfiles} does not exist: no textfile written (--textfile-dir-optional)\n"


# 6. a fix's command line pastes whole, at any width


def _pasted(lines: list[str]) -> list[str]:
    """What a shell reads from these lines: a line ending in ` \\` continues on the next."""
    commands: list[str] = []
    pending = ""
    for line in lines:
        text = line.strip()
        if pending:
            text = pending + " " + text
        if text.endswith(" \\"):
            pending = text[:-2]
            continue
        pending = ""
        commands.append(text)
    return commands


def _fix_lines(out: str) -> list[str]:
    """The how-to-fix text of a check report, in table form or one line per check."""
    lines = out.splitlines()
    header = next((i for i, line in enumerate(lines) if "how to fix" in line and line.startswith("check")), None)
    if header is not None:
        column = lines[header].index("how to fix")
        body = lines[header + 2 :]
        return [line[column:] for line in body if len(line) > column and not line.startswith("verdict")]
    fixes, inside = [], False
    for line in lines:
        if line.startswith("    fix: "):
            inside = True
            fixes.append(line[len("    fix: ") :])
        elif inside and line.startswith("         "):
            fixes.append(line[9:])
        else:
            inside = False
    return fixes


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120, 140, 160, 200])
@pytest.mark.parametrize("device", ["5e:00.3", "5e:00.4"])
def test_a_fix_command_is_never_broken_mid_command(
    cli: Cli, demo: str, monkeypatch: pytest.MonkeyPatch, width: int, device: str
) -> None:
    from pcie_failover.render.layout import is_shell_command

    commands = [
        line
        for result in cli("--sysfs-root", demo, "check", device, "--format", "json").json["checks"]
        for line in (result["hint"] or "").split("\n")
        if is_shell_command(line)
    ]
    assert {c.split()[0] for c in commands} >= {"echo", "ip"}
    monkeypatch.setenv("COLUMNS", str(width))
    out = cli("--sysfs-root", demo, "check", device).out
    pasted = _pasted(_fix_lines(out))
    for command in commands:
        assert command in pasted, (command, out)
    for line in out.splitlines():  # only a word wider than the line may overflow it
        assert len(line) <= width or len(line.split()[-1]) > width // 2, line


def test_wrap_command_continues_outside_quotes() -> None:
    from pcie_failover.render.layout import wrap_command

    command = "echo 'a b c d e f' > /sys/bus/pci/devices/0000:5e:00.3/driver_override"
    assert wrap_command(command, 30, "fix: ", "     ") == [
        "fix: echo 'a b c d e f' > \\",
        "       /sys/bus/pci/devices/0000:5e:00.3/driver_override",
    ]
    assert wrap_command(command, None) == wrap_command(command, 200) == [command]
    placeholder = "ip link set dev enp94s0f0np0 vf 2 mac <standby MAC>"  # replaced whole: never split
    assert wrap_command(placeholder, 44, "fix: ", "     ") == [
        "fix: ip link set dev enp94s0f0np0 vf 2 mac \\",
        "       <standby MAC>",
    ]


# 7. the verdict of --strict names the rows that made it


def _result(rule: str, status: Status) -> RuleResult:
    return RuleResult(rule, Severity.FAIL, status, "m")


@pytest.mark.parametrize(
    ("statuses", "strict", "said"),
    [
        ((Status.FAIL,), False, "not ready: fix the FAIL rows"),
        ((Status.FAIL, Status.WARN), False, "not ready: fix the FAIL rows"),
        ((Status.WARN,), True, "not ready: fix the WARN rows (--strict counts warnings)"),
        ((Status.FAIL, Status.WARN), True, "not ready: fix the FAIL and WARN rows (--strict counts warnings)"),
        ((Status.FAIL,), True, "not ready: fix the FAIL rows"),
    ],
)
def test_the_verdict_names_the_rows_to_fix(statuses: tuple[Status, ...], strict: bool, said: str) -> None:
    from pcie_failover.check.table import check_verdict

    results = [_result(f"r{i}", status) for i, status in enumerate(statuses)]
    assert check_verdict(results, Verdict.NOT_READY, strict) == said


def test_check_strict_with_only_warnings_says_so(cli: Cli, demo: str) -> None:
    run = cli("--sysfs-root", demo, "check", "5e:00.5", "--strict")
    assert run.code == 1
    assert ("WARN" in run.out, "FAIL" in run.out) == (True, False)
    assert run.out.endswith("\nverdict: not ready: fix the WARN rows (--strict counts warnings)\n")


# third walkthrough: a refusal is a finding (-q silences it), and it offers no MAC pair would not set


def test_a_refusal_under_quiet_is_the_exit_code_only(cli: Cli, demo: str) -> None:
    assert cli("-q", "--sysfs-root", demo, "pair", "5e:00.3") == Run(1, "", "")


def test_a_refusal_leaves_the_mac_to_pair_s_own_host_step(cli: Cli, demo: str) -> None:
    refused = cli("--sysfs-root", demo, "pair", "5e:00.3")
    forced = cli("--sysfs-root", demo, "pair", "5e:00.3", "--force", "--format", "qemu")
    assert refused.code == forced.code == 1
    vf_mac = refused.err.split("  FAIL vf-mac: ", 1)[1].splitlines()
    assert vf_mac[1] == "    (pair sets the VF's MAC as one of its host steps: --force shows them)"
    assert "ip link set dev enp94s0f0np0 vf 1 mac" not in refused.err
    assert "# HOST before QEMU starts here: ip link set dev enp94s0f0np0 vf 1 mac 02:12:34:56:00:01" in forced.out


def test_a_refusal_follows_the_terminal_width(cli: Cli, demo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard error's lines too: prose wrapped, a fix's commands continued with ` \\`, never cut."""
    monkeypatch.setenv("COLUMNS", "50")
    refused = cli("--sysfs-root", demo, "pair", "5e:00.3")
    lines = refused.err.splitlines()
    assert refused.code == 1
    assert all(len(line) <= 50 or " " not in line.strip() for line in lines), lines
    assert "    echo vfio-pci > \\" in lines
    assert "      /sys/bus/pci/devices/0000:5e:00.3/driver_override" in lines
