"""`watch`: one audit per burst of events, from udev (pyudev, under umockdev) or rtnetlink; clean stop."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fixtures_sysfs.builder import build
from fixtures_sysfs.hosts import demo_host
from pcie_failover.adapters.events import LinkChanges
from pcie_failover.audit.cli import AuditFormat, _auditor
from pcie_failover.audit.coalesce import Coalesced, coalesced
from pcie_failover.audit.registry import Registry
from pcie_failover.audit.watch import watch
from pcie_failover.cli import main
from pcie_failover.sysfs.root import SysfsRoot
from tests.support.cli import Run


class PipeEvents:
    """A fake event source: each byte written is one event."""

    def __init__(self) -> None:
        self.read, self.write = os.pipe2(os.O_NONBLOCK)

    def fileno(self) -> int:
        return self.read

    def drain(self) -> int:
        try:
            return len(os.read(self.read, 65536))
        except BlockingIOError:
            return 0


def test_one_audit_at_start_and_one_per_burst(tmp_path: Path) -> None:
    events = PipeEvents()
    audits: list[float] = []

    def audit() -> int:
        audits.append(time.monotonic())
        return 0

    def burst_then_stop() -> None:
        time.sleep(0.3)
        for _ in range(128):  # 64 VFs created: 128 events at once
            os.write(events.write, b"e")
        time.sleep(2.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=burst_then_stop).start()
    assert watch([events], audit, str(tmp_path), quiet=0.5) == 0
    assert len(audits) == 2


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    events = PipeEvents()
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
    assert watch([events], lambda: 0, str(tmp_path)) == 0


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2")
def test_rtnetlink_reports_a_link_change() -> None:
    source = LinkChanges()
    mtu = Path("/sys/class/net/lo/mtu").read_text().strip()
    subprocess.run(["ip", "link", "set", "dev", "lo", "mtu", "65535"], check=True)
    subprocess.run(["ip", "link", "set", "dev", "lo", "mtu", mtu], check=True)
    time.sleep(0.1)
    assert source.drain() >= 1


UMOCKDEV_PROBE = """
import sys
import gi
gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev
import select
import pyudev
from pcie_failover.adapters.events import UdevPci
testbed = UMockdev.Testbed.new()
path = testbed.add_device("pci", "0000:5e:00.2", None, ["vendor", "0x15b3", "device", "0x1018", "class", "0x020000"],
                          ["PCI_CLASS", "20000"])
source = UdevPci(pyudev.Context())
testbed.uevent(path, "add")
testbed.uevent(path, "bind")
ready, _, _ = select.select([source.fileno()], [], [], 5)
print(bool(ready), source.drain())
"""


def test_pyudev_events_under_umockdev() -> None:
    if shutil.which("umockdev-wrapper") is None:
        pytest.skip("umockdev is not installed (apt-get install umockdev gir1.2-umockdev-1.0)")
    done = subprocess.run(
        ["umockdev-wrapper", sys.executable, "-c", UMOCKDEV_PROBE],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    if "UMockdev" in done.stderr and "Namespace" in done.stderr:
        pytest.skip("the UMockdev GObject bindings do not import in this interpreter")
    assert done.stdout.split() == ["True", "2"], done.stderr[-2000:]


def _moved_vf(root: Path, aside: Path) -> None:
    """Replace the VF's directory: the old one moved aside (a stale descriptor would still read it), a new one
    that is no Ethernet function (the `ethernet` rule fails: not ready)."""
    vf = root / "devices/pci0000:5d/0000:5d:00.0/0000:5e:00.2"
    vf.rename(aside)
    shutil.copytree(aside, vf, symlinks=True)
    (vf / "class").write_text("0x010802\n")


def _registered(tmp_path: Path, root: Path) -> Registry:
    registry = tmp_path / "pairs.d"
    done = main(["--sysfs-root", str(root), "register", "web", "5e:00.2", "--registry", str(registry)])
    assert done == 0
    return Registry(str(registry), required=True)


def test_each_watch_pass_reads_the_tree_anew(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The root's cached directory descriptors and link resolutions never outlive a pass."""
    root = build(demo_host(), tmp_path / "sys")
    registry = _registered(tmp_path, root)
    once = _auditor(SysfsRoot(str(root)), registry, None, AuditFormat.JSON, None, False, False)
    events = PipeEvents()
    codes: list[int] = []

    def audit() -> int:
        codes.append(once())
        if len(codes) == 1:
            _moved_vf(root, tmp_path / "aside")
            os.write(events.write, b"e")  # the kernel's "unbind" event
        return codes[-1]

    assert watch([events], audit, str(tmp_path / "state"), quiet=0.05, stop_after=2) == 0
    assert codes == [0, 1]
    second = json.loads(capsys.readouterr().out.split("\n}\n")[1] + "\n}")
    assert [(p["name"], p["verdict"]) for p in second["pairs"]] == [("web", "not-ready")]


def test_each_coalesced_run_reads_the_tree_anew(tmp_path: Path) -> None:
    root = build(demo_host(), tmp_path / "sys")
    registry = _registered(tmp_path, root)
    once = _auditor(SysfsRoot(str(root)), registry, None, AuditFormat.JSON, None, False, False)
    state = str(tmp_path / "state")
    codes: list[int] = []

    def audit() -> int:
        codes.append(once())
        if len(codes) == 1:
            _moved_vf(root, tmp_path / "aside")
            assert coalesced(state, lambda: 99).result is None  # a trigger during the run: marked, run again
        return codes[-1]

    assert coalesced(state, audit) == Coalesced(1, 2)
    assert codes == [0, 1]


@pytest.mark.skipif(not Path("/sys/bus/pci/devices").is_dir(), reason="watch runs on the live /sys only")
def test_watch_reports_a_named_registry_that_does_not_exist(tmp_path: Path) -> None:
    """Each audit of watch reports it as `audit` does (a registry problem), and watch goes on until stopped."""
    missing = tmp_path / "pairs.typo"
    args = ["watch", "--registry", str(missing), "--state-dir", str(tmp_path / "state"), "--format", "json"]
    process = subprocess.Popen(
        [sys.executable, "-m", "pcie_failover", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        while lines[-1] not in ("", "}\n"):  # the first audit's document, then watch waits for events
            lines.append(process.stdout.readline())
        process.send_signal(signal.SIGTERM)
        rest, err = process.communicate(timeout=30)
    finally:
        watchdog.cancel()
    document = Run(process.returncode, "".join(lines), err).json
    assert (process.returncode, rest, err) == (0, "", "")
    assert (document["verdict"], document["problems"], document["pairs"]) == (
        "undetermined",
        [f"{missing} does not exist: no pair is audited"],
        [],
    )
