"""Dedup re-run: the same directory again with the same config, every item already done.

    .venv/bin/python bench/dedup.py [--items 2000] [--smoke]

On the persistent, tuned dev server with a benchmark worker process (no-op engine): a
first job processes N small generated files; a second job over the same directory with
the same config must skip them all (``already_processed``) without starting a single
child workflow. Figure: the re-run's items/s (target ≥ 1,000), beside the first run's
rate (the baseline) and the rate including re-registering the folder (what
``starter.py run`` does before it creates the job).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if not __package__:  # run as a script: import the repository, not bench/, first
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import harness
from docbatch.store import Store

TARGET_RATE = 1000.0
SMOKE_ITEMS = 10


async def main(arguments: argparse.Namespace) -> int:
    """Run the job twice over the same directory and report the re-run."""
    items = SMOKE_ITEMS if arguments.smoke else arguments.items
    with harness.workdir(arguments) as tmp:
        settings = harness.bench_settings(Path(tmp) / "data", **harness.smoke_overrides(arguments))
        folder = Path(tmp) / "files"
        harness.write_small_files(folder, items)
        async with harness.dev_server(settings) as server:
            client = server.client
            store = await Store.open(settings.effective_database_url)
            try:
                directory_id = await harness.register(store, folder)
                async with harness.worker_process(settings, "noop"):
                    first = await harness.run_job(store, client, settings, directory_id)
                    print(f"first run: {first.counts()}; {first.rate:.1f} items/s")
                    started = time.perf_counter()
                    again = await harness.register(store, folder)
                    registering = time.perf_counter() - started
                    rerun = await harness.run_job(store, client, settings, again)
                    print(f"re-run:    {rerun.counts()}; {rerun.rate:.1f} items/s")
                    chain = await harness.run_chain(client, rerun.job.workflow_id)
            finally:
                await store.close()

    children = harness.children_started(chain)
    report = harness.Report(
        key="dedup",
        title="3. Dedup re-run (same directory, same config)",
        parameters={"items": items, "engine": "noop (first run)"},
    )
    report.add(harness.at_least("re-run", rerun.rate, TARGET_RATE, "items/s"))
    report.add(harness.Figure("first run (baseline)", first.rate, "items/s"))
    report.add(harness.Figure("re-run ÷ first run", rerun.rate / first.rate))
    report.add(
        harness.Figure(
            "re-run including re-registering the folder",
            items / (rerun.wall + registering),
            "items/s",
        )
    )
    report.add(harness.Figure("child workflows started by the re-run", children))
    report.add(harness.Figure("parent runs of the re-run", len(chain)))
    report.check(f"first run completed all {items}", harness.job_completed(first, completed=items))
    report.check(
        f"re-run skipped all {items}", harness.job_completed(rerun, completed=0, skipped=items)
    )
    report.check("re-run started no child workflow", children == 0)
    report.check("same directory reused", again == directory_id)
    return harness.finish(report, arguments)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    harness.common_arguments(parser)
    sys.exit(harness.run_main(main(parser.parse_args())))
