"""Property tests: no input, however malformed, crashes decoding or manifest parsing with anything but a clear error."""

from __future__ import annotations

import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.audio import AudioError, decode
from qa.ingest.manifest import COLUMNS, ManifestError, read_manifest

_HEADERS = [b"", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"ID3\x03\x00", b"fLaC", b"OggS\x00\x02", b"\xff\xfb\x90\x64",
            b"\x00\x00\x00\x20ftypM4A "]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.sampled_from(_HEADERS), body=st.binary(max_size=4096))
def test_decode_raises_only_audio_errors(tmp_path: Path, header: bytes, body: bytes) -> None:
    path = tmp_path / "fuzz.wav"
    path.write_bytes(header + body)
    try:
        audio = decode(path)
    except AudioError as exc:
        assert str(exc)  # always says why
    else:
        assert audio.samples.ndim == 2 and audio.info.duration >= 1.0


_cell = st.text(alphabet=string.printable + "，。张三李四", max_size=30)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_cell, min_size=8, max_size=8), max_size=6),
       header=st.permutations(list(COLUMNS)))
def test_manifest_rows_never_crash(tmp_path: Path, rows: list[list[str]], header: list[str]) -> None:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / "m.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    try:
        entries = read_manifest(path, "Asia/Shanghai")
    except ManifestError as exc:
        assert str(exc)
        return
    for entry in entries.values():
        assert entry.error is None or entry.error.startswith("manifest line")
        if entry.meta.started_at is not None:
            assert entry.meta.started_at.tzinfo is not None
