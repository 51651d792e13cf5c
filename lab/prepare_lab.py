"""`prepare` inside a lab guest with real igb VFs, on the guest kernel's own /sys and netlink.

One guest (vtd-acpi's devices, VT-d on), one igb PF with 4 VFs left to igbvf (each picks a random MAC),
vfio-pci not loaded. Scenarios, in order, each keeping the CLI's JSON and exit code and the VF's state
(driver, driver_override, admin MAC as the PF reports it, the VF interface's MAC) in the job share:
1. fail: modprobe made to fail for vfio-pci (an `install vfio_pci /bin/false` line on a tmpfs over
   /etc/modprobe.d), prepare VF 0: the MAC step runs, `modprobe vfio-pci` fails, the MAC step is undone;
2. prep: prepare VF 0 for real, `check` it, prepare it again (a no-op), then `--undo` and `check` again;
   2b. held: before the --undo, a process (`sleep`) holds VF 0's /dev/vfio/<group> open: another MAC and
   --undo are refused naming it, the same MAC is a no-op; then it exits;
   2c. rebound: VF 0 without a driver is prepared (the record says no driver), then bound to igbvf by hand,
   given an address and set up: --undo (which would unbind igbvf) is refused naming the address;
3. inuse: VF 1's interface up with an address: refused; then, with the address gone:
   3b. ll: VF 1 up with only its IPv6 link-local address (router advertisements off): refused, it is up;
   set down, a --dry-run plans the steps;
   3c. upper: a VLAN on VF 1: refused naming it;
   3m. mvns: VF 1 up, a macvlan on it moved to another network namespace (no `upper_*` link is left here):
   refused, it is up;
   3n. mvdown: VF 1 then set down, the macvlan still up in its namespace (LOWERLAYERDOWN): refused, naming the
   macvlan's MAC in VF 1's unicast filter (`bridge fdb show`), the macvlan still there; with it gone, VF 1's
   filter holds multicast entries only;
   3d. netns: VF 1's interface moved to another network namespace: refused (igbvf bound, no interface here);
4. dry-run: prepare VF 2, and VF 3 through `--dry-run` run as a script: the same end state;
   4d. devheld: a process holds only a VFIO *device* file of VF 2 (group and container closed, as a process
   handed the descriptor would): another MAC and --undo are refused (its `enable` count is 1), while VF 3
   (on vfio-pci, not open) is not; after it exits, VF 2 is free again;
   4b. reg: `--register` into a registry that is a regular file, with --format json: one JSON document;
5. gone: the VFs destroyed (sriov_numvfs 0), `--undo` of VF 2 (recorded): exit 7, the record kept.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lab.capture import LINK_REPO, PRELUDE, REPO, LabEnv
from lab.live_cli import job_results, run_job
from lab.topologies import IP, TOPOLOGIES, pf_up

PF = "0000:01:00.0"
VFS = ("0000:01:10.0", "0000:01:10.2", "0000:01:10.4", "0000:01:10.6")
MACS = ("52:54:00:6f:55:a0", "52:54:00:6f:55:a1", "52:54:00:6f:55:a2", "52:54:00:6f:55:a3")
OTHER_MAC = "52:54:00:6f:55:b0"  # no VF of the PF has it (another VF's admin MAC is refused)
STATE_DIR = "/var/lib/pcie-failover/prepare"
JOB_TIMEOUT = 900.0
PYTHON = f"/host{REPO}/.venv/bin/python -I"
CLI = f"{PYTHON} -m pcie_failover"
BRIDGE = "/usr/sbin/bridge"
# Holds only a VFIO device file: container and group set up, the device file taken, then both closed.
HOLDER = """import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
address, group = sys.argv[1], sys.argv[2]
container = os.open("/dev/vfio/vfio", os.O_RDWR)
group_fd = os.open(f"/dev/vfio/{group}", os.O_RDWR)
assert libc.ioctl(group_fd, 0x3B68, ctypes.byref(ctypes.c_int(container))) == 0  # VFIO_GROUP_SET_CONTAINER
assert libc.ioctl(container, 0x3B66, ctypes.c_ulong(1)) == 0  # VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU
device = libc.ioctl(group_fd, 0x3B6A, ctypes.c_char_p(address.encode()))  # VFIO_GROUP_GET_DEVICE_FD
assert device >= 0, ctypes.get_errno()
os.close(group_fd)
os.close(container)
open("/job/out/holder.ready", "w").close()
time.sleep(600)
"""

HELPERS = f"""
run() {{
  out=$1; shift; rc=0
  {CLI} "$@" > "/job/out/$out.json" 2>"/job/out/$out.err" || rc=$?
  echo "$out $rc" >> /job/out/exit-codes
}}
state() {{
  d=/sys/bus/pci/devices/$1
  {{
    echo "driver=$(basename "$(readlink "$d/driver" || true)")"
    echo "override=$(cat "$d/driver_override")"
    echo "admin=$({IP} -d link show dev "$(ifname {PF})" | sed -n "s/^ *vf $2 .*link\\/ether \\([0-9a-f:]*\\).*/\\1/p")"
    echo "netdev_mac=$(cat "$d"/net/*/address 2>/dev/null || true)"
  }} > "/job/out/$3.state"
}}
"""


def job_lines() -> list[str]:
    """The scenarios (see module)."""
    vf0, vf1, vf2, vf3 = VFS
    dev = f"/sys/bus/pci/devices/{PF}"
    record = f"{STATE_DIR}/{vf0}.json"
    return [
        "modprobe igb",
        "modprobe igbvf",
        "modprobe virtio_net",
        *pf_up(PF),
        f"echo 4 > {dev}/sriov_numvfs",
        "sleep 2",
        LINK_REPO,
        "mkdir -p /job/out",
        f'{IP} -d link show dev "$(ifname {PF})"',
        # 1. a failure mid-way: vfio-pci cannot be loaded
        "mount -t tmpfs tmpfs /host/etc/modprobe.d",
        "echo 'install vfio_pci /bin/false' > /host/etc/modprobe.d/fail.conf",
        f"state {vf0} 0 fail.before",
        f"run fail prepare {vf0} --mac {MACS[0]} --format json",
        f"state {vf0} 0 fail.after",
        f"ls {STATE_DIR} > /job/out/fail.records 2>&1 || true",
        "umount /host/etc/modprobe.d",
        # 2. prepare, check, prepare again, undo, check
        f"state {vf0} 0 prep.before",
        f"run prep prepare {vf0} --mac {MACS[0]} --format json",
        f"state {vf0} 0 prep.after",
        f"cp {record} /job/out/record1.json",
        f"run prep.check check {vf0} --mac {MACS[0]} --format json",
        f"run prep2 prepare {vf0} --mac {MACS[0]} --format json",
        f"cp {record} /job/out/record2.json",
        f"state {vf0} 0 prep2.after",
        # 2b. a process holds the VF's VFIO group open
        f'grp=$(basename "$(readlink /sys/bus/pci/devices/{vf0}/iommu_group)")',
        'sleep 600 < "/dev/vfio/$grp" &',
        "holder=$!",
        "sleep 1",
        'echo "$holder" > /job/out/held.pid',
        f"run held prepare {vf0} --mac {MACS[1]} --format json",
        f"run held.noop prepare {vf0} --mac {MACS[0]} --format json",
        f"run held.undo prepare {vf0} --undo --format json",
        f"state {vf0} 0 held.after",
        'kill "$holder"; wait "$holder" || true',
        f"run undo prepare {vf0} --undo --format json",
        f"state {vf0} 0 undo.after",
        f"test ! -e {record} && echo gone > /job/out/undo.record || echo kept > /job/out/undo.record",
        f"run undo.check check {vf0} --format json",
        # 2c. prepared without a driver, then bound to igbvf by hand and used: --undo is refused
        f'echo 0 > "/proc/sys/net/ipv6/conf/$(ifname {vf0})/accept_ra"',
        f"echo {vf0} > /sys/bus/pci/devices/{vf0}/driver/unbind",
        f"run rebound.prep prepare {vf0} --mac {MACS[0]} --format json",
        f"cp {record} /job/out/rebound.record",
        f"echo > /sys/bus/pci/devices/{vf0}/driver_override",
        f"echo {vf0} > /sys/bus/pci/drivers/vfio-pci/unbind",
        f"echo {vf0} > /sys/bus/pci/drivers/igbvf/bind",
        "sleep 1",
        f'{IP} address add 10.8.8.2/24 dev "$(ifname {vf0})"',
        f'{IP} link set dev "$(ifname {vf0})" up',
        f"state {vf0} 0 rebound.before",
        f"ifname {vf0} > /job/out/rebound.ifname",
        f"run rebound prepare {vf0} --undo --format json",
        f"state {vf0} 0 rebound.after",
        f"test -e {record} && echo kept > /job/out/rebound.kept || true",
        f'{IP} link set dev "$(ifname {vf0})" down',
        # 3. in use: refused
        f'{IP} address add 10.9.9.2/24 dev "$(ifname {vf1})"',
        f'{IP} link set dev "$(ifname {vf1})" up',
        f"state {vf1} 1 inuse.before",
        f"run inuse prepare {vf1} --mac {MACS[1]} --format json",
        f"state {vf1} 1 inuse.after",
        # 3b. only an IPv6 link-local address: not in use
        f'{IP} address flush dev "$(ifname {vf1})"',
        f'{IP} link set dev "$(ifname {vf1})" down',
        # no router advertisements: QEMU's user network would give it a site-local (fec0::/64) address
        f'echo 0 > "/proc/sys/net/ipv6/conf/$(ifname {vf1})/accept_ra"',
        f'echo 0 > "/proc/sys/net/ipv6/conf/$(ifname {vf1})/autoconf"',
        f'{IP} link set dev "$(ifname {vf1})" up',
        "sleep 3",
        f'{IP} address show dev "$(ifname {vf1})" > /job/out/ll.addr',
        f"ifname {vf1} > /job/out/ll.ifname",
        f"run ll prepare {vf1} --mac {MACS[1]} --dry-run --format json",
        f'{IP} link set dev "$(ifname {vf1})" down',
        f"run ll.down prepare {vf1} --mac {MACS[1]} --dry-run --format json",
        # 3c. a VLAN on top of it
        "modprobe 8021q",
        f'{IP} link add link "$(ifname {vf1})" name vf1v5 type vlan id 5',
        f"run upper prepare {vf1} --mac {MACS[1]} --format json",
        f"{IP} link delete vf1v5",
        # 3m. a macvlan on it moved to another network namespace, VF 1 up: refused, it is up
        "modprobe macvlan",
        f'{IP} link set dev "$(ifname {vf1})" up',
        f'{IP} link add link "$(ifname {vf1})" name mv0 type macvlan mode bridge',
        "unshare -n sleep 600 &",
        "mvns=$!",
        "sleep 1",
        f'{IP} link set dev mv0 netns "$mvns"',
        f'nsenter -t "$mvns" -n {IP} address add 10.7.7.2/24 dev mv0',
        f'nsenter -t "$mvns" -n {IP} link set dev mv0 up',
        f'nsenter -t "$mvns" -n {IP} -d link show dev mv0 > /job/out/mvns.links',
        f'ls "/sys/class/net/$(ifname {vf1})" > /job/out/mvns.ls',
        f"state {vf1} 1 mvns.before",
        f"run mvns prepare {vf1} --mac {MACS[1]} --format json",
        f"state {vf1} 1 mvns.after",
        # 3n. VF 1 set down: the macvlan stays up there (LOWERLAYERDOWN), its MAC in VF 1's unicast filter
        f'{IP} link set dev "$(ifname {vf1})" down',
        "sleep 1",
        f'{BRIDGE} -json fdb show dev "$(ifname {vf1})" > /job/out/mvdown.fdb',
        f'nsenter -t "$mvns" -n {IP} -json link show dev mv0 > /job/out/mvdown.links',
        f"state {vf1} 1 mvdown.before",
        f"run mvdown prepare {vf1} --mac {MACS[1]} --format json",
        f"state {vf1} 1 mvdown.after",
        f'nsenter -t "$mvns" -n {IP} -json link show dev mv0 > /job/out/mvdown.links.after',
        'kill "$mvns"; wait "$mvns" || true',
        "sleep 1",
        f'{BRIDGE} -json fdb show dev "$(ifname {vf1})" > /job/out/plain.fdb',
        # 3d. its interface in another network namespace
        "unshare -n sleep 600 &",
        "netns=$!",
        "sleep 1",
        f'{IP} link set dev "$(ifname {vf1})" netns "$netns"',
        f"ls /sys/bus/pci/devices/{vf1}/net > /job/out/netns.ls",
        f"state {vf1} 1 netns.before",
        f"run netns prepare {vf1} --mac {MACS[1]} --format json",
        f"state {vf1} 1 netns.after",
        'kill "$netns"; wait "$netns" || true',
        # 4. prepare vs its --dry-run script
        f"run real prepare {vf2} --mac {MACS[2]} --format json",
        f"state {vf2} 2 real.after",
        f"{CLI} prepare {vf3} --mac {MACS[3]} --dry-run > /job/out/script.sh",
        'rc=0; sh -e /job/out/script.sh > /job/out/script.log 2>&1 || rc=$?; echo "script $rc" >> /job/out/exit-codes',
        f"state {vf3} 3 script.after",
        f"run real.check check {vf2} --mac {MACS[2]} --format json",
        f"run script.check check {vf3} --mac {MACS[3]} --format json",
        # 4d. a process holds only a VFIO device file of VF 2
        f'grp2=$(basename "$(readlink /sys/bus/pci/devices/{vf2}/iommu_group)")',
        f'{PYTHON} /job/holder.py {vf2} "$grp2" > /job/out/holder.log 2>&1 &',
        "devholder=$!",
        "for _ in $(seq 100); do [ -e /job/out/holder.ready ] && break; sleep 0.2; done",
        'echo "$devholder" > /job/out/devheld.pid',
        'ls -l "/proc/$devholder/fd" > /job/out/devheld.fds',
        f"cat /sys/bus/pci/devices/{vf2}/enable > /job/out/devheld.enable",
        f"run devheld prepare {vf2} --mac {OTHER_MAC} --format json",
        f"run devheld.undo prepare {vf2} --undo --format json",
        f"run devheld.other prepare {vf3} --mac {OTHER_MAC} --dry-run --format json",
        f"state {vf2} 2 devheld.after",
        'kill "$devholder"; wait "$devholder" || true',
        f"cat /sys/bus/pci/devices/{vf2}/enable > /job/out/devheld.enable.after",
        f"run devheld.free prepare {vf2} --mac {OTHER_MAC} --dry-run --format json",
        # 4b. --register fails after the (no-op) prepare: one JSON document says both
        ": > /job/out/reg.file",
        "rc=0",
        f"{CLI} prepare {vf2} --mac {MACS[2]} --register web --registry /job/out/reg.file --format json"
        ' > /job/out/reg.out 2>/job/out/reg.err || rc=$?; echo "reg.raw $rc" >> /job/out/exit-codes',
        # 5. the VFs destroyed: --undo of a recorded one says it is gone and keeps the record
        f"echo 0 > {dev}/sriov_numvfs",
        "sleep 1",
        f"run gone prepare {vf2} --undo --format json",
        f"ls {STATE_DIR} > /job/out/gone.records 2>&1 || true",
        "dmesg | grep -i -e igb -e vfio > /job/out/dmesg.log || true",
    ]


@dataclass(frozen=True)
class PrepareRun:
    """What the guest did: JSON outputs by name, exit codes, VF states, other files."""

    outputs: dict[str, Any]
    exit_codes: dict[str, int]
    states: dict[str, dict[str, str]]
    out: Path
    trace: str


def run_prepare_lab(env: LabEnv, work: Path) -> PrepareRun:
    """Boot the guest, run every scenario, collect the results."""
    run = work / "prepare-lab"
    shutil.rmtree(run, ignore_errors=True)
    (run / "job").mkdir(parents=True)
    (run / "job" / "job.sh").write_text(PRELUDE + HELPERS + "\n".join(job_lines()) + "\n")
    (run / "job" / "holder.py").write_text(HOLDER)
    out, trace = run_job(env, replace(TOPOLOGIES["vtd-acpi"], name="prepare", job=()), run, "prepare lab", JOB_TIMEOUT)
    codes, outputs = job_results(out)
    states = {
        path.name.removesuffix(".state"): dict(line.split("=", 1) for line in path.read_text().splitlines())
        for path in out.glob("*.state")
    }
    return PrepareRun(outputs, codes, states, out, trace)
