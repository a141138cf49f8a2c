"""training commands: `callqa train` reproduces the classifier head from the shared data and the corpus;
`callqa train --with-verdicts` refits it on reviewers' verdicts into a versioned site head."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from qa.cli import app
from qa.cli.options import DbOption, open_db


@app.command()
def train(
    output: Path = typer.Option(None, "--output", help="where to write head.npz + metadata.json [default: the bundled head]"),
    seed: int = typer.Option(13, "--seed", help="random seed (data sampling, solver)"),
    shared: Path = typer.Option(None, "--shared", help="public corpora folder [default: ../shared/data]"),
    corpus: Path = typer.Option(None, "--corpus", help="collection-call corpus JSONL [default: the bundled corpus]"),
    with_verdicts: bool = typer.Option(False, "--with-verdicts", help="refit the current head on reviewers' "
                                       "confirmed/dismissed findings into a versioned site head "
                                       "(<models_dir>/classifier); stored findings change only on re-analysis"),
    no_adapter: bool = typer.Option(False, "--no-adapter", help="keep the encoder frozen: no adapter of its top "
                                    "layers (faster; the 1.0 head's method)"),
    linear_head: bool = typer.Option(False, "--linear-head", help="one logistic regression per label instead of "
                                     "the hidden layer (the 1.0-1.2 heads' method)"),
    reuse_adapter: Path = typer.Option(None, "--reuse-adapter", help="fit the head on this trained adapter.npz "
                                       "(e.g. the bundled head's) instead of training one: ~5 min less, and the "
                                       "encoder export stays the same", exists=True, dir_okay=False),
    db: DbOption = None,
) -> None:
    """Train the threat/harassment/privacy/stress classifier: an adapter of multilingual-e5-small's top layers, then
    the head on its features (CPU, fixed seed)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from qa.detect.classifier import train as trainer

    if with_verdicts:
        from qa.detect.classifier.verdicts import train_with_verdicts
        from qa.store.db import session_scope
        from qa.store.reviews import verdict_lines

        with session_scope(open_db(db)) as s:
            lines = verdict_lines(s)
        if not lines:
            typer.echo("no confirmed or dismissed findings in the database: nothing to learn from "
                       "(数据库中没有已确认或已驳回的发现)", err=True)
            raise typer.Exit(code=1)
        result = train_with_verdicts(lines, corpus=corpus, seed=seed)
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        typer.echo(f"site head {result.version} written to {result.output}; past findings change only through "
                   "`callqa detect --all` (re-analysis keeps every verdict)", err=True)
        return
    try:
        meta = trainer.train(
            output=output or trainer.DEFAULT_OUTPUT,
            seed=seed,
            shared=shared or trainer.DEFAULT_SHARED,
            corpus=corpus or trainer.DEFAULT_CORPUS,
            adapt=not no_adapter,
            hidden=0 if linear_head else trainer.MLP_HIDDEN,
            reuse_adapter=reuse_adapter,
        )
    except trainer.DataUnavailable as exc:
        typer.echo(f"skipped: {exc}", err=True)
        raise typer.Exit(code=0) from None
    typer.echo(json.dumps({"thresholds": meta["thresholds"], "metrics": meta["metrics"]}, indent=2))


@app.command()
def calibrate(
    target_precision: float = typer.Option(0.9, "--target-precision", help="share of findings at or above the "
                                           "threshold that reviewers confirmed"),
    min_verdicts: int = typer.Option(5, "--min-verdicts", help="fewest verdicts a finding kind needs"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print, do not write"),
    db: DbOption = None,
) -> None:
    """Set this site's review thresholds (per finding kind) from reviewers' verdicts to a target precision;
    written to <models_dir>/review_thresholds.yaml (settings `review_thresholds` still win)."""
    import yaml
    from sqlalchemy import select

    from qa.assess.scoring import REVIEW_FILE, calibrate_thresholds, finding_kind
    from qa.config import get_settings
    from qa.store.db import session_scope
    from qa.store.models import FindingRow
    from qa.store.reviews import finding_record, latest_judgements

    with session_scope(open_db(db)) as s:
        latest = latest_judgements(s)
        judged = []
        for row in s.scalars(select(FindingRow).where(FindingRow.id.in_(latest))):
            kind = finding_kind(finding_record(row))
            if kind:
                judged.append((kind, row.score, latest[row.id]))
    result = calibrate_thresholds(judged, target_precision, min_verdicts)
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
    chosen = {k: v["threshold"] for k, v in result.items() if v["threshold"] is not None}
    if not chosen:
        typer.echo("no finding kind has enough verdicts to calibrate (没有足够的审核结论用于校准)", err=True)
        raise typer.Exit(code=1)
    if dry_run:
        return
    path = get_settings().models_dir / REVIEW_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    existing = existing or {}
    existing.setdefault("thresholds", {}).update(chosen)
    existing["calibrated"] = {"target_precision": target_precision, "verdicts": len(judged)}
    path.write_text(yaml.safe_dump(existing, allow_unicode=True, sort_keys=True), encoding="utf-8")
    typer.echo(f"wrote {path}: new calls use these thresholds; stored calls keep their flag until re-analysed",
               err=True)
