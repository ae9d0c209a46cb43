"""``python -m docbatch``: the docbatch command line."""

from docbatch.cli import app

app()
