"""The netlink sidecar a capture writes, read back: what failed on the host stays unknown, private keys stay out."""

from __future__ import annotations

import json

from pcie_failover.model.host import Unreadable
from pcie_failover.netinfo.source import LINKS_DIR, NetlinkRecord, Snapshot, Unavailable, parse_sidecar

PF_LINK = {
    "ifname": "eth0",
    "phys_port_id": "0123456789ab",
    "phys_switch_id": "cdef",
    "phys_port_name": "p0",
    "vfinfo_list": [{"vf": 0, "address": "52:54:00:12:34:56"}],
}


def _read_back(record: NetlinkRecord) -> Snapshot:
    files = record.link_files()
    snapshot = parse_sidecar(
        record.document(), lambda ifname: json.loads(files[f"{LINKS_DIR}/{ifname}.json"]) if ifname else []
    )
    assert isinstance(snapshot, Snapshot)
    return snapshot


def test_a_dump_that_failed_on_the_host_is_unknown_in_the_capture_not_empty() -> None:
    record = NetlinkRecord(
        "6.1.0", "ro", [], [{"ifname": "eth0", "addr_info": []}], [], failed={"routes": "ip -json -6 route: timed out"}
    )
    snapshot = _read_back(record)
    assert snapshot.addresses("eth0") == ()
    assert snapshot.routes("eth0") == Unreadable("pcie-failover-snapshot.json: routes", "ip -json -6 route: timed out")
    again = snapshot.record([], ["eth0"])
    assert again is not None
    assert again.failed == {"routes": "ip -json -6 route: timed out"}  # a capture of the capture keeps it


def test_a_pf_link_keeps_its_vf_list_and_loses_its_port_and_switch_ids() -> None:
    (content,) = NetlinkRecord("6.1.0", "ro", [PF_LINK], [], []).link_files().values()
    assert json.loads(content) == [{"ifname": "eth0", "vfinfo_list": [{"vf": 0, "address": "52:54:00:12:34:56"}]}]
    assert _read_back(NetlinkRecord("6.1.0", "ro", [PF_LINK], [], [])).vf_admin("eth0") == _read_back(
        NetlinkRecord("6.1.0", "ro", [{"ifname": "eth0", "vfinfo_list": PF_LINK["vfinfo_list"]}], [], [])
    ).vf_admin("eth0")


def test_a_version_1_sidecar_is_not_read() -> None:
    old = json.dumps({"format": "pcie-failover-snapshot", "version": 1, "netlink": {"links": [PF_LINK]}}).encode()
    assert parse_sidecar(old) == Unavailable("pcie-failover-snapshot.json is not version 2: capture the host again")
