"""`pair`: the pure spec of a virtio-net failover pair (standby + primary) and how it is chosen."""
