"""Detection commands: classify (JSON Lines of utterances in, labels/scores/findings out) and eval."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from qa.cli import app

console = Console()
err = Console(stderr=True)

SPEAKERS = ("agent", "customer")


class InputError(ValueError):
    """A bad input line; the message names the line number."""


def _check_item(obj: Any, line_no: int, need_labels: bool) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise InputError(f"line {line_no}: expected a JSON object, got {type(obj).__name__}")
    if not isinstance(obj.get("id"), (str, int)) or isinstance(obj.get("id"), bool):
        raise InputError(f"line {line_no}: 'id' must be a string")
    if not isinstance(obj.get("text"), str):
        raise InputError(f"line {line_no}: 'text' must be a string")
    if obj.get("speaker") not in SPEAKERS:
        raise InputError(f"line {line_no}: 'speaker' must be \"agent\" or \"customer\", got {obj.get('speaker')!r}")
    if obj.get("lang") is not None and not isinstance(obj.get("lang"), str):
        raise InputError(f"line {line_no}: 'lang' must be \"zh\" or \"en\" when given")
    if need_labels:
        labels = obj.get("labels")
        from qa.records import LABELS

        if not isinstance(labels, list) or any(lab not in LABELS for lab in labels):
            raise InputError(f"line {line_no}: 'labels' must be a list drawn from {list(LABELS)}")
    return obj


def read_items(lines: Any, need_labels: bool = False) -> list[dict[str, Any]]:
    """Parse and check JSON Lines (blank lines skipped); raise InputError naming the first bad line."""
    items: list[dict[str, Any]] = []
    for line_no, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {line_no}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        items.append(_check_item(obj, line_no, need_labels))
    return items


def _read(path: Path | None, need_labels: bool) -> list[dict[str, Any]]:
    try:
        if path is None:
            return read_items(sys.stdin, need_labels)
        with path.open(encoding="utf-8") as fh:
            return read_items(fh, need_labels)
    except InputError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    except UnicodeDecodeError as exc:
        err.print(f"[red]input is not UTF-8 text: {exc.reason} at byte {exc.start}[/red]", highlight=False)
        raise typer.Exit(2) from None
    except OSError as exc:
        err.print(f"[red]cannot read {path}: {exc.strerror or exc}[/red]", highlight=False)
        raise typer.Exit(2) from None


def _classify(items: list[dict[str, Any]], rules_only: bool) -> list[dict[str, Any]]:
    import logging

    from qa.detect import classify_items
    from qa.detect.engine import get_classifier

    logging.getLogger("transformers").setLevel(logging.ERROR)
    classifier = None
    if not rules_only:
        try:
            classifier = get_classifier()
        except Exception as exc:  # noqa: BLE001 - missing model files or packages: say what and how to fix
            err.print(f"[red]cannot load the classifier: {exc}[/red]\n"
                      "train it with `callqa train`, or use --rules-only", highlight=False)
            raise typer.Exit(1) from None
    return classify_items(items, classifier=classifier, use_model=not rules_only)


RulesOnly = Annotated[bool, typer.Option("--rules-only", help="Rules alone, without the learned classifier.")]


@app.command()
def classify(
    input: Annotated[Optional[Path], typer.Option("--input", "-i", help="JSON Lines file (default: stdin). "
                     'Each line: {"id", "text", "speaker": "agent"|"customer", "lang" (optional)}.')] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write JSON Lines here (default: stdout).")] = None,
    rules_only: RulesOnly = False,
) -> None:
    """Label utterances: one JSON line per input line, same order, with labels, per-label scores and findings."""
    items = _read(input, need_labels=False)
    results = _classify(items, rules_only)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            err.print(f"[red]cannot write {output}: {exc.strerror or exc}[/red]", highlight=False)
            raise typer.Exit(2) from None


@app.command("eval")
def eval_(
    input: Annotated[Path, typer.Option("--input", "-i", help="JSON Lines with a 'labels' list per line.")],
    split: Annotated[Optional[str], typer.Option(
        "--split", help="Only the lines whose 'split' field is this (e.g. test, for the bundled corpus).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    rules_only: RulesOnly = False,
) -> None:
    """Precision, recall and F1 per label, macro-F1, and the share of clean lines labelled, of the detectors (what
    `callqa classify` labels) on labelled utterances."""
    from qa.detect.metrics import label_metrics
    from qa.records import LABELS

    items = _read(input, need_labels=True)
    if split is not None:
        items = [it for it in items if it.get("split") == split]
    if not items:
        err.print("[red]no labelled lines in the input[/red]" if split is None
                  else f"[red]no labelled lines with split {split!r} in the input[/red]")
        raise typer.Exit(2)
    results = _classify(items, rules_only)
    report = label_metrics([it["labels"] for it in items], [r["labels"] for r in results])
    report["mode"] = "rules" if rules_only else "rules+model"
    report["split"] = split
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"detection on {report['n']} utterances ({report['mode']}"
                        + (f", split {split})" if split else ")"))
    for col in ("label", "precision", "recall", "F1", "support", "predicted"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for lab in LABELS:
        m = report["labels"][lab]
        table.add_row(lab, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"]),
                      str(m["predicted"]))
    table.add_section()
    table.add_row("macro", "", "", f"{report['macro_f1']:.3f}", "", "")
    console.print(table)
    clean = report["clean_lines"]
    console.print(f"clean lines labelled: {clean['labelled']} of {clean['n']} ({100 * clean['share']:.1f}%)")


@app.command("eval-calls")
def eval_calls(
    split: Annotated[Optional[str], typer.Option("--split", help="test | dev (default: both).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    reference_transcripts: Annotated[bool, typer.Option(
        "--reference-transcripts", help="Use the written transcripts of the sample calls instead of their audio.")] = False,
    only: Annotated[Optional[list[str]], typer.Option("--call", help="Only these call ids (repeatable).")] = None,
) -> None:
    """Call-level precision and recall, and the share of clean calls that reach the review queue, on the labelled
    evaluation calls (qa/data/eval_calls/) through the real pipeline."""
    import logging

    from qa.cli.evalcalls import CALL_LABELS, evaluate

    logging.getLogger("transformers").setLevel(logging.ERROR)
    if split not in (None, "dev", "test"):
        err.print(f"[red]--split must be dev or test, got {split!r}[/red]")
        raise typer.Exit(2)
    report = evaluate(split, use_audio=not reference_transcripts, ids=only or None)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{report['calls']} calls ({report['split']}, {report['mode']})")
    for col in ("call label", "support", "flagged P", "flagged R", "any-finding P", "any-finding R"):
        table.add_column(col, justify="left" if col == "call label" else "right")
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    for lab in CALL_LABELS:
        m, a = report["labels"][lab]["flagged"], report["labels"][lab]["any_finding"]
        table.add_row(lab, str(m["support"]), fmt(m["precision"]), fmt(m["recall"]), fmt(a["precision"]),
                      fmt(a["recall"]))
    console.print(table)
    console.print(f"clean calls flagged (enter the review queue): {report['clean_flagged']}/{report['clean_calls']}"
                  f" = {fmt(report['clean_flagged_share'])}   ·   calls with an agent threat, harassment, disclosure"
                  f" or self-harm flagged: {report['must_flag_flagged']}/{report['must_flag_calls']}"
                  f" = {fmt(report['must_flag_flagged_share'])}")
    for r in report["per_call"]:
        wrong = (not r["labels"] and r["flagged"]) or (set(r["labels"]) & {"agent_threat", "agent_harassment",
                                                                          "disclosure", "self_harm"} and not r["flagged"])
        if wrong:
            console.print(f"  [yellow]{r['id']}[/yellow] labels {r['labels'] or 'clean'} flagged={r['flagged']} "
                          f"{'; '.join(r['reasons'])}", highlight=False)
