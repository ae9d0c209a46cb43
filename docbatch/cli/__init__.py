"""The command line: ``starter.py`` (run / status / items / results / export / cancel /
pause / resume / list) and
``docbatch dev`` / ``docbatch worker``.

Human output by default (rich); ``--json`` prints the reference API's JSON shapes.

The commands live in a module per family; ``app`` registers them here, in the order
``--help`` lists them.
"""

from __future__ import annotations

import typer

from docbatch.cli.jobs import cancel, items, list_jobs, pause, resume, status
from docbatch.cli.keys import keys
from docbatch.cli.outputs import export_outputs, results
from docbatch.cli.run import retry, run
from docbatch.cli.servers import api, dev, worker

app = typer.Typer(
    help="docbatch: durable batch document processing on Temporal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(run)
app.command()(retry)
app.command()(status)
app.command()(items)
app.command()(results)
app.command("export")(export_outputs)
app.command()(cancel)
app.command()(pause)
app.command()(resume)
app.command("list")(list_jobs)
app.command()(dev)
app.command()(worker)
app.add_typer(keys, name="keys")
app.command()(api)

__all__ = ["app"]
