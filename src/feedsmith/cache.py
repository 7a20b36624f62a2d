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
``(MAGIC, FORMAT_VERSION, fingerprint, (layout, chunks))`` followed by ``chunks`` pickles of rows
(see :func:`_write_rows`). ``fingerprint`` is :meth:`Config.fingerprint` (settings that affect
parsing plus the feedsmith version), so a config change or an upgrade invalidates it. Pickle
rather than JSON because the outcome holds datetimes with arbitrary ``tzinfo`` and loading must
be fast; the file lives in our own ``state_dir`` and is written only by feedsmith, so it is
trusted like the rest of that folder. Anything unexpected while loading — missing, truncated,
garbage, another version, another fingerprint, another ``layout`` — means "no cache": it can
cost a cold parse, never a wrong feed.

Loading the cache is most of a fresh process's no-change rebuild, so what is stored is chosen
for loading speed: per entry the instance dicts of the Entry, its outcome and its post (no
``__reduce__`` machinery per object), every string, tag and author that repeats across posts
stored once, in chunks of :data:`CHUNK` rows (pickle's memo stays small), streamed to and from
the file, with the garbage collector paused meanwhile. ``layout`` names the dataclass fields the
rows were written with, so a dataclass that gains or loses a field cannot be misread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import logging
import os
import pickle
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any, BinaryIO

from zlib_ng import zlib_ng

from feedsmith.model import Author, Post, Problem
from feedsmith.posts import ParseOutcome

log = logging.getLogger(__name__)

CACHE_FILE = "parse-cache.pickle"
MAGIC = "feedsmith-parse-cache"
FORMAT_VERSION = 2
#: Level for stored HTML, written by zlib-ng: a zlib stream like the stdlib's (read back with
#: ``zlib.decompress``, so caches written by either read the same), and at level 1 ~4x faster to
#: write than stdlib zlib level 1 (~0.1 ms of a cold parse's ~1.2 ms per post) for ~20 % more bytes.
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
        html_z = zlib_ng.compress(post.content_html.encode("utf-8", "surrogatepass"), HTML_LEVEL)
        outcome = dataclasses.replace(outcome, post=dataclasses.replace(post, content_html=""))
    return Entry(size, mtime_ns, digest, shown, outcome, html_z, read_ns)


def html_of(entry: Entry) -> str:
    return unpack_html(entry.html_z)


def unpack_html(html_z: bytes | None) -> str:
    """An entry's ``html_z`` back as text (pool workers get only the blob, not the entry)."""
    if html_z is None:
        return ""
    return zlib.decompress(html_z).decode("utf-8", "surrogatepass")


def hydrate(post: Post, html: str) -> Post:
    """The post as the renderers need it (with its HTML back)."""
    if post.content_html == html:
        return post
    return dataclasses.replace(post, content_html=html)


def load_index(path: Path, fingerprint: str) -> dict[str, Entry]:
    """The persisted index, or ``{}`` when there is none usable (never raises)."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("cannot read parse cache %s (%s): parsing everything", path, exc)
        return {}
    try:
        with fh, _gc_paused():
            # Our own state_dir, written only by feedsmith (see the module docstring).
            magic, version, stored_fp, payload = pickle.load(fh)
            if magic != MAGIC:
                raise ValueError(f"not a parse cache: {magic!r}")
            if version != FORMAT_VERSION or stored_fp != fingerprint or payload[0] != _LAYOUT:
                log.info("parse cache is for another config or version: parsing everything")
                return {}
            return _read_rows(fh, payload[1])
    except Exception as exc:  # corrupt in any way at all: cost time, never correctness
        log.warning("ignoring corrupt parse cache %s (%s): parsing everything", path, exc)
        return {}


def save_index(path: Path, fingerprint: str, entries: dict[str, Entry]) -> None:
    """Atomically replace the persisted index (temp file + rename, so readers never see a mix).

    Not fsynced: after a crash a lost or torn cache is detected by :func:`load_index` and only
    costs a re-parse, and a 10,000-post cache is tens of MB whose fsync would dominate a
    one-post rebuild.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh, _gc_paused():
            _write_rows(fh, fingerprint, entries)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# -- the on-disk form ----------------------------------------------------------------------------

#: The fields of every dataclass in a row (``Author`` and ``Problem`` objects are pickled as
#: they are). Stored in the file and compared on load: rows are only ever read with the fields
#: they were written with.
_LAYOUT = tuple(
    tuple(f.name for f in dataclasses.fields(cls))
    for cls in (Entry, ParseOutcome, Post, Author, Problem)
)
#: Entries per separately pickled chunk. Pickling looks up every object in its memo, and a memo
#: of a whole 10,000-entry index (~150,000 objects) no longer fits the CPU caches: chunks of
#: 1,000 pickle ~40 % faster and load as fast, for a few KB of strings repeated across chunks.
CHUNK = 1000

#: ``(rel, Entry fields, ParseOutcome fields, Post fields or None)``, each a ``{field: value}``
#: copy of the instance ``__dict__`` (``outcome`` and ``post`` are ``None`` there: the objects
#: are put back on load).
Row = tuple[str, dict[str, Any], dict[str, Any], dict[str, Any] | None]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a whole index is built or flattened.

    Those objects form no cycles and all stay alive, yet allocating ~300,000 of them set off
    full collections over a growing heap again and again: ~40 % of loading the index. The
    collector runs again afterwards (unless it was already off before).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Texts(dict[str, str]):
    """``texts[s]`` is the first ``str`` equal to ``s`` seen, so pickle (whose memo is by
    identity) stores a repeated string once and loading creates it once.

    Looked up with ``map(texts.__getitem__, ...)``: a hit costs no Python call. Only exact
    ``str`` values are remembered.
    """

    def __missing__(self, key: str) -> str:
        if type(key) is str:
            self[key] = key
        return key


#: What makes two ``Author`` objects interchangeable: their class and every field.
_AUTHOR_KEY = attrgetter("__class__", *(f.name for f in dataclasses.fields(Author)))


def _write_rows(fh: BinaryIO, fingerprint: str, entries: dict[str, Entry]) -> None:
    """The header ``(MAGIC, FORMAT_VERSION, fingerprint, (layout, chunks))``, then ``chunks``
    pickles of up to :data:`CHUNK` rows each (see :data:`Row`), in the index's order.

    Streamed into the file, and read back the same way: neither side holds a copy of the whole
    file (~25 MB for 10,000 posts, whose fresh memory pages alone cost ~25 ms to touch).

    Each state is a copy of the instance ``__dict__``: what pickle stored for a dataclass
    before, and restored the same way (see :func:`_read_rows`). The names (tags, categories,
    paths) and authors that repeat across posts are replaced by one shared object each: the
    ~40,000 tag strings of 10,000 posts are a few hundred distinct ones.
    """
    protocol = pickle.HIGHEST_PROTOCOL
    chunks = -(-len(entries) // CHUNK)  # rounded up
    pickle.dump((MAGIC, FORMAT_VERSION, fingerprint, (_LAYOUT, chunks)), fh, protocol=protocol)
    text = _Texts().__getitem__
    authors_seen: dict[tuple[tuple[Any, ...], ...], tuple[Author, ...]] = {}
    rows: list[Row] = []
    for rel, entry in entries.items():
        entry_state = vars(entry).copy()
        outcome = entry_state["outcome"]
        entry_state["outcome"] = None
        shown = entry_state["shown"] = text(entry.shown)
        outcome_state = vars(outcome).copy()
        post = outcome_state["post"]
        outcome_state["post"] = None
        if outcome.display_path == shown:
            outcome_state["display_path"] = shown
        post_state: dict[str, Any] | None = None
        if post is not None:
            post_state = vars(post).copy()
            if post_state.get("source") == rel:
                post_state["source"] = rel
            # A name is replaced by the first equal ``str`` seen (the parser makes plain ``str``
            # only), an authors tuple only by one of the same classes with equal fields; an
            # unhashable value (never made by the parser) ends the sharing for this post.
            with contextlib.suppress(TypeError, AttributeError):
                for name in ("categories", "tags"):
                    names = post_state.get(name)
                    if type(names) is tuple:
                        post_state[name] = tuple(map(text, names))
                authors = post_state.get("authors")
                if type(authors) is tuple:
                    key = tuple(map(_AUTHOR_KEY, authors))
                    post_state["authors"] = authors_seen.setdefault(key, authors)
        rows.append((rel, entry_state, outcome_state, post_state))
        if len(rows) == CHUNK:
            pickle.dump(rows, fh, protocol=protocol)
            rows = []
    if rows:
        pickle.dump(rows, fh, protocol=protocol)


def _read_rows(fh: BinaryIO, chunks: int) -> dict[str, Entry]:
    """The index back from the chunks after the header; raises on anything that does not fit.

    Objects are rebuilt the way pickle restores a dataclass: ``__new__`` plus the instance
    ``__dict__``, without running ``__init__`` (so the frozen ``Post.__setattr__`` is bypassed,
    on fresh objects only). The dicts come out of pickle ready-made, so this loop is a few
    pointer assignments per entry; building the objects from tuples took longer than
    unpickling them.
    """
    new = object.__new__
    set_attr = object.__setattr__
    entries: dict[str, Entry] = {}
    for _ in range(chunks):
        rows: list[Row] = pickle.load(fh)
        for rel, entry_state, outcome_state, post_state in rows:
            post: Post | None = None
            if post_state is not None:
                post = new(Post)
                set_attr(post, "__dict__", post_state)
            outcome = new(ParseOutcome)
            outcome_state["post"] = post
            set_attr(outcome, "__dict__", outcome_state)
            entry = new(Entry)
            entry_state["outcome"] = outcome
            set_attr(entry, "__dict__", entry_state)
            entries[rel] = entry
    if fh.read(1):
        raise ValueError("unexpected data after the last chunk")
    return entries
