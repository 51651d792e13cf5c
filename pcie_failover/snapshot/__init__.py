"""Snapshots of the part of sysfs the checks read, for bug reports and offline checks."""
