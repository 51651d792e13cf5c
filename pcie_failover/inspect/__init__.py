"""`inspect`: the failover state of a running VM, read from QEMU's monitor with queries only.

qmp.py is the edge (the `qemu.qmp` client, allowed commands only), virsh.py the same for a libvirt
domain (`virsh qemu-monitor-command`/`qemu-monitor-event`); read.py turns replies into
the live model; judge.py compares it with the VM's own configuration (lint) and gives each
pair a verdict; render.py prints reports and watch lines; cli.py is the `inspect` command (typer) and
its --watch loop. Only `inspect` imports this package.
"""
