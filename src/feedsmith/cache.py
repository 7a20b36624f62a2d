"""The parse index: what every source file became, so an unchanged file is never parsed twice.

Parsing (decode → front matter → Markdown → sanitise) is most of a cold build's cost and none
of it depends on the clock or on other posts, so its result can be kept per file:

* key ``(size, mtime_ns)`` — unchanged key: the file is not even read again;
* ``sha256`` of the bytes — a changed key with the same bytes (``touch``, ``git checkout``)
  is not re-parsed either, only its key is refreshed;
* the :class:`~feedsmith.posts.ParseOutcome` itself, with the post's ``content_html`` held
  zlib-compressed beside it (:attr:`Entry.html_z`) rather than as a ``str``: only the newest
  ``max_entries`` posts of each group are ever rendered into a feed, so most HTML is never
  needed again and compressed it costs a fraction of the memory (see
  :func:`hydrate`).

The index lives in memory in the long-running service (one :class:`~feedsmith.build.SiteBuilder`)
and is persisted to ``state_dir/parse-cache.pickle`` for the next process. Format: a pickle of
``(MAGIC, FORMAT_VERSION, fingerprint, {rel: Entry})``. ``fingerprint`` is
:meth:`Config.fingerprint` (settings that affect parsing plus the feedsmith version), so a config
change or an upgrade invalidates it. Pickle rather than JSON because the outcome is a tree of
project dataclasses and datetimes and loading must be fast (10,000 entries load in a fraction of
a second); the file lives in our own ``state_dir`` and is written only by feedsmith, so it is
trusted like the rest of that folder. Anything unexpected while loading — missing, truncated,
garbage, another version, another fingerprint — means "no cache": it can cost a cold parse,
never a wrong feed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import pickle
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from feedsmith.model import Post
from feedsmith.posts import ParseOutcome

log = logging.getLogger(__name__)

CACHE_FILE = "parse-cache.pickle"
MAGIC = "feedsmith-parse-cache"
FORMAT_VERSION = 1
#: zlib level for stored HTML: level 1 is ~5x faster than 6 and only slightly larger.
HTML_LEVEL = 1
#: mtime granularity margin for racy entries: 2 s covers FAT/SMB; ext4/XFS/btrfs tick far finer.
RACY_NS = 2_000_000_000


@dataclass
class Entry:
    """One source file as last seen: its key, content hash, and what it parsed to.

    ``outcome.post.content_html`` is always ``""`` here; the HTML is in ``html_z``.
    ``shown`` is the display path the problems were written with (it depends on the working
    directory, so an entry parsed under another one is treated as a miss).

    ``read_ns`` is the wall-clock time just before the bytes were read. A file modified within
    :data:`RACY_NS` of that moment is *racy* (as git calls it): a second write in the same
    mtime tick, with the same size, would leave its key unchanged. Racy entries are never
    trusted on their key alone (see :meth:`trusted`); they are re-hashed until a read happens
    safely after their mtime.
    """

    size: int
    mtime_ns: int
    sha256: str
    shown: str
    outcome: ParseOutcome
    html_z: bytes | None = None
    read_ns: int = 0

    @property
    def racy(self) -> bool:
        return self.mtime_ns >= self.read_ns - RACY_NS

    def trusted(self, size: int, mtime_ns: int) -> bool:
        """The file still holds what was parsed, judged by its stat alone."""
        return self.size == size and self.mtime_ns == mtime_ns and not self.racy


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_entry(
    size: int, mtime_ns: int, digest: str, shown: str, outcome: ParseOutcome, read_ns: int
) -> Entry:
    """Store ``outcome`` with its post's HTML moved out into a compressed blob."""
    post = outcome.post
    html_z: bytes | None = None
    if post is not None and post.content_html:
        html_z = zlib.compress(post.content_html.encode("utf-8", "surrogatepass"), HTML_LEVEL)
        outcome = dataclasses.replace(outcome, post=dataclasses.replace(post, content_html=""))
    return Entry(size, mtime_ns, digest, shown, outcome, html_z, read_ns)


def html_of(entry: Entry) -> str:
    if entry.html_z is None:
        return ""
    return zlib.decompress(entry.html_z).decode("utf-8", "surrogatepass")


def hydrate(post: Post, html: str) -> Post:
    """The post as the renderers need it (with its HTML back)."""
    if post.content_html == html:
        return post
    return dataclasses.replace(post, content_html=html)


def load_index(path: Path, fingerprint: str) -> dict[str, Entry]:
    """The persisted index, or ``{}`` when there is none usable (never raises)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("cannot read parse cache %s (%s): parsing everything", path, exc)
        return {}
    try:
        data = pickle.loads(raw)  # our own state_dir, written only by feedsmith
        magic, version, stored_fp, entries = data
        if magic != MAGIC or version != FORMAT_VERSION:
            raise ValueError(f"unknown cache format {magic!r} {version!r}")
        if stored_fp != fingerprint:
            log.info("parse cache is for another config or version: parsing everything")
            return {}
        if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, Entry) for k, v in entries.items()
        ):
            raise ValueError("unexpected cache contents")
        return entries
    except Exception as exc:  # corrupt in any way at all: cost time, never correctness
        log.warning("ignoring corrupt parse cache %s (%s): parsing everything", path, exc)
        return {}


def save_index(path: Path, fingerprint: str, entries: dict[str, Entry]) -> None:
    """Atomically replace the persisted index (temp file + rename, so readers never see a mix).

    Not fsynced: after a crash a lost or torn cache is detected by :func:`load_index` and only
    costs a re-parse, and a 10,000-post cache is tens of MB whose fsync would dominate a
    one-post rebuild.
    """
    blob = pickle.dumps(
        (MAGIC, FORMAT_VERSION, fingerprint, entries), protocol=pickle.HIGHEST_PROTOCOL
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
