"""training commands."""

from qa.commands import app  # noqa: F401
