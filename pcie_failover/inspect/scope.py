"""lint's own rules, for one pair: over the configuration scoped to it, and over the pair as QEMU realized it. Pure.

A pair's verdict and its migration claim answer for that pair only, so they use the rules as they come out
for a configuration holding that pair alone (its standby, the primaries naming it, and every device that is
not part of a failover pair: ports, other NICs), never the whole VM's failing rules. What QEMU realized
(a hot-added primary, the placement and MAC it really has) goes through the same rules, `slot-zero` and
`mac-match`: the one definition of "the guest never sees it" and "the guest does not pair them".
"""

from __future__ import annotations

from dataclasses import replace

from pcie_failover.inspect.model import LivePrimary, LiveStandby, LiveVm
from pcie_failover.lint.model import Bus, BusKind, ConfigKind, Device, HostFacts, LintInput, VmConfig
from pcie_failover.lint.rules import mac_match, run_lint_rules, slot_zero
from pcie_failover.model.address import InputError, PciAddress
from pcie_failover.model.results import RuleResult

LIVE_RULES = (slot_zero.RULE, mac_match.RULE)


def pair_config(config: VmConfig, standby_id: str) -> VmConfig:
    """`config` with the failover devices (and libvirt teaming elements) of other pairs left out."""

    def kept(device: Device) -> bool:
        if device.is_standby:
            return device.id == standby_id
        return device.failover_pair_id is None or device.failover_pair_id == standby_id

    teaming = tuple(t for t in config.teaming if standby_id in (t.alias, t.persistent))
    return replace(config, devices=tuple(d for d in config.devices if kept(d)), teaming=teaming)


def pair_rules(
    config: VmConfig, version: tuple[int, int, int] | None, facts: HostFacts, standby_id: str
) -> tuple[RuleResult, ...]:
    """Every guest rule over the configuration scoped to the pair of `standby_id`."""
    return run_lint_rules(LintInput(pair_config(config, standby_id), version, facts))


def _host(text: str | None) -> PciAddress | None:
    try:
        return None if text is None else PciAddress.parse(text)
    except InputError:
        return None


def live_rules(vm: LiveVm, standby: LiveStandby, primary: LivePrimary, facts: HostFacts) -> tuple[RuleResult, ...]:
    """`slot-zero` and `mac-match` over the pair as QEMU realized it: live placement, the primary's QOM `mac`
    (an emulated NIC) or its VF's admin MAC from the host check (vfio-pci, which has no `mac`)."""
    live_standby = Device(
        order=0,
        label=f"{standby.driver} (id {standby.id}, live)",
        driver=standby.driver,
        id=standby.id,
        bus=standby.placement.bus,
        slot=standby.placement.slot,
        function=standby.placement.function,
        failover=True,
        mac=standby.mac,
    )
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
    return tuple(rule.run(lint_input) for rule in LIVE_RULES)
