"""Whole-process benchmarks of pcie-failover against its floors and neighbours (`python -m benchmarks`)."""
