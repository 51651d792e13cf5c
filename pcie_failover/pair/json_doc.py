"""The `pair` JSON document (schema in pcie_failover/schema/): pure, report -> str."""

from __future__ import annotations

from typing import Any

from pcie_failover.model.results import RuleResult
from pcie_failover.pair.build import refused_failures, warnings
from pcie_failover.pair.libvirt_xml import hostdev_network, primary_interface, standby_interface, xml_text
from pcie_failover.pair.model import MACVTAP_FD, HostPrep, PairReport, PairRequest, PairSpec, RootPort, macvtap_name
from pcie_failover.pair.notes import shell_command
from pcie_failover.pair.qemu_args import qemu_args
from pcie_failover.pair.qmp_cmds import fd_name, qmp_commands
from pcie_failover.render.json_doc import check_json, device_json, dump, envelope


def _input(report: PairReport) -> dict[str, Any]:
    request: PairRequest = report.request
    backend = request.backend
    return {
        "device": report.check.query,
        "for": report.check.options.manager.value,
        "mac": None if request.mac is None else str(request.mac),
        "standby_id": request.standby_id,
        "primary_id": request.primary_id,
        "netdev": backend.kind.value if backend.device is None else f"{backend.kind.value}={backend.device}",
        "used_chassis": [str(p) for p in request.used_chassis],
        "ports": [str(p) for p in request.ports],
        "used_addr": [str(a) for a in request.used_addrs],
        "pin_addr": request.pin_addr,
        "pool": request.pool,
        "force": request.force,
    }


def _port(port: RootPort) -> dict[str, Any]:
    return {
        "id": port.id,
        "bus": "pcie.0",
        "chassis": port.chassis,
        "slot": port.slot,
        "addr": None if port.addr is None else f"{port.addr:#x}",
    }


def _prep(prep: HostPrep) -> dict[str, Any]:
    return {
        "note": prep.note,
        "steps": [{"description": s.description, "command": shell_command(s)} for s in prep.steps],
        "skipped": list(prep.skipped),
    }


def _backend(spec: PairSpec) -> dict[str, Any]:
    backend = spec.standby.backend
    macvtap = (
        None
        if backend.lower is None
        else {"lower": backend.lower, "name": macvtap_name(spec.mac), "fd": MACVTAP_FD, "qmp_fdname": fd_name(spec)}
    )
    return {"type": backend.kind.value, "bridge": backend.bridge, "macvtap": macvtap}


def _spec(spec: PairSpec) -> dict[str, Any]:
    standby, primary = spec.standby, spec.primary
    network = hostdev_network(spec)
    return {
        "for": spec.manager.value,
        "mac": {"address": str(spec.mac), "source": spec.mac_source.value},
        "standby": {
            "id": standby.id,
            "alias": standby.alias,
            "netdev_id": standby.netdev_id,
            "backend": _backend(spec),
            "port": _port(standby.port),
        },
        "primary": {
            "id": primary.id,
            "alias": primary.alias,
            "host": str(primary.host),
            "pf_netdev": spec.pf_netdev,
            "vf_index": spec.vf_index,
            "pool": primary.pool,
            "port": _port(primary.port),
        },
        "qemu_args": qemu_args(spec),
        "qmp": qmp_commands(spec),
        "libvirt": {
            "interfaces": [xml_text(standby_interface(spec)), xml_text(primary_interface(spec))],
            "network": None if network is None else xml_text(network),
        },
        "host_preparation": {prep.host: _prep(prep) for prep in spec.prep},
    }


def _results(results: tuple[RuleResult, ...]) -> list[dict[str, Any]]:
    return [check_json(r) for r in results]


def render_pair(report: PairReport) -> str:
    """The `pair` document: the check's findings and, unless refused, the spec."""
    check = report.check
    document = envelope("pair", check.sysfs_root)
    document["input"] = _input(report)
    document["device"] = None if check.device is None else device_json(check.device)
    document["pf_netdev"] = check.pf_netdev
    document["verdict"] = check.verdict.value
    document["refused"] = report.spec is None
    spec = report.spec  # what the other formats show: the spec's own, or a refusal's
    document["failures"] = _results(refused_failures(check) if spec is None else spec.failures)
    document["warnings"] = _results(warnings(check) if spec is None else spec.warnings)
    document["spec"] = None if report.spec is None else _spec(report.spec)
    document["checks"] = _results(check.results)
    return dump(document)
