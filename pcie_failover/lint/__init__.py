"""`lint`: a VM's failover configuration (QEMU command line or libvirt domain XML), checked guest-side.

Parsers take text and return a `VmConfig`; the rules are pure functions of a `LintInput`.
"""
