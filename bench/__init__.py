"""Benchmarks of docbatch (issue 6): each figure is a ratio or a rate against a baseline
measured in the same run, written to ``bench/RESULTS.md``. ``bench/run_all.py`` runs them
all; each script has a ``--smoke`` mode (tiny N) that ``tests/test_bench_smoke.py`` runs.
"""
