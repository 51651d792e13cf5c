"""Real-kernel lab: boot QEMU guests with SR-IOV NICs and capture their sysfs.

`lab.guest` is the shared harness (QEMU process, serial log, QMP, teardown);
`lab.capture` turns a `lab.topologies` entry into `fixtures_sysfs/<name>/`.
"""
