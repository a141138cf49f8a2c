"""callqa: on-premise call QA and agent wellbeing for debt-collection call centers."""

import ctypes
import os
import sys

__version__ = "0.1.0"

_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas for the threads this process starts (unless MALLOC_ARENA_MAX is set).

    Whisper's decoding streams, diarisation, voice measures and the classifier run on threads; glibc gives
    each thread its own arena (up to 8 per core), and memory freed in one is not reused by another. On a
    one-file ingest that fragmentation raised peak memory from 0.94 to 1.15 GB at no gain in speed (README,
    "Speed and memory"). Done at import so that every process (CLI, pool workers, Ray tasks) gets it.
    """
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas)
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        pass


_limit_malloc_arenas()
