"""lint's own rules, for one pair: over the configuration scoped to it, and over the pair as QEMU realized it. Pure.

A pair's verdict and its migration claim answer for that pair only, so they use the rules as they come out
for a configuration holding that pair alone (its standby, the primaries naming it, and every device that is
not part of a failover pair: ports, other NICs), never the whole VM's failing rules. A rule over all the
standbys at once (`standby-mac-unique`: two standbys of one MAC) sees this pair's standby and the others its
finding would name, and only those. What QEMU realized
(a hot-added primary, the placement and MAC it really has) goes through the same rules, `slot-zero` and
`mac-match`, and `standby-mac-unique` with the other live standbys: the one definition of "the guest never sees
it", "the guest does not pair them" and "the guest cannot tell the pairs apart".
"""

from __future__ import annotations

from dataclasses import replace

from pcie_failover.inspect.model import LivePrimary, LiveStandby, LiveVm
from pcie_failover.lint.guest_rules import mac_match, run_lint_rules, slot_zero, standby_mac_unique
from pcie_failover.lint.model import Bus, BusKind, ConfigKind, Device, HostFacts, LintInput, VmConfig
from pcie_failover.model.address import InputError, PciAddress
from pcie_failover.model.results import RuleResult

LIVE_RULES = (slot_zero.RULE, mac_match.RULE)  # over the pair alone
# over the pair and every other standby that shares its standby's MAC (what the guest's failover_get_bymac() sees)
VM_WIDE = {standby_mac_unique.RULE.rule_id: standby_mac_unique.RULE}


def pair_config(config: VmConfig, standby_id: str) -> VmConfig:
    """`config` with the failover devices (and libvirt teaming elements) of other pairs left out."""

    def kept(device: Device) -> bool:
        if device.is_standby:
            return device.id == standby_id
        return device.failover_pair_id is None or device.failover_pair_id == standby_id

    teaming = tuple(t for t in config.teaming if standby_id in (t.alias, t.persistent))
    return replace(config, devices=tuple(d for d in config.devices if kept(d)), teaming=teaming)


def with_peers(scoped: VmConfig, standbys: tuple[Device, ...], standby_id: str) -> VmConfig:
    """`scoped` plus the standbys among `standbys` that share the MAC of `standby_id`'s (standby-mac-unique)."""
    group = next((g for g in standby_mac_unique.shared(standbys) if any(s.id == standby_id for s in g)), ())
    peers = tuple(s for s in group if s.id != standby_id)
    return replace(scoped, devices=tuple(sorted((*scoped.devices, *peers), key=lambda d: d.order)))


def pair_rules(
    config: VmConfig, version: tuple[int, int, int] | None, facts: HostFacts, standby_id: str
) -> tuple[RuleResult, ...]:
    """Every guest rule over the configuration scoped to the pair of `standby_id`; a VM-wide rule over that and
    the other standbys of its MAC."""
    scoped = pair_config(config, standby_id)
    wide = LintInput(with_peers(scoped, config.standbys, standby_id), version, facts)
    results = run_lint_rules(LintInput(scoped, version, facts))
    return tuple(VM_WIDE[r.rule_id].run(wide) if r.rule_id in VM_WIDE else r for r in results)


def _host(text: str | None) -> PciAddress | None:
    try:
        return None if text is None else PciAddress.parse(text)
    except InputError:
        return None


def _live_standby(standby: LiveStandby, order: int) -> Device:
    return Device(
        order=order,
        label=f"{standby.driver} (id {standby.id}, live)",
        driver=standby.driver,
        id=standby.id,
        bus=standby.placement.bus,
        slot=standby.placement.slot,
        function=standby.placement.function,
        failover=True,
        mac=standby.mac,
    )


def live_rules(vm: LiveVm, standby: LiveStandby, primary: LivePrimary, facts: HostFacts) -> tuple[RuleResult, ...]:
    """`slot-zero` and `mac-match` over the pair as QEMU realized it: live placement, the primary's QOM `mac`
    (an emulated NIC) or its VF's admin MAC from the host check (vfio-pci, which has no `mac`); and
    `standby-mac-unique` over it and the VM's other live standbys of its MAC."""
    live_standby = _live_standby(standby, 0)
    live_primary = Device(
        order=1,
        label=f"{primary.driver} (id {primary.id}, live)",
        driver=primary.driver,
        id=primary.id,
        bus=primary.placement.bus,
        slot=primary.placement.slot,
        function=primary.placement.function,
        failover_pair_id=standby.id,
        mac=None if primary.driver == "vfio-pci" else primary.mac,
        host=_host(primary.host),
    )
    buses = {port: Bus(port, BusKind.PCIE_PORT, hotplug=True) for port in vm.ports}
    config = VmConfig(ConfigKind.QEMU, False, None, (live_standby, live_primary), buses)
    lint_input = LintInput(config, None, facts)
    others = sorted((s for s in vm.standbys if s.id != standby.id), key=lambda s: s.id)  # this pair's first
    every = (live_standby, *(_live_standby(s, 2 + n) for n, s in enumerate(others)))
    wide = LintInput(with_peers(config, every, standby.id), None, facts)
    return (*(rule.run(lint_input) for rule in LIVE_RULES), *(rule.run(wide) for rule in VM_WIDE.values()))
