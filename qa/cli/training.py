"""training commands: `callqa train` reproduces the classifier head from the shared data and the corpus."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from qa.cli import app



@app.command()
def train(
    output: Path = typer.Option(None, "--output", help="where to write head.npz + metadata.json [default: the bundled head]"),
    seed: int = typer.Option(13, "--seed", help="random seed (data sampling, solver)"),
    shared: Path = typer.Option(None, "--shared", help="public corpora folder [default: ../shared/data]"),
    corpus: Path = typer.Option(None, "--corpus", help="collection-call corpus JSONL [default: the bundled corpus]"),
) -> None:
    """Train the threat/harassment/privacy/stress head on the frozen multilingual-e5-small encoder (CPU, fixed seed)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from qa.detect.classifier import train as trainer

    try:
        meta = trainer.train(
            output=output or trainer.DEFAULT_OUTPUT,
            seed=seed,
            shared=shared or trainer.DEFAULT_SHARED,
            corpus=corpus or trainer.DEFAULT_CORPUS,
        )
    except trainer.DataUnavailable as exc:
        typer.echo(f"skipped: {exc}", err=True)
        raise typer.Exit(code=0) from None
    typer.echo(json.dumps({"thresholds": meta["thresholds"], "metrics": meta["metrics"]}, indent=2))
