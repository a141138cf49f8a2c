"""training commands: `callqa train` reproduces the classifier head from the shared data and the corpus."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path

import typer

from qa.commands import app

_SCRIPT = Path(__file__).resolve().parents[2] / "models" / "train_classifier.py"


def _load_trainer():  # type: ignore[no-untyped-def]
    """The training script lives beside the corpus in the repository's `models/`, not in the package."""
    if not _SCRIPT.is_file():
        raise typer.BadParameter(f"training script not found at {_SCRIPT}: run `callqa train` from a source checkout")
    spec = importlib.util.spec_from_file_location("callqa_train_classifier", _SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


@app.command()
def train(
    output: Path = typer.Option(None, "--output", help="where to write head.npz + metadata.json [default: models/classifier]"),
    seed: int = typer.Option(13, "--seed", help="random seed (data sampling, solver)"),
    shared: Path = typer.Option(None, "--shared", help="public corpora folder [default: ../shared/data]"),
    corpus: Path = typer.Option(None, "--corpus", help="collection-call corpus JSONL [default: models/data/collection_corpus.jsonl]"),
) -> None:
    """Train the threat/harassment/privacy/stress head on the frozen multilingual-e5-small encoder (CPU, fixed seed)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    trainer = _load_trainer()
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
