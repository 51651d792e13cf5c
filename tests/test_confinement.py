"""The sysfs root is a boundary: no read, listing or capture reaches outside it, whatever its links say.

Each case plants a secret outside the root and a link to it at a different depth of a
real path the checks read; nothing of the secret may reach a report, an error or a capture.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures_sysfs.hosts import demo_host
from pcie_failover.sysfs.root import SysfsError, SysfsRoot
from tests.support.cli import Run
from tests.support.hostile import run1

SECRET = "SECRET-OUTSIDE-THE-ROOT"
DEMO_ROOT = Path(__file__).resolve().parent.parent / "fixtures_sysfs" / "demo-host"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the root that looks like the pieces of sysfs a link might be aimed at."""
    top = tmp_path / "outside"
    for rel in ("operstate", "address", "vendor", "class", "tun_flags", "shadow", "net/operstate", "x/vendor"):
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_text(f"{SECRET}\n")
    return top


def _relink(path: Path, target: str) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        for child in sorted(path.rglob("*"), reverse=True):
            child.unlink() if child.is_symlink() or not child.is_dir() else child.rmdir()
        path.rmdir()
    path.symlink_to(target)


def _tree(path: str) -> tuple[list[str], bytes]:
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        contents = b"".join(f.read() for m in members if m.isfile() and (f := tar.extractfile(m)) is not None)
        return [m.name for m in members], contents


def test_root_reads_refuse_every_way_out(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "sys"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "vendor").write_text("0x15b3\n")
    (root / "abs").symlink_to(outside)  # absolute, mid-path
    (root / "rel").symlink_to("../outside")  # relative, climbs out
    (root / "a" / "deep").symlink_to("../../outside/x")  # climbs out from below
    (root / "a" / "inside").symlink_to("b")  # stays inside: followed
    (root / "a" / "up").symlink_to("..")  # to the root itself: inside
    (root / "loop").symlink_to("loop")
    (root / "ping").symlink_to("pong")
    (root / "pong").symlink_to("ping")
    (root / "esc").symlink_to("a/\x1b[2Jb")
    sysfs = SysfsRoot(str(root))

    assert sysfs.read_text("a/inside/vendor") == "0x15b3"
    assert sysfs.read_text("a/up/a/b/vendor") == "0x15b3"
    assert sysfs.resolve("a/inside") == "a/b"
    assert sysfs.resolve("a/up") == ""
    for rel, reason in (
        ("abs/operstate", "link points outside the sysfs root (absolute target)"),
        ("rel/operstate", "link points outside the sysfs root"),
        ("a/deep/vendor", "link points outside the sysfs root"),
        ("../outside/operstate", "link points outside the sysfs root"),
        ("loop/vendor", "too many levels of symbolic links"),
        ("ping/vendor", "too many levels of symbolic links"),
        ("esc/vendor", "a path component with control characters"),
    ):
        for call in (sysfs.read_text, sysfs.listdir, sysfs.lstat, sysfs.resolve, sysfs.readlink):
            with pytest.raises(SysfsError) as raised:
                call(rel)
            assert raised.value.reason == reason, (call.__name__, rel)
        assert not sysfs.exists(rel)
        assert not sysfs.is_directory(rel)
    assert sysfs.readlink("abs") == str(outside)  # a final link is only read, as written
    with pytest.raises(SysfsError, match="is a symbolic link, not an attribute"):
        sysfs.read_text("a/inside")


def test_only_regular_files_are_opened(tmp_path: Path) -> None:
    root = tmp_path / "sys"
    root.mkdir()
    os.mkfifo(root / "fifo")
    (root / "dir").mkdir()
    sysfs = SysfsRoot(str(root))
    for rel in ("fifo", "dir", ""):
        with pytest.raises(SysfsError, match="not a regular file"):
            sysfs.read_bytes(rel)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_a_device_node_is_never_opened(tmp_path: Path) -> None:
    root = tmp_path / "sys"
    root.mkdir()
    # /dev/tty's numbers: opening it would attach to a terminal (or fail with ENXIO without one).
    os.mknod(root / "vendor", stat.S_IFCHR | 0o666, os.makedev(5, 0))
    os.mknod(root / "class", stat.S_IFBLK | 0o666, os.makedev(7, 0))
    sysfs = SysfsRoot(str(root))
    for rel in ("vendor", "class"):
        with pytest.raises(SysfsError) as raised:
            sysfs.read_bytes(rel)
        assert raised.value.reason == "not a regular file"


def test_a_re_created_directory_is_seen_by_a_fresh_root(tmp_path: Path) -> None:
    root = tmp_path / "sys"
    (root / "d").mkdir(parents=True)
    (root / "d" / "vendor").write_text("0x8086\n")
    sysfs = SysfsRoot(str(root))
    assert sysfs.read_text("d/vendor") == "0x8086"
    (root / "d" / "vendor").unlink()
    (root / "d").rmdir()
    (root / "d").mkdir()
    (root / "d" / "vendor").write_text("0x15b3\n")
    assert sysfs.fresh().read_text("d/vendor") == "0x15b3"


@pytest.mark.parametrize(
    ("rel", "target"),
    [
        ("devices/virtual/net", "/etc"),  # the red team's case: capture of /etc as root
        ("devices/virtual/net", "RELATIVE"),
        ("class/net", "RELATIVE"),
        ("class/net", "OUTSIDE"),
        ("kernel/iommu_groups", "OUTSIDE"),
        ("bus/pci/drivers", "OUTSIDE"),
        ("bus/pci/slots", "OUTSIDE"),
        ("class/iommu", "OUTSIDE"),
        ("devices/pci0000:5d", "OUTSIDE"),
    ],
)
def test_mid_path_links_out_of_a_tree_reach_no_output(
    rel: str, target: str, *, host_root: Callable[..., Path], outside: Path, cli: Callable[..., Run], tmp_path: Path
) -> None:
    root = host_root(demo_host())
    # What the link leads to: the same subtree, copied outside with every value replaced by the secret.
    decoy = outside / "decoy"
    shutil.copytree(root / rel, decoy, symlinks=True)
    for path in decoy.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.write_text(f"{SECRET}\n")
    link_target = {"OUTSIDE": str(decoy), "RELATIVE": os.path.relpath(decoy, (root / rel).parent)}.get(target, target)
    _relink(root / rel, link_target)
    outputs = []
    for args in (("check", "5e:00.2"), ("check", "enp94s0f0np0"), ("list",), ("pair", "5e:00.2", "--force")):
        for output in ("table", "json"):
            run = cli("--sysfs-root", str(root), *args, "--format", output)
            assert run.code in (0, 1, 2, 4), (args, run.err)
            outputs.append(run.out + run.err)
    archive = tmp_path / "out.tar.gz"
    run = cli("--sysfs-root", str(root), "capture", "-o", str(archive))
    assert run.code == 0, run.err
    names, contents = _tree(str(archive))
    assert SECRET not in "".join(outputs)
    assert SECRET.encode() not in contents
    assert not any(name.endswith(("/shadow", "/passwd", "/hostname")) for name in names)
    assert b"root:" not in contents


@pytest.mark.parametrize("target", ["OUTSIDE", "RELATIVE"])
def test_links_out_of_a_capture_archive_reach_no_output(
    target: str, host_root: Callable[..., Path], outside: Path, cli: Callable[..., Run], tmp_path: Path
) -> None:
    """A .tar.gz as --sysfs-root keeps its links as they are; the reader follows none of them out."""
    root = host_root(demo_host())
    rel = "devices/pci0000:5d/0000:5d:00.0/0000:5e:00.2"
    decoy = outside / "decoy"
    shutil.copytree(root / rel, decoy, symlinks=True)
    for path in decoy.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.write_text(f"{SECRET}\n")
    depth = "../" * (rel.count("/") + 8)  # past the private directory the archive is unpacked into, and beyond
    _relink(root / rel, {"OUTSIDE": str(decoy), "RELATIVE": f"{depth}{str(decoy).lstrip('/')}"}[target])
    archive = tmp_path / "hostile.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="sysfs")  # links stored as links
    outputs = []
    for args in (("check", "5e:00.2"), ("list",), ("pair", "5e:00.2", "--force")):
        run = cli("--sysfs-root", str(archive), *args, "--format", "json")
        assert run.code in (0, 1, 2, 4), (args, run.err)
        outputs.append(run.out + run.err)
    assert SECRET not in "".join(outputs)
    assert "link points outside the sysfs root" in outputs[0]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="a PID namespace needs root")
def test_a_pid_namespace_that_sees_its_parents_proc_reads_its_own_descriptors() -> None:
    """Re-opened through /proc/self/fd, not /proc/<getpid()>/fd: in a new PID namespace getpid() is 1, and the parent's
    /proc names the host's init by it (an outside review read another process's files that way)."""
    tool = Path(sys.executable).with_name("pcie-failover")
    listed = subprocess.run(
        ["unshare", "--pid", "--fork", str(tool), "--sysfs-root", str(DEMO_ROOT), "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["devices"]) == 7


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="a mount namespace needs root")
def test_a_magic_link_into_another_mount_namespace_is_read_where_it_leads(tmp_path: Path) -> None:
    """`/proc/PID/root/sys` resolves to the string `/sys`, which names this host's /sys: an outside review listed the
    host's devices through a container's path. The root is the container's tree, and it is not the live /sys."""
    ready = tmp_path / "ready"
    script = f"mount -t tmpfs tmpfs /sys && mkdir -p /sys/bus/pci/devices && touch {ready} && exec sleep 60"
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script])
    try:
        for _ in range(100):
            if ready.exists():
                break
            time.sleep(0.05)
        container = f"/proc/{holder.pid}/root/sys"
        sysfs = SysfsRoot(container)
        assert (sysfs.path, sysfs.live, sysfs.listdir("bus/pci/devices")) == (container, False, [])
        tool = Path(sys.executable).with_name("pcie-failover")
        listed = subprocess.run(
            [str(tool), "--sysfs-root", container, "list", "--format", "json"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        assert (json.loads(listed.stdout)["sysfs_root"], json.loads(listed.stdout)["devices"]) == (container, [])
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="runs as nobody")
def test_a_root_through_a_link_the_user_cannot_read_is_no_host_not_an_internal_error() -> None:
    """`/proc/1/cwd` as nobody: readlink fails with EACCES, which was an internal error (exit 70)."""
    outcome = run1("nobody", "--sysfs-root", "/proc/1/cwd", "list")
    assert (outcome.code, outcome.out, outcome.err) == (
        3,
        b"",
        b"pcie-failover list: no PCI device tree at /proc/1/cwd/bus/pci/devices\n",
    )


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="a mount namespace needs root")
def test_without_a_proc_of_its_own_every_command_says_so_instead_of_listing_nothing() -> None:
    """Every read re-opens through /proc/self/fd: without it each would fail as ENOENT, "missing", and `list`
    printed an empty table with exit 0 (an outside review). Now: no host, exit 3, and why."""
    tool = Path(sys.executable).with_name("pcie-failover")
    script = (
        "mount -t tmpfs tmpfs /proc && "
        f"{tool} --sysfs-root {DEMO_ROOT} list --format json; echo rc=$?; "
        f"{tool} --sysfs-root {DEMO_ROOT} check 5e:00.2 --format json >/dev/null; echo rc=$?"
    )
    run = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    problem = "/proc/self/fd/N does not lead to this process's descriptors (is /proc mounted?)"
    assert run.stdout.splitlines()[-2:] == ["rc=3", "rc=3"]
    assert json.loads(run.stdout.split("rc=3")[0])["error"]["message"] == f"cannot read {DEMO_ROOT}: {problem}"
    assert run.stderr == ""
