"""docbatch: durable batch document processing on Temporal."""

__version__ = "0.1.0"
