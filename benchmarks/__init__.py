"""The performance suite: ``python -m benchmarks [--quick]``."""
