"""What `prepare` does, as values: actions (one write each), steps (an action and its inverse), plans, outcomes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class WriteError(Exception):
    """A write the writer could not make; the message is one line naming it."""


class ActionKind(enum.Enum):
    """The writes the writer adapter knows; nothing else is ever written."""

    SYSFS = "sysfs"  # args: (path relative to /sys, value written as `echo VALUE` would)
    IP = "ip"  # args: iproute2's arguments
    MODPROBE = "modprobe"  # args: (module,)
    DRIVERCTL = "driverctl"  # args: driverctl's arguments
    VF_ADDRESS = "vf-address"  # args: (VF address, MAC): the VF's own interface takes the MAC (found when run)
    FILE_PUT = "file-put"  # args: (absolute path, content, mode as 4 octal digits: `0644`)
    FILE_REMOVE = "file-remove"  # args: (absolute path,)


@dataclass(frozen=True)
class Action:
    """One write; `expect_driver` (for a bind, unbind or probe): the driver the device must have after it ("" none)."""

    kind: ActionKind
    args: tuple[str, ...]
    expect_driver: tuple[str, str] | None = None  # (device address, driver or "")


@dataclass(frozen=True)
class Step:
    """One change to one device, with the actions that undo it (computed from the state read before)."""

    step_id: str  # vf-mac, spoofchk, trust, modprobe, unbind, driver-override, probe, persist, vf-address, ...
    device: str  # the PCI address it changes
    description: str
    action: Action
    undo: tuple[Action, ...] = ()
    undo_note: str | None = None  # why there is nothing to undo, when `undo` is empty
    best_effort: bool = False  # its failure is a warning: the run goes on and nothing is rolled back for it


class Outcome(enum.Enum):
    """How a run ended."""

    PREPARED = "prepared"
    UNCHANGED = "unchanged"  # nothing was needed
    DRY_RUN = "dry-run"
    REFUSED = "refused"
    ROLLED_BACK = "rolled-back"
    ROLLBACK_FAILED = "rollback-failed"
    UNDONE = "undone"
    DEVICE_GONE = "device-gone"  # --undo: the recorded device no longer exists; the record is kept


@dataclass(frozen=True)
class Plan:
    """The ordered steps, or why none may run (`refusals`), and what is already as asked (`kept`)."""

    device: str
    steps: tuple[Step, ...] = ()
    refusals: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    group_changes: tuple[str, ...] = ()  # what --group changes on other members of the IOMMU group


@dataclass(frozen=True)
class StepRun:
    """A step that ran, failed, or was undone; `error` says why a write failed."""

    step: Step
    error: str | None = None


@dataclass(frozen=True)
class RunResult:
    """What the runner did: steps that ran, the one that failed, those undone and those whose undo failed."""

    ran: tuple[Step, ...] = ()
    failed: StepRun | None = None
    undone: tuple[Step, ...] = ()
    undo_failed: tuple[StepRun, ...] = ()
    warnings: tuple[StepRun, ...] = ()  # best-effort steps that failed (the run went on)

    @property
    def outcome(self) -> Outcome:
        """Prepared when nothing failed; otherwise rolled back, or not entirely."""
        if self.failed is None:
            return Outcome.PREPARED
        return Outcome.ROLLBACK_FAILED if self.undo_failed else Outcome.ROLLED_BACK


@dataclass(frozen=True)
class GroupMemberState:
    """Another member of the IOMMU group as it was before --group moved it to vfio-pci."""

    address: str
    driver: str | None
    driver_override: str | None


@dataclass(frozen=True)
class Persist:
    """What --persist wrote: `kind` driverctl or udev; for udev, the file, what it held before (None: absent) and
    its permission bits then (None: absent, or a record from before they were kept: 0644)."""

    kind: str
    path: str | None = None
    previous: str | None = None
    previous_mode: int | None = None


@dataclass(frozen=True)
class UndoRecord:
    """A VF's state before the first `prepare` that changed it: what `prepare --undo` restores.

    `mac_origin`: admin (set through the PF), vf-driver (the VF's host driver picked it: undo clears the admin MAC
    and gives the VF's own interface that MAC back), unproven (no host driver shows it), zero.
    """

    device: str
    pf_netdev: str
    vf_index: int
    driver: str | None
    driver_override: str | None
    admin_mac: str
    mac_origin: str
    spoofchk: bool | None = None
    trust: bool | None = None
    persist: Persist | None = None
    group: tuple[GroupMemberState, ...] = field(default_factory=tuple)
