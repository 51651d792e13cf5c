"""Every `pair` output passes `lint`: a property over ids, MACs, backends, ports and formats (demo VF)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pcie_failover.cli import main
from pcie_failover.lint.command import run_lint
from pcie_failover.lint.model import ConfigKind
from pcie_failover.model.results import Status, Verdict
from pcie_failover.sysfs.host import open_root

DEMO = str(Path(__file__).resolve().parent.parent / "fixtures_sysfs" / "demo-host")
VF = "5e:00.2"  # on vfio-pci with admin MAC 52:54:00:6f:55:cc
# Nothing on the demo host proves an administrator set that MAC (vf-mac warns): --mac asserts it, so pair
# reuses it; without it pair derives another MAC whose host step is not taken on the demo host.
ADMIN = ["--mac", "52:54:00:6f:55:cc"]

ids = st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,15}", fullmatch=True)
macs = st.binary(min_size=6, max_size=6).map(
    lambda b: ":".join(f"{x:02x}" for x in bytes([b[0] & 0xFE | 0x02, *b[1:]]))
)
# a bridge or macvtap lower device the host lacks is refused (standby-uplink); enp94s0f1np1 is another PF
backends = st.sampled_from(["tap", "user", "bridge=br0", "macvtap=enp94s0f1np1"])
ports = st.one_of(
    st.just(""),
    st.tuples(st.integers(1, 255), st.integers(0, 99), st.integers(1, 255), st.integers(0, 99))
    .filter(lambda t: t[:2] != t[2:])
    .map(lambda t: f"{t[0]}/{t[1]},{t[2]}/{t[3]}"),
)


def _pair(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["--sysfs-root", DEMO, "pair", VF, *args])
    return code, out.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    standby_id=ids,
    primary_id=ids,
    backend=backends,
    chosen_ports=ports,
    pin_addr=st.booleans(),
    libvirt=st.sampled_from([None, "hostdev", "pool"]),
    mac=st.one_of(st.none(), macs),
)
def test_every_pair_output_passes_lint(  # noqa: PLR0917 (hypothesis passes the drawn values positionally)
    standby_id: str,
    primary_id: str,
    backend: str,
    chosen_ports: str,
    pin_addr: bool,
    libvirt: str | None,
    mac: str | None,
) -> None:
    """`--format qemu` (the VF's admin MAC, asserted: QEMU sets none) and `--for libvirt --format libvirt` (any MAC)."""
    args = ["--standby-id", standby_id, "--primary-id", primary_id, "--netdev", backend, "--ports", chosen_ports]
    args += ["--pin-addr"] if pin_addr else []
    if libvirt is None:
        args += ["--format", "qemu", *ADMIN]
    else:
        args += ["--for", "libvirt", "--format", "libvirt", *(["--mac", mac] if mac else [])]
        args += ["--pool", "sriov-pool"] if libvirt == "pool" else []
    code, text = _pair(args)
    assume(code != 2)  # ids whose derived names collide are refused before any output
    assert code == 0, text
    kind = ConfigKind.QEMU if libvirt is None else ConfigKind.LIBVIRT
    report = run_lint(text, kind, source="pair", root=open_root(DEMO), why_not=None, version=None)
    failed = [r for r in report.results if r.status in (Status.FAIL, Status.UNKNOWN) and r.severity.value == "fail"]
    assert not failed, (text, failed)
    assert report.verdict is Verdict.READY, (text, report.hosts)
    assert [p.id for p in report.config.primaries] == [primary_id if kind is ConfigKind.QEMU else _alias(primary_id)]


def _alias(device_id: str) -> str:
    return device_id if device_id.startswith("ua-") else f"ua-{device_id}"


def test_pair_output_through_the_cli(tmp_path: Path) -> None:
    """The printed forms, saved as files, lint with exit 0 on the same host."""
    for name, args, option in [
        ("vm.args", ["--format", "qemu", *ADMIN], "--qemu-args"),
        ("vm.xml", ["--for", "libvirt", "--format", "libvirt", "--netdev", "bridge=br0"], "--domain-xml"),
        ("macvtap.args", ["--format", "qemu", "--netdev", "macvtap=enp94s0f1np1", *ADMIN], "--qemu-args"),
        (
            "macvtap.xml",
            ["--for", "libvirt", "--format", "libvirt", "--netdev", "macvtap=enp94s0f1np1"],
            "--domain-xml",
        ),
    ]:
        code, text = _pair(args)
        assert code == 0
        (tmp_path / name).write_text(text)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["--sysfs-root", DEMO, "lint", option, str(tmp_path / name)]) == 0
