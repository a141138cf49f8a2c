"""Commands that take recordings in: ingest, calls, transcript, transcribe, detect, set-agent, models, eval-asr."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from qa.cli import app
from qa.cli.options import DbOption, open_db

console = Console()
err = Console(stderr=True, soft_wrap=True)  # messages stay on one line (greppable)



@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Recordings or folders of recordings.")],
    manifest: Annotated[Optional[Path], typer.Option(help="CSV: file,agent_id,account_id,callee,started_at,direction,jurisdiction,agent_channel")] = None,
    db: DbOption = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each loads the models once).")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Re-process recordings already ingested.")] = False,
    cluster: Annotated[Optional[str], typer.Option(help="Run on Ray: 'auto' (running or new local cluster) or ray://HOST:PORT.")] = None,
) -> None:
    """Transcribe, analyse and store recordings. Re-running skips what is done and resumes what was cut off."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from qa.audio import find_recordings
    from qa.config import get_settings
    from qa.ingest.batch import build_jobs, run_batch
    from qa.ingest.manifest import ManifestError

    settings = get_settings()
    url = open_db(db)
    files = find_recordings(paths)
    if not files:
        err.print("[red]no recordings found in the given paths[/red]")
        raise typer.Exit(2)
    try:
        jobs = build_jobs(files, manifest, settings)
    except ManifestError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None

    with Progress(TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=err, transient=False) as progress:
        task = progress.add_task("", total=len(jobs))

        def advance(result) -> None:  # type: ignore[no-untyped-def]
            progress.update(task, advance=1, description=f"{Path(result.path).name}: {result.status}")

        if cluster:
            from qa.ingest.cluster import run_on_ray

            results = run_on_ray(jobs, url, cluster, force, settings, on_result=advance)
        else:
            results = run_batch(jobs, url, force=force, workers=workers, settings=settings, on_result=advance)

    _print_summary(results)
    unrecorded = [r for r in results if not r.recorded]
    if unrecorded:
        err.print(f"[red]{len(unrecorded)} outcome(s) could not be stored: {unrecorded[0].reason}. "
                  "Nothing already stored was changed; fix the database and re-run to resume.[/red]")
        raise typer.Exit(1)


def _print_summary(results) -> None:  # type: ignore[no-untyped-def]
    table = Table(title="ingest summary")
    for col in ("file", "status", "call", "reason"):
        table.add_column(col)
    for r in sorted(results, key=lambda r: r.path):
        style = {"done": "green", "skipped": "yellow", "failed": "red"}[r.status]
        table.add_row(Path(r.path).name, f"[{style}]{r.status}[/{style}]", str(r.call_id or ""), r.reason or "")
    console.print(table)
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}
    audio = sum(r.audio_seconds for r in results)
    busy = sum(r.seconds for r in results if r.status == "done")
    speed = f", {audio / busy:.1f}x real time" if busy else ""
    console.print(f"done {counts['done']} · skipped {counts['skipped']} · failed {counts['failed']}"
                  f" ({audio / 60:.1f} min of audio{speed})")


@app.command()
def watch(
    folder: Annotated[Path, typer.Argument(help="Folder that recordings arrive in.", exists=True, file_okay=False)],
    manifest: Annotated[Optional[Path], typer.Option(help="Manifest CSV, re-read on every pass.")] = None,
    db: DbOption = None,
    workers: Annotated[int, typer.Option(min=1)] = 1,
    interval: Annotated[float, typer.Option(help="Seconds between scans.")] = 5.0,
    settle: Annotated[float, typer.Option(help="A file is complete once unchanged for this many seconds.")] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="Exit when nothing is left to do.")] = False,
) -> None:
    """Ingest recordings as they arrive (complete files only); survives restarts; reports the backlog."""
    from qa.config import get_settings
    from qa.ingest.manifest import ManifestError
    from qa.ingest.watch import WatchStatus
    from qa.ingest.watch import watch as run_watch

    url = open_db(db)
    last: list[tuple[int, int]] = []

    def status(st: WatchStatus) -> None:
        if not last or last[-1] != (st.backlog, st.settling):
            err.print(f"watch: {st.processed} handled · backlog {st.backlog} · {st.settling} still being written")
            last.append((st.backlog, st.settling))

    def result(r) -> None:  # type: ignore[no-untyped-def]
        console.print(f"{Path(r.path).name}: {r.status}" + (f" ({r.reason})" if r.reason else ""))

    try:
        run_watch(folder, url, get_settings(), manifest, interval, settle, workers, once, result, status)
    except ManifestError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("watch stopped")


@app.command()
def calls(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    status: Annotated[Optional[str], typer.Option(help="Only calls with this status.")] = None,
) -> None:
    """List stored calls with their status."""
    from qa.store import calls as store
    from qa.store.db import session_scope

    with session_scope(open_db(db)) as s:
        rows = [
            {"call_id": c.id, "file": Path(c.path).name, "status": c.status, "error": c.error,
             "agent_id": c.agent_id, "account_id": c.account_id,
             "started_at": c.started_at.isoformat() if c.started_at else None,
             "duration": round(c.duration, 2) if c.duration else None, "language": c.language,
             "risk_score": round(c.risk_score, 1) if c.risk_score is not None else None,
             "flagged": bool(c.flagged), "findings": len(c.findings)}
            for c in store.list_calls(s, status)
        ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{len(rows)} calls")
    cols = ("call_id", "file", "status", "agent_id", "language", "duration", "risk_score", "flagged", "findings",
            "error")
    for col in cols:
        table.add_column(col)
    for r in rows:
        table.add_row(*[str(r[c]) if r[c] is not None else "" for c in cols])
    console.print(table)


def _emit_transcript(data: dict, as_json: bool) -> None:  # type: ignore[type-arg]
    """The transcript contract as one JSON line, or a readable listing."""
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    console.print(f"[bold]call {data['call_id']}[/bold] · {data['language']} · {data['duration']:.1f} s")
    for seg in data["segments"]:
        colour = "cyan" if seg["speaker"] == "agent" else "magenta"
        console.print(f"[dim]{seg['start']:7.2f}-{seg['end']:7.2f}[/dim] [{colour}]{seg['speaker']:>8}[/{colour}]  {seg['text']}")


@app.command()
def transcript(
    call_id: Annotated[int, typer.Argument(help="Call id (see `callqa calls`).")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Show the merged, speaker-attributed transcript of a stored call."""
    from qa.store import calls as store
    from qa.store.db import session_scope

    with session_scope(open_db(db)) as s:
        tr = store.load_transcript(s, call_id)
    if tr is None:
        err.print(f"[red]no call with id {call_id}[/red]")
        raise typer.Exit(1)
    _emit_transcript(tr.to_json(), as_json)


@app.command()
def transcribe(
    file: Annotated[Path, typer.Argument(help="One recording.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    agent_channel: Annotated[Optional[int], typer.Option(help="Stereo: channel of the agent (0 left, 1 right).")] = None,
) -> None:
    """Transcribe one file without storing it."""
    from qa.asr.engine import get_transcriber
    from qa.asr.transcribe import transcribe_call
    from qa.audio import AudioError, decode
    from qa.records import CallMeta

    try:
        audio = decode(file)
    except AudioError as exc:
        err.print(f"[red]{file}: {exc}[/red]")
        raise typer.Exit(1) from None
    from qa.speakers.attribution import attribution

    tr = transcribe_call(audio, CallMeta(agent_channel=agent_channel), get_transcriber())
    sure = attribution(tr)
    data = tr.to_json()
    data["speaker_attribution"] = {"confidence": sure.confidence, "uncertain": sure.uncertain, "reason": sure.reason}
    _emit_transcript(data, as_json)
    if not as_json and sure.uncertain:
        console.print(f"[yellow]speaker attribution uncertain · 说话人归属不确定 ({sure.confidence:.2f}): "
                      f"{sure.reason}[/yellow]")


@app.command()
def detect(
    call_id: Annotated[Optional[int], typer.Argument(help="Call id; or use --all.")] = None,
    all_calls: Annotated[bool, typer.Option("--all", help="Every stored call.")] = False,
    db: DbOption = None,
) -> None:
    """Re-run detection, compliance and scoring on stored transcripts (no re-transcription); reviewers'
    verdicts and notes are kept (findings that no longer fire but were reviewed are kept as superseded)."""
    from qa.config import get_settings
    from qa.ingest.analysis import reanalyze
    from qa.store import calls as store
    from qa.store.db import session_scope

    if (call_id is None) == (not all_calls):
        err.print("[red]give a CALL_ID or --all[/red]")
        raise typer.Exit(2)
    url = open_db(db)
    with session_scope(url) as s:
        ids = store.done_call_ids(s) if all_calls else [call_id]
    settings = get_settings()
    for cid in ids:
        with session_scope(url) as s:
            analysis = reanalyze(s, cid, settings)
        if analysis is None:
            err.print(f"[red]no call with id {cid}[/red]")
            raise typer.Exit(1)
        console.print(f"call {cid}: {len(analysis.findings)} findings")


@app.command("set-agent")
def set_agent(
    call_id: Annotated[int, typer.Argument(help="Call id.")],
    speaker: Annotated[str, typer.Argument(help="The speaker who is the agent, e.g. 'cluster 1' or 'channel 0'.")],
    db: DbOption = None,
) -> None:
    """Override which speaker is the agent (recorded as a reviewer override), then re-run detection. With agent
    voiceprints on, the named voice becomes this call's contribution to the agent's voiceprint."""
    from qa.config import get_settings
    from qa.ingest.analysis import enrol_reviewed_agent, reanalyze
    from qa.store import calls as store
    from qa.store.db import session_scope

    url = open_db(db)
    with session_scope(url) as s:
        try:
            store.swap_roles(s, call_id, speaker)
        except KeyError:
            err.print(f"[red]no call with id {call_id}[/red]")
            raise typer.Exit(1) from None
        except ValueError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        s.flush()
        enrolled = enrol_reviewed_agent(s, call_id, get_settings())
        reanalyze(s, call_id, get_settings())
    console.print(f"call {call_id}: {speaker} is now the agent; findings recomputed"
                  + ("; their voice is kept for the agent's voiceprint · 该声音已记入坐席声纹" if enrolled else ""))


@app.command()
def models(
    prune: Annotated[bool, typer.Option("--prune", help="Also delete the classifier's ONNX encoder exports that "
                     "the head in use does not load (left by earlier heads; ~470 MB each).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Build (if needed) and describe the offline models in use, with the folders they load from."""
    from qa.asr.model import ModelMissingError, resolve_asr_model
    from qa.audio import file_sha256
    from qa.detect.classifier.encoder import EncoderUnavailable, describe_encoder
    from qa.detect.classifier.model import ClassifierUnavailable, describe_classifier
    from qa.detect.classifier.onnx_encoder import prune_exports
    from qa.speakers.voice_encoder import VoiceEncoderUnavailable, describe_voice_encoder

    try:
        head = describe_classifier()
        data = {"asr": resolve_asr_model().to_json(), "encoder": describe_encoder(),
                "classifier": {"name": f"{head['name']}@{head['version']}", "path": head["path"],
                               "sha256": file_sha256(Path(head["path"]) / "head.npz"),
                               "adapter_sha256": head["adapter_sha256"], "runtime": head["runtime"],
                               "thresholds": head["thresholds"]},
                "speakers": describe_voice_encoder()}
    except (ModelMissingError, EncoderUnavailable, ClassifierUnavailable, VoiceEncoderUnavailable) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    pruned = prune_exports(Path(head["runtime_encoder"])) if prune else []
    if as_json:
        extra = {"pruned": [{"path": str(p), "bytes": n} for p, n in pruned]} if prune else {}
        typer.echo(json.dumps({**data, **extra}, ensure_ascii=False, indent=2))
        return
    table = Table(title="models")
    for col in ("role", "name", "path", "sha256"):
        table.add_column(col)
    for role, spec in data.items():
        table.add_row(role, spec["name"], spec["path"], spec["sha256"][:16] + "…")
    console.print(table)
    if prune:
        freed = sum(n for _, n in pruned) / 1e6
        console.print(f"removed {len(pruned)} unused ONNX export(s), {freed:.0f} MB · 已删除 {len(pruned)} 个未使用的 "
                      f"ONNX 导出，释放 {freed:.0f} MB" + "".join(f"\n  {p}" for p, _ in pruned))


@app.command("eval-asr")
def eval_asr(
    folders: Annotated[list[Path], typer.Argument(
        help="Folders of clips with references: a manifest.tsv (file, lang, reference), or a Kaldi 'text' file "
             "(id text) / <clip>.txt beside each clip. An RTTM beside a recording adds speech coverage.",
        exists=True, file_okay=False)],
    compare_bare: Annotated[bool, typer.Option("--compare-bare", help="Also run bare faster-whisper (same weights, "
                            "beam 5, vad_filter, no prompt) on the same clips in this run.")] = False,
    long_form: Annotated[float, typer.Option(help="Also build a long recording of this many minutes per language "
                         "from the clips (pauses, telephone band) and score it; 0 = none.", min=0, max=10)] = 0.0,
    only_long_form: Annotated[bool, typer.Option("--only-long-form", help="Score only the long recordings built "
                              "with --long-form (the clips are their material).")] = False,
    long_form_seeds: Annotated[int, typer.Option(help="Long recordings per language, each from its own shuffle of "
                               "the clips and pauses (more material, less noise).", min=1)] = 1,
    limit: Annotated[int, typer.Option(help="Score at most this many clips per folder (0 = all).", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """CER (Chinese) / WER (English), inserted domain words and speech coverage of callqa's transcription, next to
    the bare model (CER 字错误率 / WER 词错误率, 插入的领域词, 语音覆盖率)."""
    from qa.asr.engine import get_transcriber
    from qa.asr.evaluate import evaluate, load_clips, long_form_clip

    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    clips = []
    for folder in folders:
        found = load_clips(folder)
        clips += found[:limit] if limit else found
    if not clips:
        err.print(f"[red]no clips with references found in {', '.join(map(str, folders))} · 未找到带参考文本的音频[/red]")
        raise typer.Exit(2)
    if long_form:
        built = [long_form_clip(clips, lang, long_form, seed) for seed in range(long_form_seeds)
                 for lang in ("zh", "en") if any(c.language == lang and c.reference and not c.turns for c in clips)]
        clips = built if only_long_form else clips + built

    def progress(row: dict) -> None:  # type: ignore[type-arg]
        bare = f" · bare {row['bare']['error_rate']}" if "bare" in row else ""
        err.print(f"{row['set']}/{row['clip']}: callqa {row['callqa']['error_rate']}{bare}")

    report = evaluate(clips, get_transcriber(), compare_bare, None if as_json else progress)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    systems = ["callqa"] + (["bare"] if compare_bare else [])
    table = Table(title=f"ASR accuracy · 识别准确率 · {report['model']}")
    for col in ("set", "clips", "system", "CER zh", "WER en", "domain words inserted", "coverage", "language right",
                "seconds"):
        table.add_column(col)
    for name, fig in [*report["sets"].items(), ("total", report["total"])]:
        for sysname in systems:
            f = fig[sysname]
            table.add_row(name, str(fig["clips"]), sysname, _fmt(f["cer_zh"]), _fmt(f["wer_en"]), str(f["inserted"]),
                          _fmt(f["coverage"]), f"{f['language_right']}/{fig['clips']}", str(f["seconds"]))
    console.print(table)
    inserted = [(r["clip"], w) for r in report["clips"] for w in r["callqa"]["inserted"]]
    if inserted:
        console.print(f"[red]callqa inserted domain words · 插入了领域词: {inserted}[/red]")


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


@app.command("eval-diarization")
def eval_diarization(
    folder: Annotated[Path, typer.Argument(help="speech_more folder: real clips to build mixes from, and the "
                                           "two-speaker recordings with RTTM turns.", exists=True, file_okay=False)],
    seeds: Annotated[int, typer.Option(help="Mixes per speaker pair and condition (the customer opens half of all mixes).",
                                       min=1)] = 2,
    with_asr: Annotated[bool, typer.Option("--with-asr", help="Also run the whole mono transcription path: agent "
                        "identification, speech coverage and attribution confidence (slower).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Diarisation error rate (DER 说话人分离错误率) on mono mixes of real voices (wideband and telephone band,
    pauses and overlaps) and on real two-speaker recordings; agent identification (坐席识别) with --with-asr, by
    content alone and with an agent voiceprint (声纹) enrolled from the agent's speech left out of the mix."""
    from qa.asr.evaluate_speakers import (
        build_mixes,
        evaluate_mix,
        real_recordings,
        summarise,
        voiceprint_trials,
    )

    asr = None
    if with_asr:
        from qa.asr.engine import get_transcriber

        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
        asr = get_transcriber()
    recordings = real_recordings(folder)
    mixes = build_mixes(folder, seeds) + recordings
    if not mixes:
        err.print(f"[red]no speakers or RTTM recordings found in {folder} · 未找到可用的语音[/red]")
        raise typer.Exit(2)
    rows = []
    for mix in mixes:
        rows.append(evaluate_mix(mix, asr))
        if not as_json:
            r = rows[-1]
            extra = "".join(f" · {k} {r[k]}" for k in ("coverage", "agent_identified", "attribution_confidence",
                                                        "agent_identified_voiceprint",
                                                        "attribution_confidence_voiceprint") if k in r)
            err.print(f"{r['mix']}: DER {r['der']:.3f}{extra}")
    report = {"mixes": rows, "summary": summarise(rows), "voiceprint_trials": voiceprint_trials(recordings)}
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2, default=float))
        return
    table = Table(title="diarisation · 说话人分离")
    for col in ("group", "n", "DER", "speech coverage", "agent identified", "with voiceprint (n)",
                "attribution confidence (with voiceprint)"):
        table.add_column(col)
    for name, fig in report["summary"].items():
        voice = f"{_fmt(fig['agent_identified_voiceprint'])} ({fig['n_voiceprint']})" if fig["n_voiceprint"] else ""
        conf = _fmt(fig["attribution_confidence"])
        if fig["attribution_confidence_voiceprint"] is not None:
            conf += f" ({_fmt(fig['attribution_confidence_voiceprint'])})"
        table.add_row(name, str(fig["n"]), _fmt(fig["der"]), _fmt(fig["coverage"]), _fmt(fig["agent_identified"]),
                      voice, conf)
    console.print(table)
    trials = report["voiceprint_trials"]
    if trials:
        right = sum(t["right"] for t in trials)
        console.print(f"voiceprint across real recordings · 跨录音声纹识别: {right}/{len(trials)} speakers found")
        for t in trials:
            console.print(f"  {t['trial']}: cosine {t['cosines']} · picked cluster {t['picked']} "
                          f"({t['confidence']}) · {'right' if t['right'] else 'wrong'}")
