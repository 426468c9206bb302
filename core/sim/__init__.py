"""Offline simulations with an oracle: the benchmark harness and the app's own schedule on a clock."""
