"""The `callqa` command line: one module per area, each registering its commands on `app`.

Heavy libraries (faster-whisper, torch, transformers) are imported inside the commands, so
`callqa --help` stays instant.
"""

import typer

app = typer.Typer(
    name="callqa",
    help="On-premise call QA and agent wellbeing for debt-collection call centers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # never print transcripts or PII from local variables
)

# Registration order is the order of `callqa --help`.
from qa.cli import (  # noqa: E402,F401
    admin,
    detection,
    qa_forms,
    reporting,
    security,
    training,
    transcription,
)
