"""`rules`: the rule ledger (claim, upstream source, proving tests of every host and guest rule)."""
