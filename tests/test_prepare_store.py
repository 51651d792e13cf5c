"""The undo store against hostile paths and contents."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from pcie_failover.prepare.model import Persist, UndoRecord
from pcie_failover.prepare.store import RecordError, UndoStore, encode, from_json, oversize, to_json

VF = "0000:01:10.0"
RECORD = UndoRecord(
    VF,
    "enp1s0",
    0,
    "igbvf",
    None,
    "02:11:22:33:44:55",
    "vf-driver",
    persist=Persist("udev", f"/etc/udev/rules.d/70-pcie-failover-{VF}.rules"),
)


def test_round_trip_is_atomic_and_private(tmp_path: Path) -> None:
    with UndoStore.opened(str(tmp_path / "state"), create=True) as store:
        assert store is not None
        path = store.save(RECORD)
        assert store.load(VF) == RECORD
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        assert store.remove(VF)
        assert store.load(VF) is None
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [".lock"]


def test_missing_store_is_none(tmp_path: Path) -> None:
    with UndoStore.opened(str(tmp_path / "absent")) as store:
        assert store is None


def test_a_linked_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "state").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RecordError, match="symbolic link"), UndoStore.opened(str(tmp_path / "state")):
        pass


def test_a_group_writable_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir(mode=0o775)
    os.chmod(tmp_path / "state", 0o777)
    with pytest.raises(RecordError, match="writable by group or others"), UndoStore.opened(str(tmp_path / "state")):
        pass


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory"])
def test_a_record_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    target = state / f"{VF}.json"
    if kind == "symlink":
        (tmp_path / "secret").write_text("{}")
        target.symlink_to(tmp_path / "secret")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    with UndoStore.opened(str(state)) as store:
        assert store is not None
        with pytest.raises(RecordError, match="not a regular file"):
            store.load(VF)
        with pytest.raises(RecordError):
            store.save(RECORD)
    if kind == "symlink":
        assert (tmp_path / "secret").read_text() == "{}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"driver": "../../etc"}, "driver is not a driver name"),
        ({"device": "0000:01:10.2"}, "names 0000:01:10.2, not 0000:01:10.0"),
        ({"admin_mac": "zz"}, "MAC"),
        ({"pf_netdev": "a/b"}, "interface name"),
        ({"vf_index": True}, "vf_index"),
        ({"mac_origin": "x"}, "mac_origin"),
        ({"persist": {"kind": "udev", "path": "/etc/passwd"}}, "persist.path"),
        ({"version": 2}, "not a version 1 undo record"),
        ({"group": [{"device": "0000:01:10.2", "driver": "a b"}]}, "group\\[0\\].driver"),
    ],
)
def test_hostile_contents_are_refused(tmp_path: Path, change: dict[str, object], message: str) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    (state / f"{VF}.json").write_text(json.dumps({**to_json(RECORD), **change}))
    with UndoStore.opened(str(state)) as store:
        assert store is not None
        with pytest.raises(RecordError, match=message):
            store.load(VF)


def test_garbage_and_oversized_records_are_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    with UndoStore.opened(str(state)) as store:
        assert store is not None
        (state / f"{VF}.json").write_text("{not json")
        with pytest.raises(RecordError, match="not valid JSON"):
            store.load(VF)
        (state / f"{VF}.json").write_text(" " * 70000)
        with pytest.raises(RecordError, match="larger than"):
            store.load(VF)


def test_a_bad_address_names_no_file(tmp_path: Path) -> None:
    from pcie_failover.model.address import InputError

    with UndoStore.opened(str(tmp_path / "s"), create=True) as store:
        assert store is not None
        with pytest.raises(InputError):
            store.load("../../etc/passwd")


# -- what prepare saves, --undo can read; the directory is made only when a record is written --------------------

RULE = f"/etc/udev/rules.d/70-pcie-failover-{VF}.rules"


@pytest.mark.parametrize(
    ("previous", "mode", "fits"),
    [
        ("# x\n" * 8192, 0o600, True),  # 32 KiB exactly: kept, with its mode
        ("# x\n" * 8192 + "!", 0o644, False),  # one byte more than a record keeps
    ],
)
def test_a_previous_rule_is_kept_up_to_its_bound_with_its_mode(previous: str, mode: int, fits: bool) -> None:
    record = replace(RECORD, persist=Persist("udev", RULE, previous, mode))
    data = to_json(record)
    if fits:
        assert oversize(record) is None
        assert from_json(data, VF) == record
    else:
        with pytest.raises(RecordError) as refused:
            from_json(data, VF)
        assert str(refused.value) == "persist.previous is not text of at most 32768 bytes"


def test_a_record_larger_than_undo_reads_is_never_written(tmp_path: Path) -> None:
    """JSON escapes non-ASCII text: 32000 bytes of `é` are 96000 in the record."""
    record = replace(RECORD, persist=Persist("udev", RULE, "é" * 16000, 0o644))
    assert oversize(record) == (
        f"the undo record would be {len(encode(record))} bytes, more than the 65536 --undo reads: {RULE}, which it "
        "keeps to restore, is too large"
    )
    with UndoStore.opened(str(tmp_path / "state"), create=True) as store:
        assert store is not None
        with pytest.raises(RecordError) as refused:
            store.save(record)
        assert str(refused.value) == f"cannot write {tmp_path}/state/{VF}.json: {oversize(record)}"
        assert store.load(VF) is None


def test_only_the_state_directory_itself_is_made(tmp_path: Path) -> None:
    with pytest.raises(RecordError) as refused, UndoStore.opened(str(tmp_path / "no/such/state"), create=True):
        pass
    assert str(refused.value) == (
        f"{tmp_path}/no/such/state: its parent {tmp_path}/no/such does not exist (prepare makes only the directory)"
    )
    assert not (tmp_path / "no").exists()
    with UndoStore.opened(str(tmp_path / "state"), create=True) as store:
        assert store is not None
    assert oct((tmp_path / "state").stat().st_mode & 0o777) == "0o755"
