"""File hashing for idempotent imports (pure)."""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 4 * 1024 * 1024


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks (billing and price files run to gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()
