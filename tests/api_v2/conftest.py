"""The v2 API's tests: the same real stack as ``tests/api``, with the current official
client (``llama-cloud==2.19.0``, unmodified) as ``api.client``."""

from __future__ import annotations

import llama_cloud

from tests.api.conftest import api, make_api

assert llama_cloud.__version__ == "2.19.0", "run these with the 2.19 client first on PYTHONPATH"

__all__ = ["api", "make_api"]
