"""Silence what native code writes to standard output (the HiGHS banner) while a model is created or solved.

HiGHS prints "Running HiGHS ..." from C++ straight to file descriptor 1 the first time a ``Highs`` object is
created in a process, whatever ``msg=False`` / ``output_flag`` say. Python's ``sys.stdout`` redirection does
not reach it, so every command that prints JSON (``--json``) or a report would carry the banner. This is the
one helper for it: wrap any code that may create a HiGHS model.

No Django. Not thread-safe: it swaps the process-wide file descriptor 1, so two threads using it at once
could lose each other's output; the solvers run in one thread per process (CLI, command, Celery prefork
worker).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_native_stdout() -> Iterator[None]:
    """Point file descriptor 1 at the null device for the block, then restore it.

    Python-level output written inside the block is flushed first and also discarded, so keep prints out of
    it. Nesting is safe (each level restores what it found). The banner is discarded rather than sent to
    stderr because ``seed_demo`` and other commands are often run with ``2>&1``.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as sink:
            os.dup2(sink.fileno(), 1)
            try:
                yield
            finally:
                sys.stdout.flush()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
