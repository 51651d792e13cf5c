"""`list`: every network PCI function (or one PF and its VFs), with its relation and readiness as a primary."""
