"""From the user's request and the check's report to the pair's spec: pure functions."""

from __future__ import annotations

from dataclasses import dataclass, replace

from pcie_failover.model.address import InputError, PciAddress
from pcie_failover.model.check import Manager
from pcie_failover.model.report import CheckReport
from pcie_failover.model.results import RuleResult, Status
from pcie_failover.pair.ids import require_distinct, user_alias, validate_id
from pcie_failover.pair.mac import MacChoice
from pcie_failover.pair.model import PairRequest, PairSpec, Primary, RootPort, Standby
from pcie_failover.pair.ports import choose_addrs, choose_ports
from pcie_failover.pair.prep import PrepRequest, VfState, host_prep
from pcie_failover.rules import vf_mac


@dataclass(frozen=True)
class Layout:
    """The devices as far as the request alone decides them (no host read yet)."""

    standby: Standby
    primary_id: str
    primary_alias: str
    primary_port: RootPort


def plan(request: PairRequest) -> Layout:
    """Ids, aliases and root ports; raise InputError on clashes, before anything is read."""
    standby_id, primary_id = request.standby_id, request.primary_id
    netdev_id = validate_id(f"host{standby_id}", "netdev id")
    ports = {"standby's root port": f"rp-{standby_id}", "primary's root port": f"rp-{primary_id}"}
    require_distinct({"--standby-id": standby_id, "--primary-id": primary_id, **ports})
    require_distinct({"--standby-id alias": user_alias(standby_id), "--primary-id alias": user_alias(primary_id)})
    for name in ports.values():
        validate_id(name, "root port id")
    pairs = choose_ports(request.used_chassis, request.ports)
    addrs: tuple[int | None, int | None] = choose_addrs(request.used_addrs) if request.pin_addr else (None, None)
    standby_port, primary_port = (
        RootPort(port_id, pair.chassis, pair.slot, addr)
        for port_id, pair, addr in zip(ports.values(), pairs, addrs, strict=True)
    )
    standby = Standby(standby_id, user_alias(standby_id), netdev_id, request.backend, standby_port)
    return Layout(standby, primary_id, user_alias(primary_id), primary_port)


def failures(report: CheckReport) -> tuple[RuleResult, ...]:
    """The failed rules: any one refuses the pair."""
    return tuple(r for r in report.results if r.status is Status.FAIL)


MAC_STEP = "(pair sets the VF's MAC as one of its host steps: --force shows them)"


def refused_failures(report: CheckReport) -> tuple[RuleResult, ...]:
    """The failures a refusal names: vf-mac's `ip link set ... mac` gives way to pair's own MAC step (with --force
    the spec's host step sets the MAC pair chooses: two different MACs for one VF would be one too many)."""
    qemu = report.options.manager is Manager.QEMU
    return tuple(
        replace(r, hint=MAC_STEP) if qemu and r.rule_id == vf_mac.RULE.rule_id else r for r in failures(report)
    )


def warnings(report: CheckReport) -> tuple[RuleResult, ...]:
    """Warn and unknown results: carried into the spec."""
    return tuple(r for r in report.results if r.status in (Status.WARN, Status.UNKNOWN))


def build_spec(
    report: CheckReport, request: PairRequest, layout: Layout, choice: MacChoice, state: VfState
) -> PairSpec:
    """The spec for the checked device (which must exist: `report.device` set), its VF as read in `state`."""
    if report.device is None:
        raise InputError(f"{report.query}: no device to pair")
    device = report.device
    host = PciAddress.parse(device.bdf)
    primary = Primary(layout.primary_id, layout.primary_alias, host, layout.primary_port, request.pool)
    return PairSpec(
        manager=report.options.manager,
        mac=choice.mac,
        mac_source=choice.source,
        mac_note=choice.note,
        standby=layout.standby,
        primary=primary,
        pf_netdev=report.pf_netdev,
        vf_index=device.vf_index,
        prep=host_prep(
            report.options.manager,
            PrepRequest(
                vf=str(host),
                pf_netdev=report.pf_netdev,
                vf_index=device.vf_index,
                mac=choice.mac,
                pool=request.pool,
                backend=request.backend,
                state=state,
            ),
        ),
        warnings=_superseded(warnings(report), report.options.manager, state),
        failures=_mac_fixed_by_steps(failures(report), report.options.manager, state),
    )


def _superseded(found: tuple[RuleResult, ...], manager: Manager, state: VfState) -> tuple[RuleResult, ...]:
    """The warnings the spec's own host steps do not resolve: when a step sets the VF's MAC through its PF (an
    administrator's MAC, kept across resets), vf-mac's doubt about the MAC the VF carries now is moot."""
    if manager is Manager.QEMU and not state.mac_set:
        return tuple(r for r in found if r.rule_id != vf_mac.RULE.rule_id)
    return found


def _mac_fixed_by_steps(found: tuple[RuleResult, ...], manager: Manager, state: VfState) -> tuple[RuleResult, ...]:
    """A vf-mac failure (--force) stays listed, but without its own fix: the spec's host step sets the pair's MAC,
    and a second `ip link set ... mac` with the MAC check saw would undo it."""
    if manager is Manager.QEMU and not state.mac_set:
        return tuple(replace(r, hint=None) if r.rule_id == vf_mac.RULE.rule_id else r for r in found)
    return found
