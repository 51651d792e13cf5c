"""`pair`: the spec of a virtio-net failover pair (standby + primary), how it is chosen and printed (pure), its
command and its typer module."""
