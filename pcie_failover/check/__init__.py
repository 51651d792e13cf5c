"""`check`: can one device be the primary of a virtio-net failover pair (the host rules over what is read)."""
