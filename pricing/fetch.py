"""Streaming downloads of price catalogs (pure: no Django). AWS bulk offer files are large: they are
streamed to disk, never held in memory. Azure Retail Prices API listings are followed page by page
through ``NextPageLink``."""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from pricing.importers import PriceImportError

USER_AGENT = "finops-price-import/0.1"
TIMEOUT_SECONDS = 60


def download(url: str, dest_dir: Path) -> Path:
    """Stream ``url`` into ``dest_dir`` (named by the URL's hash and file name) and return the path."""
    if urlparse(url).scheme not in ("http", "https"):
        raise PriceImportError(f"not an http(s) URL: {url}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    name = Path(urlparse(url).path).name or "catalog"
    target = dest_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{name}"
    partial = target.with_name(target.name + ".partial")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out, length=1024 * 1024)
    except OSError as error:  # URLError and HTTPError are OSErrors
        partial.unlink(missing_ok=True)
        raise PriceImportError(f"download failed: {error}", file=url) from error
    partial.replace(target)
    return target


def download_pages(url: str, dest_dir: Path, *, max_pages: int = 1000) -> list[Path]:
    """Download an API listing and every page after it (``NextPageLink``), up to ``max_pages``."""
    pages: list[Path] = []
    next_url: str | None = url
    while next_url:
        if len(pages) >= max_pages:
            raise PriceImportError(f"more than {max_pages} pages; raise --max-pages to import them all", file=url)
        page = download(next_url, dest_dir)
        pages.append(page)
        try:
            with open(page, encoding="utf-8") as handle:
                next_url = json.load(handle).get("NextPageLink")
        except (ValueError, AttributeError):
            next_url = None  # not a paged JSON document: the importer will say what it is
    return pages
