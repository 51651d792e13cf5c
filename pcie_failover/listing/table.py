"""The `list` table: one row per network function, or one block per function when the table is too wide;
a VF's readiness painted; pure, report -> str (render.table)."""

from __future__ import annotations

from tabulate import tabulate

from pcie_failover.model.report import ListedDevice, ListReport
from pcie_failover.render.layout import PLAIN, Layout, fits, key_value_lines, paint, wrap
from pcie_failover.render.table import VERDICT_TONE, device_ids, device_name, escaped_rows


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def _readiness(item: ListedDevice) -> str:
    """A VF's readiness as a primary; a PF says how many VFs it hosts; another function is no candidate."""
    if item.role == "pf":
        return f"pf (hosts {_count(item.sriov_numvfs)} VF{'' if item.sriov_numvfs == 1 else 's'})"
    if item.role == "device":
        return "-"
    return item.verdict.value + (f" ({','.join(item.failing)})" if item.failing else "")


_LIST_HEADERS = [
    "device", "id", "role", "driver", "override", "vfs", "interface", "mac", "admin mac", "group", "numa",
    "primary?", "name",
]  # fmt: skip
_READINESS = 11  # the primary? column
_BLOCK_ORDER = (12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)  # a block: the name first, then the table's order


def render_list(report: ListReport, layout: Layout = PLAIN) -> str:
    """One row per network-class function; narrower than the table (layout.width): one block per function."""
    rows = []
    tones: list[str | None] = []
    for item in report.devices:
        d = item.summary
        relation = f"VF {d.vf_index if d.vf_index is not None else '?'} of {d.pf}" if d.pf else item.role.upper()
        vfs = "-" if item.role != "pf" else f"{_count(item.sriov_numvfs)}/{_count(item.sriov_totalvfs)}"
        rows.append(
            [
                d.bdf,
                device_ids(d),
                relation,
                d.driver or "-",
                item.driver_override or "-",
                vfs,
                ",".join(d.netdevs) or "-",
                item.interface_mac or "-",
                item.admin_mac or "-",
                d.iommu_group or "-",
                "-" if d.numa_node is None else d.numa_node,
                _readiness(item),
                device_name(d) or "-",
            ]
        )
        tones.append(VERDICT_TONE[item.verdict] if item.role == "vf" else None)
    if layout == PLAIN:
        return tabulate(escaped_rows(rows), headers=_LIST_HEADERS, tablefmt="simple") + "\n"
    cells = escaped_rows(rows)
    painted = [
        [*row[:_READINESS], paint(row[_READINESS], tone, layout), *row[_READINESS + 1 :]]
        for row, tone in zip(cells, tones, strict=True)
    ]
    table = tabulate(painted, headers=_LIST_HEADERS, tablefmt="simple") + "\n"
    if layout.width is None or fits(table, layout.width):
        return table
    return _list_blocks(cells, tones, layout.width, layout)


def _list_blocks(cells: list[list[str]], tones: list[str | None], width: int, layout: Layout) -> str:
    """Per function: `device  readiness`, then `key  value` lines (name first), blocks apart by a blank line."""
    blocks = []
    for row, tone in zip(cells, tones, strict=True):
        ready = row[_READINESS]  # `-`: no candidate, nothing to say
        lines = [row[0]] if ready == "-" else wrap(ready, width, f"{row[0]}  ", "  ", tone=tone, layout=layout)
        lines += key_value_lines([(_LIST_HEADERS[c], row[c], None) for c in _BLOCK_ORDER], width, layout)
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)
