"""Start and follow docbatch jobs: ``python starter.py run PATH`` (see ``--help``)."""

from docbatch.cli import app

if __name__ == "__main__":
    app()
