"""Registered failover pairs, re-audited when the host changes (udev, netlink, timer)."""

DEFAULT_REGISTRY = "/etc/pcie-failover/pairs.d"  # here, so the CLI names it without importing the registry code
