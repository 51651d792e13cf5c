"""`capture`: a snapshot of what the commands read of some devices, for bug reports and offline checks."""
