"""Processing engines: pure functions from a document on disk to an output.

Engines know nothing of Temporal or the store. They run in a process pool owned by the
worker, so every entry point takes and returns picklable values.
"""

from docbatch.engines.base import Engine, EngineRequest, EngineResult

__all__ = ["Engine", "EngineRequest", "EngineResult"]
