"""Registered failover pairs, re-audited when the host changes (udev, netlink, timer)."""
