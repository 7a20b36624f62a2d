"""Reading the published tree the way a reader gets it, whatever way a file is stored.

Archive pages are stored only as their ``.gz`` (``feedsmith.core.layout.stored_gzip_only``);
a static server with nginx's ``gzip_static always; gunzip on;`` sends a client that did not ask
for gzip the decompressed bytes. The tests that walk archives read them through this.
"""

from __future__ import annotations

import gzip
from pathlib import Path


def read_published(path: Path) -> bytes:
    """The plain bytes of a published file: the file itself, else its gzip twin, decompressed."""
    if path.exists():
        return path.read_bytes()
    return gzip.decompress(path.with_name(path.name + ".gz").read_bytes())


def published_text(path: Path) -> str:
    return read_published(path).decode("utf-8")


def stored_pages(root: Path) -> list[Path]:
    """The archive pages under ``root`` by the names the manifest lists (``….atom.xml``)."""
    return sorted(p.with_name(p.name[:-3]) for p in root.rglob("*.gz"))
