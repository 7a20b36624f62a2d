"""A path stored only as its ``.gz`` (an archive page): what publishing it must write.

Apart from :mod:`.output` because its one rule differs from a plain file's (the record keeps
the plain bytes' sha256 and size, the stored twin is what is checked and trusted); the two
share the disk helpers below, which :mod:`.output` imports under its own names.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedsmith.core.layout import iso_seconds
from feedsmith.publish.staging import FileData, Staged, gzip_bytes, sha256


def plan_gzip_only(
    base: str,
    rel: str,
    item: FileData,
    prev: Mapping[str, Any] | None,
    now_iso: str,
    on_disk: Collection[str] | None,
) -> tuple[dict[str, Any], list[tuple[str, bytes | str]]]:
    """What ``output._plan_file`` decides, for a path stored only as ``rel + ".gz"``: the
    record keeps the *plain* bytes' sha256 and size (what the manifest lists, what ETags and
    the bucket compare), the twin is judged like any sidecar. ``mtime_ns`` is the twin's too:
    the stored file is what a later build trusts by its stat."""
    if isinstance(item, Staged):
        digest, size, gz_size = item.sha256, item.size, item.gz_size
        gz_write: bytes | str = item.gz_tmp
        packed: bytes | None = None
    else:
        digest, size = sha256(item), len(item)
        packed = gzip_bytes(item)
        gz_size, gz_write = len(packed), packed
    gz_path = os.path.join(base, rel + ".gz")
    gz_st = stat_or_none(gz_path) if on_disk is None or rel + ".gz" in on_disk else None
    same_as_state = prev is not None and prev.get("sha256") == digest
    if (
        same_as_state
        and gz_st is not None
        and gz_st.st_size == prev.get("gz_bytes")  # type: ignore[union-attr]
        and gz_st.st_mtime_ns == prev.get("gz_mtime_ns")  # type: ignore[union-attr]
    ):
        ok = True
    elif gz_st is None or gz_st.st_size != gz_size:
        ok = False
    else:
        wanted = packed if packed is not None else read_or_none(str(gz_write))
        ok = read_or_none(gz_path) == wanted
    if same_as_state:
        changed = str(prev["changed"])  # type: ignore[index]
    elif ok and gz_st is not None:
        changed = iso_seconds(datetime.fromtimestamp(gz_st.st_mtime_ns / 1e9, UTC))
    else:
        changed = now_iso
    record: dict[str, Any] = {"sha256": digest, "bytes": size, "changed": changed}
    record["gz_bytes"] = gz_size
    if ok:
        record["mtime_ns"] = record["gz_mtime_ns"] = gz_st.st_mtime_ns  # type: ignore[union-attr]
        return record, []
    return record, [(".gz", gz_write)]


def stat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def read_or_none(path: str | Path) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
