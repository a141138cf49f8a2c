"""`python -m qa.cli ...`: the same commands as the `callqa` console script."""

from qa.cli import app

app(prog_name="callqa")
