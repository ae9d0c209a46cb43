"""Fault-injection tests: real processes (Temporal dev server, workers, API), real faults."""
