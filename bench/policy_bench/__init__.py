"""Benchmark of the compensation policy engine (bulk vs scalar, what-if)."""
