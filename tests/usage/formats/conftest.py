"""The parser tests run without Django (``pytest tests/usage/formats -p no:django``); without
pytest-django nothing puts the project root on sys.path, so do it here."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
