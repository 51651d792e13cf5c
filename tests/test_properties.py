"""Property tests: random hosts, damaged at random, and faults injected at the file adapter.

No command may raise on any tree: every run ends with a documented exit code and, under
--format json, a document the schema accepts. The link-layout mode plants links mid-path
(to decoys outside the root, to `/`, to the root itself, loops, dangling) and holds every
command to the root. `python -m tests.fuzz` runs these at scale.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures_sysfs.builder import Function, Host, Iommu, Netdev, Port, RootComplex, Slot, SriovPf, VfAdmin, build
from pcie_failover.check.command import run_check
from pcie_failover.model.address import DeviceQuery
from pcie_failover.model.check import CheckOptions
from pcie_failover.sysfs.root import SysfsError, SysfsRoot
from tests.support.cli import Run
from tests.support.fuzzing import EXAMPLES
from tests.support.hostile import SECRET, archive_problems, run_here, shared_directory

SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

drivers = st.sampled_from([None, "vfio-pci", "igbvf", "mlx5_core", "pci-stub", "mlx5_vfio_pci"])
resets = st.sampled_from([None, "", "flr", "bus", "pm bus", "flr pm bus"])
classes = st.sampled_from([0x020000, 0x028000, 0x020700, 0x010802])
IOMMUS = (
    Iommu(),
    Iommu(table=None, enabled=False),
    Iommu(enabled=False),
    Iommu(noiommu_groups=True, enabled=False),
    Iommu(interrupt_remapping=False),
)
macs = st.sampled_from(["00:00:00:00:00:00", "52:54:00:6f:55:cc", "01:00:5e:00:00:01", "02:00:00:00:00:07"])


@st.composite
def vfs(draw: st.DrawFn, group_base: int) -> Function:
    driver = draw(drivers)
    return Function(
        "",
        0x15B3,
        0x1018,
        pci_class=draw(classes),
        driver=driver,
        driver_override=draw(st.sampled_from([None, "vfio-pci"])),
        vfio_dev=True if driver == "mlx5_vfio_pci" else None,
        iommu_group=draw(st.sampled_from([None, group_base, group_base + 1])),
        reset_method=draw(resets),
        pcie=draw(st.booleans()),
        config_len=draw(st.sampled_from([64, 256, 4096])),
    )


@st.composite
def hosts(draw: st.DrawFn) -> Host:
    count = draw(st.integers(0, 4))
    vf_list = tuple(draw(vfs(100 + 2 * i)) for i in range(count))
    admin = tuple(
        VfAdmin(
            mac=draw(macs),
            vlan=draw(st.sampled_from([0, 100])),
            spoofchk=draw(st.sampled_from([None, True, False])),
            trust=draw(st.sampled_from([None, True, False])),
            link_state=draw(st.sampled_from(["auto", "enable", "disable"])),
        )
        for _ in range(count)
    )
    pf = SriovPf(
        pf=Function(
            "0000:5e:00.0",
            0x15B3,
            0x1017,
            driver=draw(st.sampled_from([None, "mlx5_core"])),
            iommu_group=draw(st.sampled_from([None, 21, 100])),
            netdevs=(Netdev("enp94s0f0np0", "b8:ce:f6:12:34:56", up=draw(st.booleans())),)
            if draw(st.booleans())
            else (),
        ),
        vfs=vf_list,
        admin=admin,
        netlink_vfs=draw(st.sampled_from([None, 0, 1])),
    )
    slot = draw(
        st.sampled_from([None, Slot("4"), Slot("7", driver="acpiphp", device_number=0), Slot("9", driver=None)])
    )
    port = Port("0000:5d:00.0", 0x5E, children=(pf,), slot=slot, pciehp_service=draw(st.booleans()), iommu_group=20)
    return Host(
        complexes=(RootComplex(0, 0x5D, (port,)),),
        iommu=draw(st.sampled_from(IOMMUS)),
        netlink_sidecar=draw(st.booleans()),
        loaded_drivers=draw(st.sampled_from([("vfio-pci", "pcieport"), ("pcieport",)])),
    )


def _damage(root: Path, seed: int, amount: int) -> None:
    """Delete, truncate, garble, dangle and loop random entries, as a vanishing device or a bad copy would."""
    rng = random.Random(seed)
    entries = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_symlink() or p.is_file())
    for rel in rng.sample(entries, min(amount, len(entries))):
        path = root / rel
        action = rng.choice(["delete", "garble", "empty", "dangle", "loop", "fifo"])
        with contextlib.suppress(OSError):
            if path.is_symlink() or path.is_file():
                path.unlink()
            if action == "garble":
                path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))))
            elif action == "empty":
                path.write_bytes(b"")
            elif action == "dangle":
                path.symlink_to("../nowhere/at/all")
            elif action == "loop":
                path.symlink_to(path.name)
            elif action == "fifo":
                os.mkfifo(path)


COMMANDS: tuple[tuple[str, ...], ...] = (
    ("check", "5e:00.0"),
    ("check", "5e:00.2"),
    ("check", "5e:00.3", "--for", "libvirt", "--mac", "52:54:00:6f:55:cc"),
    ("check", "enp94s0f0np0"),
    ("list",),
    ("pair", "5e:00.2", "--force"),
)


def _run_all(root: Path, cli: Callable[..., Run]) -> None:
    for args in COMMANDS:
        run = cli("--sysfs-root", str(root), *args, "--format", "json")
        assert run.code in (0, 1, 2, 3, 4), (args, run.err)
        if run.out:
            try:
                run.json  # noqa: B018 - parses and validates against the schema
            except ValueError as error:
                raise AssertionError(f"{args}: {error}: {run.out[:300]!r}") from None
    with tempfile.TemporaryDirectory() as out:
        assert cli("--sysfs-root", str(root), "capture", "-o", f"{out}/s.tar.gz").code in (0, 2, 3)


@SETTINGS
@given(host=hosts(), seed=st.integers(0, 2**32), amount=st.integers(0, 40))
def test_no_command_raises_on_random_damaged_hosts(host: Host, seed: int, amount: int, cli: Callable[..., Run]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = build(host, Path(directory) / "sys")
        _damage(root, seed, amount)
        _run_all(root, cli)


class _FaultyRoot(SysfsRoot):
    """Each counted access fails with probability `rate` (EACCES, EIO, ENODEV, ENOENT or ELOOP)."""

    def __init__(self, path: str, seed: int, rate: float) -> None:
        super().__init__(path)
        self.rng = random.Random(seed)
        self.rate = rate

    def _maybe_fail(self, rel: str) -> None:
        if self.rng.random() < self.rate:
            code = self.rng.choice([errno.EACCES, errno.EIO, errno.ENODEV, errno.ENOENT, errno.ELOOP])
            raise SysfsError(rel, os.strerror(code), code == errno.ENOENT)

    def read_bytes(self, rel: str, limit: int = 4096) -> bytes:
        self._maybe_fail(rel)
        return super().read_bytes(rel, limit)

    def readlink(self, rel: str) -> str:
        self._maybe_fail(rel)
        return super().readlink(rel)

    def listdir(self, rel: str) -> list[str]:
        self._maybe_fail(rel)
        return super().listdir(rel)

    def resolve(self, rel: str) -> str:
        self._maybe_fail(rel)
        return super().resolve(rel)

    def lstat(self, rel: str) -> os.stat_result:
        self._maybe_fail(rel)
        return super().lstat(rel)


@SETTINGS
@given(host=hosts(), seed=st.integers(0, 2**32), rate=st.sampled_from([0.02, 0.1, 0.3, 1.0]))
def test_faults_at_the_file_adapter_never_raise(host: Host, seed: int, rate: float) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = build(host, Path(directory) / "sys")
        for device in ("5e:00.0", "5e:00.2", "5e:00.3"):
            report = run_check(_FaultyRoot(str(root), seed, rate), DeviceQuery.parse(device), CheckOptions(), False)
            assert len(report.results) == 14


def test_damage_helper_damages(tmp_path: Path) -> None:
    root = build(Host(complexes=(RootComplex(0, 0x5D, (Port("0000:5d:00.0", 0x5E),)),)), tmp_path / "sys")
    before = sorted(str(p) for p in root.rglob("*"))
    _damage(root, 1, 10)
    assert sorted(str(p) for p in root.rglob("*")) != before
    shutil.rmtree(root)


# -- link layouts: links placed mid-path, the fuzzing mode of issue 13 ---------------------------------

LINK_KINDS = (
    "decoy-absolute",  # to a copy of the subtree outside the root, every value the secret
    "decoy-relative",
    "slash",  # to /
    "slash-relative",  # ../../.. past / itself
    "root-absolute",  # to the root itself
    "root-relative",
    "parent",  # ..
    "self-loop",
    "ping-pong",
    "dangling",
    "inside",  # to another directory of the tree: followed, inside
)
LINK_EXIT_CODES = {"check": {0, 1, 3, 4}, "list": {0, 3}, "pair": {0, 1, 2, 3}, "capture": {0, 3}}


def _plant_link(root: Path, outside: Path, rel: str, *, kind: str, other: str, n: int) -> None:
    """Replace `root/rel` (a directory, or a link to one) by a link of `kind`."""
    path = root / rel
    if kind.startswith("decoy"):
        decoy = outside / f"decoy{n}"
        if path.is_dir() and not path.is_symlink():  # a copy of what was there, every value the secret
            shutil.copytree(path, decoy, symlinks=True)
            for item in decoy.rglob("*"):
                if item.is_file() and not item.is_symlink():
                    item.write_text(f"{SECRET}\n")
        else:  # a link planted before (never followed here: it may lead to / or the root)
            decoy.mkdir()
            for name in ("vendor", "device", "class", "address", "operstate", "flags", "uevent"):
                (decoy / name).write_text(f"{SECRET}\n")
    target = {
        "decoy-absolute": str(outside / f"decoy{n}"),
        "decoy-relative": os.path.relpath(outside / f"decoy{n}", path.parent),
        "slash": "/",
        "slash-relative": "../" * (rel.count("/") + 8),
        "root-absolute": str(root),
        "root-relative": os.path.relpath(root, path.parent),
        "parent": "..",
        "self-loop": path.name,
        "ping-pong": f"{path.name}.pong",
        "dangling": "nowhere/at/all",
        "inside": os.path.relpath(root / other, path.parent),
    }[kind]
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)
    path.symlink_to(target)
    if kind == "ping-pong":
        path.with_name(f"{path.name}.pong").symlink_to(path.name)


@settings(max_examples=int(os.environ.get("PCIE_FAILOVER_PROPERTY_EXAMPLES", "50")), deadline=None)
@given(
    host=hosts(),
    layout=st.lists(st.tuples(st.integers(0, 2**16), st.sampled_from(LINK_KINDS), st.integers(0, 2**16)), max_size=6),
)
def test_no_link_layout_leads_a_command_out_of_the_root(host: Host, layout: list[tuple[int, str, int]]) -> None:
    """Links anywhere mid-path: no traceback, documented exit codes, no secret, an archive that stays inside."""
    with shared_directory() as directory:
        root = build(host, directory / "sys")
        outside = directory / "outside"
        outside.mkdir()
        for n, (where, kind, other) in enumerate(layout):
            places = sorted(
                str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir() and not p.name.endswith(".pong")
            )  # directories, and links to directories (rglob does not descend into those)
            if places:
                _plant_link(
                    root, outside, places[where % len(places)], kind=kind, other=places[other % len(places)], n=n
                )
        base = ("--sysfs-root", str(root))
        commands = [
            (*base, "check", "5e:00.2", "--format", "json"),
            (*base, "check", "enp94s0f0np0"),
            (*base, "list", "--format", "json"),
            (*base, "pair", "5e:00.2", "--force", "--format", "qemu"),
            (*base, "capture", "-o", "-"),
        ]
        for args, outcome in zip(commands, run_here(commands), strict=True):
            assert outcome.code in LINK_EXIT_CODES[args[2]], (args, outcome.stderr)
            if args[2] != "capture":
                assert SECRET not in outcome.text, args
                assert "Traceback" not in outcome.text, args
                assert "internal error" not in outcome.text, args
            elif outcome.code == 0:
                assert archive_problems(outcome.out) == []
