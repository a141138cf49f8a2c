"""Bounds on user text: notes and search terms have a maximum length, refused with a clear message.

Notes are stored as typed and always rendered as plain text (never Markdown or HTML), so a note cannot
load an image, show a link or run a script in a later reader's browser.
"""

from __future__ import annotations

#: Longest coaching or verdict note (characters): a page of text; a 100 KB paste is refused.
MAX_NOTE_CHARS = 5_000
#: Longest transcript search term (characters).
MAX_SEARCH_CHARS = 100


class InputRejected(ValueError):
    """User text refused; `str()` is the bilingual message a user reads, `reason` a short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_note(text: str | None, what: str = "note") -> str:
    """The note, trimmed; InputRejected when it is longer than MAX_NOTE_CHARS."""
    text = (text or "").strip()
    if len(text) > MAX_NOTE_CHARS:
        raise InputRejected("note_too_long", f"the {what} has {len(text):,} characters; at most {MAX_NOTE_CHARS:,} "
                            f"are allowed / 备注共 {len(text):,} 字，最多 {MAX_NOTE_CHARS:,} 字")
    return text
