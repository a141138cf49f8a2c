"""`python -m qa.cli`: the same as the `callqa` command."""

from qa.cli import app

app()
