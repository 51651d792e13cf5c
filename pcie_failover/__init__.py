"""Preflight checks for QEMU virtio-net failover primaries (SR-IOV VFs on vfio-pci)."""

__version__ = "0.1.0"
