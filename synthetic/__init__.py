"""Synthetic provinces: landing files that look like a province's real ones, for demos,
tests and benchmarks (real hamlet and person data is confidential)."""
