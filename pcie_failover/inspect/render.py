"""`inspect` as a table, a JSON document (schema: `$defs/inspect`) and watch lines: pure, report -> str.

The table takes the terminal's Layout (render.layout, decided by cli.terminal): each `label  text` row wraps
under its text, verdicts and marks are painted; PLAIN (a pipe) is the unwrapped, uncoloured text. Watch lines
stay one line each (a stream that scripts read line by line).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pcie_failover.inspect.model import (
    InspectReport,
    LiveEvent,
    LiveStandby,
    OrphanPrimary,
    PairState,
    PairVerdict,
    Placement,
)
from pcie_failover.lint.report import HostItem
from pcie_failover.model.results import RuleResult, Status, verdict_of
from pcie_failover.render.escape import escape
from pcie_failover.render.json_doc import check_json, dump, envelope
from pcie_failover.render.layout import GREEN, MAGENTA, PLAIN, RED, Layout, paint, wrap
from pcie_failover.render.table import MARK, TONE

TONES = {
    PairVerdict.ACTIVE: GREEN,
    PairVerdict.STANDBY_ONLY: RED,
    PairVerdict.NOT_CONFIGURED: RED,
    PairVerdict.UNDETERMINED: MAGENTA,
}
_LABEL = 11  # the width of a pair row's label column
_RULE_LINE = re.compile(r"- (\S+) (FAIL|WARN|unknown|pass|skip)\b")

_VERDICT = {
    PairVerdict.ACTIVE: "active: every pair negotiated, every primary plugged",
    PairVerdict.STANDBY_ONLY: "standby-only: a pair has no fast path now (see its reason)",
    PairVerdict.NOT_CONFIGURED: (
        "not-configured: a failover standby has no primary, a primary has no failover standby, or the VM has no pair"
    ),
    PairVerdict.UNDETERMINED: "undetermined: QEMU did not say enough to judge a pair",
}


def _yes(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _place(placement: Placement) -> dict[str, Any]:
    return {"bus": placement.bus, "slot": placement.slot, "function": placement.function}


def _host_json(item: HostItem | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {
        "device": item.device,
        "verdict": None if item.verdict is None else item.verdict.value,
        "note": item.note,
        "checks": [] if item.report is None else [check_json(r) for r in item.report.results],
    }


def _standby_json(standby: LiveStandby) -> dict[str, Any]:
    return {
        "id": standby.id,
        "driver": standby.driver,
        "failover": True,
        "mac": standby.mac,
        **_place(standby.placement),
        "offered": standby.offered,
        "driver_ok": standby.driver_ok,
    }


def _pair_json(report: InspectReport, pair: PairState) -> dict[str, Any]:
    live = pair.primary
    planned = None if report.config.lint is None else report.config.lint.config
    standby_cfg = None if planned is None else planned.device(pair.standby.id)
    primary_cfg = (
        None if planned is None or pair.configured_primary is None else planned.device(pair.configured_primary)
    )
    return {
        "standby": _standby_json(pair.standby),
        "negotiated": pair.standby.negotiated,
        "negotiation_note": pair.standby.unknown_why,
        "primary": {
            "id": pair.primary_id,
            "plugged": pair.plugged,
            "held": live is not None,
            "driver": None if live is None else live.driver,
            "bus": None if live is None else live.placement.bus,
            "slot": None if live is None else live.placement.slot,
            "function": None if live is None else live.placement.function,
            "host": None if live is None else live.host,
            "mac": None if live is None else live.mac,
            "in_pci": None if live is None else live.in_pci,
        },
        "configured": None
        if planned is None
        else {
            "standby": None
            if standby_cfg is None
            else {"id": standby_cfg.name, "mac": standby_cfg.mac, "bus": standby_cfg.bus, "slot": standby_cfg.slot},
            "primary": None
            if primary_cfg is None
            else {
                "id": primary_cfg.name,
                "driver": primary_cfg.driver,
                "bus": primary_cfg.bus,
                "slot": primary_cfg.slot,
                "host": None if primary_cfg.host is None else str(primary_cfg.host),
            },
        },
        "host_check": _host_json(pair.host),
        "checks": [check_json(r) for r in pair.checks],
        "live_checks": [check_json(r) for r in pair.live_checks],
        "migration": {"unplugs": pair.migration.unplugs, "replugs": pair.migration.replugs, "why": pair.migration.why},
        "verdict": pair.verdict.value,
        "reason": pair.reason,
    }


def _orphan_json(orphan: OrphanPrimary) -> dict[str, Any]:
    p = orphan.primary
    return {
        "id": p.id,
        "driver": p.driver,
        "failover_pair_id": p.pair_id,
        "named": orphan.named,
        **_place(p.placement),
        "host": p.host,
        "mac": p.mac,
        "in_pci": p.in_pci,
        "verdict": orphan.verdict.value,
        "reason": orphan.reason,
    }


def render_json(report: InspectReport) -> str:
    """The `inspect` document."""
    vm, config = report.vm, report.config
    sysfs_root = None if config.lint is None else config.lint.sysfs_root
    document = envelope("inspect", sysfs_root)
    document |= {
        "input": {
            "qmp": report.target if report.via == "qmp" else None,
            "domain": report.target if report.via == "domain" else None,
            "pid": report.pid,
            "config": config.source,
            "config_note": config.note,
        },
        "qemu": {"version": vm.version, "runstate": vm.runstate},
        "migration": {
            "status": vm.migration_status,
            "in_progress": vm.migrating,
            "migrated_out": vm.migrated_out,
            "events": vm.capabilities.get("events", False),
            "capabilities": sorted(name for name, on in vm.capabilities.items() if on),
        },
        "config": None
        if config.lint is None
        else {
            "verdict": verdict_of(config.lint.results).value,
            "checks": [check_json(r) for r in config.lint.results],
        },
        "pairs": [_pair_json(report, p) for p in report.pairs],
        "orphans": [_orphan_json(o) for o in report.orphans],
        "verdict": report.verdict.value,
    }
    return dump(document)


def _host_rows(item: HostItem | None, driver: str | None) -> list[tuple[str, str]]:
    if item is None:
        what = "emulated primary: no host device" if driver not in (None, "vfio-pci") else "not checked"
        return [("host", what)]
    if item.report is None:
        return [("host", f"{item.device}: {item.note}")]
    rows = [("host", f"{item.device}: check {item.report.verdict.value}")]
    rows += [
        ("", f"- {r.rule_id} {MARK[r.status]}: {r.message}")
        for r in item.report.results
        if r.status not in (Status.PASS, Status.SKIP)
    ]
    return rows


def _rule_rows(checks: tuple[RuleResult, ...], live: tuple[RuleResult, ...]) -> list[tuple[str, str]]:
    """The pair's own rules (the configuration scoped to it), and what the live pair fails."""
    rows = [("rules", f"this pair's configuration: {verdict_of(checks).value}")]
    shown = (r for r in checks if r.status not in (Status.PASS, Status.SKIP))
    rows += [("", f"- {r.rule_id} {MARK[r.status]}: {r.message}") for r in shown]
    rows += [("", f"- {r.rule_id} {MARK[r.status]} (live): {r.message}") for r in live if r.status is Status.FAIL]
    return rows


def _pair_rows(report: InspectReport, pair: PairState) -> list[tuple[str, str]]:
    s = pair.standby
    planned = None if report.config.lint is None else report.config.lint.config
    rows = [("standby", f"live: {s.id} {s.driver} failover=on mac {s.mac or '?'} at {s.placement.text}")]
    standby_cfg = None if planned is None else planned.device(s.id)
    if standby_cfg is not None:
        at = Placement(standby_cfg.bus, standby_cfg.slot, standby_cfg.function).text
        rows.append(("", f"configured: {standby_cfg.name} mac {standby_cfg.mac or '?'} at {at}"))
    offered = f"QEMU offers VIRTIO_NET_F_STANDBY: {_yes(s.offered)}"
    rows.append(("negotiated", f"{_yes(s.negotiated)} ({s.unknown_why or offered})"))
    live = pair.primary
    if live is None:
        rows.append(("primary", "live: not plugged (QEMU holds no such device)"))
    else:
        state = "" if pair.plugged else " (held by QEMU, unplugged from the guest for the migration)"
        if not pair.plugged and live.in_pci is False and not (report.vm.migrating or report.vm.migrated_out):
            state = " (held by QEMU, not in the guest's PCI tree)"
        mac = "" if live.mac is None else f" mac {live.mac}"
        rows.append(("primary", f"live: {live.id} {live.driver}{mac} at {live.placement.text}{state}"))
        if planned is not None and pair.configured_primary != live.id:
            rows.append(("", "added at runtime: not in the configuration"))
    primary_cfg = (
        None if planned is None or pair.configured_primary is None else planned.device(pair.configured_primary)
    )
    if primary_cfg is not None:
        at = Placement(primary_cfg.bus, primary_cfg.slot, primary_cfg.function).text
        host = "" if primary_cfg.host is None else f" host {primary_cfg.host}"
        rows.append(("", f"configured: {primary_cfg.name} {primary_cfg.driver}{host} at {at}"))
    rows += _host_rows(pair.host, None if primary_cfg is None else primary_cfg.driver)
    if planned is not None and pair.runtime:
        rows.append(("rules", "added at runtime: judged on what QEMU built (the configuration has not this pair)"))
        rows += [("", f"- {r.rule_id} {MARK[r.status]} (live): {r.message}") for r in pair.live_checks
                 if r.status is Status.FAIL]  # fmt: skip
    elif planned is not None:
        rows += _rule_rows(pair.checks, pair.live_checks)
    m = pair.migration
    rows.append(("migration", f"now: unplugs {_yes(m.unplugs)}; destination re-plugs {_yes(m.replugs)} ({m.why})"))
    rows.append(("reason", pair.reason))
    return rows


def _marked(
    rule_id: str, status: Status, message: str, width: int | None, layout: Layout, *, first: str, rest: str
) -> list[str]:
    """`RULE MARK: message` (escaped parts) wrapped, the mark painted (it is never wrapped away from its id)."""
    mark = MARK[status]
    lines = wrap(f"{rule_id} {mark}: {message}", width, first, rest)
    painted = paint(mark, TONE.get(mark), layout)
    lines[0] = lines[0].replace(f"{rule_id} {mark}", f"{rule_id} {painted}", 1)
    return lines


def _row(label: str, text: str, width: int | None, layout: Layout) -> list[str]:
    """`  label      text`, the text wrapped under itself; a rule's line (`- RULE MARK: message`) indented further,
    its mark painted."""
    first, rest = f"  {label:<{_LABEL}}", " " * (2 + _LABEL)
    shown = escape(text)
    rule = _RULE_LINE.match(shown)
    lines = wrap(shown, width, first, rest + ("  " if rule else ""))
    if rule is not None:
        lines[0] = lines[0].replace(rule[0], f"- {rule[1]} {paint(rule[2], TONE.get(rule[2]), layout)}", 1)
    return lines


def render_table(report: InspectReport, layout: Layout = PLAIN) -> str:
    """A headline, a block per pair, the configuration's failing rules, migration, the verdict; `layout`: the
    terminal's width (rows wrapped under their text) and colour (verdicts and marks)."""
    vm, config = report.vm, report.config
    width = layout.width
    pid = "" if report.pid is None else f" (pid {report.pid})"
    source = config.source if config.lint is not None else f"unknown ({config.note})"
    target = report.target if report.via == "qmp" else f"domain {report.target}"
    lines = wrap(
        escape(f"inspect {target}: QEMU {vm.version}{pid}, {vm.runstate}; configuration {source}"), width, "", "  "
    )
    if not report.pairs:
        lines.append("no virtio-net device with failover=on")
    for pair in report.pairs:
        head = escape(f"pair {pair.standby.id} + {pair.primary_id or '(none)'}: ")
        lines += ["", *wrap(pair.verdict.value, width, head, "  ", tone=TONES[pair.verdict], layout=layout)]
        for label, text in _pair_rows(report, pair):
            lines += _row(label, text, width, layout)
    for orphan in report.orphans:
        p = orphan.primary
        head = escape(f"primary {p.id} (failover_pair_id={p.pair_id}, no failover standby): ")
        lines += ["", *wrap(orphan.verdict.value, width, head, "  ", tone=TONES[orphan.verdict], layout=layout)]
        mac = "" if p.mac is None else f" mac {p.mac}"
        host = "" if p.host is None else f" host {p.host}"
        rows = [("primary", f"live: {p.id} {p.driver}{host}{mac} at {p.placement.text}"), ("reason", orphan.reason)]
        for label, text in rows:
            lines += _row(label, text, width, layout)
    if config.lint is not None:
        shown = [r for r in config.lint.results if r.status not in (Status.PASS, Status.SKIP)]
        lines += ["", f"configuration rules: {verdict_of(config.lint.results).value}"]
        for r in shown:
            lines += _marked(escape(r.rule_id), r.status, escape(r.message), width, layout, first="  ", rest="    ")
    enabled = ", ".join(sorted(n for n, on in vm.capabilities.items() if on)) or "none"
    status = vm.migration_status or "none since start"
    if vm.migrated_out:
        status += " (this QEMU was its source)"
    lines += ["", *wrap(escape(f"migration: {status}; capabilities on: {enabled}"), width, "", "  "), ""]
    lines += wrap(_VERDICT[report.verdict], width, "verdict: ", "  ", tone=TONES[report.verdict], layout=layout)
    return "".join(line + "\n" for line in lines)


def watch_event_line(event: LiveEvent, as_json: bool) -> str:
    """One QMP event as it happened (validated at the edge: read.read_event)."""
    if as_json:
        line = {"kind": "event", "time": event.seconds, "event": event.name, "data": event.data}
        return json.dumps(line, ensure_ascii=True) + "\n"
    details = " ".join(f"{k}={v}" for k, v in sorted(event.data.items()) if not isinstance(v, (dict, list)))
    return escape(f"{event.seconds:.6f} event {event.name} {details}".rstrip()) + "\n"


def watch_pair_line(pair: PairState, seconds: float, as_json: bool, runstate: str | None = None) -> str:
    """One pair's verdict, when it changed (with the VM's runstate, when given, in JSON)."""
    if as_json:
        line = {
            "kind": "pair",
            "time": seconds,
            **({} if runstate is None else {"runstate": runstate}),
            "standby": pair.standby.id,
            "primary": pair.primary_id,
            "negotiated": pair.standby.negotiated,
            "plugged": pair.plugged,
            "verdict": pair.verdict.value,
            "reason": pair.reason,
        }
        return json.dumps(line, ensure_ascii=True) + "\n"
    return (
        escape(
            f"{seconds:.6f} pair {pair.standby.id} + {pair.primary_id or '(none)'}: {pair.verdict.value}: {pair.reason}"
        )
        + "\n"
    )


def watch_orphan_line(orphan: OrphanPrimary, seconds: float, as_json: bool, runstate: str | None = None) -> str:
    """A primary of no failover standby, as a pair line: `standby` is the id its failover_pair_id names."""
    p = orphan.primary
    if as_json:
        line = {
            "kind": "pair",
            "time": seconds,
            **({} if runstate is None else {"runstate": runstate}),
            "standby": p.pair_id,
            "primary": p.id,
            "negotiated": None,
            "plugged": p.in_pci is not False,
            "verdict": orphan.verdict.value,
            "reason": orphan.reason,
        }
        return json.dumps(line, ensure_ascii=True) + "\n"
    return escape(f"{seconds:.6f} pair {p.pair_id} + {p.id}: {orphan.verdict.value}: {orphan.reason}") + "\n"


def watch_error_line(code: int, kind: str, message: str, as_json: bool) -> str:
    """An error that ends --watch: a JSON line of its own with --format json (the stream stays JSON lines)."""
    if as_json:
        return json.dumps({"kind": "error", "code": code, "error": kind, "message": message}, ensure_ascii=True) + "\n"
    return escape(f"pcie-failover inspect: {message}") + "\n"


def watch_closed_line(text: str, as_json: bool) -> str:
    """The last line, when the monitor (or virsh's event stream) closed."""
    return '{"kind": "closed"}\n' if as_json else f"{text}\n"
