"""Thin adapters from Temporal activities to the docbatch domain."""
