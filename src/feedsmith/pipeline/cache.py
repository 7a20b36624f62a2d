"""The parse index: what every source file became, so an unchanged file is never parsed twice.

Parsing (decode → front matter → Markdown → sanitise) is most of a cold build's cost and none
of it depends on the clock or on other posts, so its result can be kept per file:

* key ``(size, mtime_ns)`` — unchanged key: the file is not even read again;
* ``sha256`` of the bytes — a changed key with the same bytes (``touch``, ``git checkout``)
  is not re-parsed either, only its key is refreshed;
* the :class:`~feedsmith.core.posts.ParseOutcome` itself, with the post's ``content_html`` held
  zlib-compressed beside it (:attr:`Entry.html_z`) rather than as a ``str``: only the newest
  ``max_entries`` posts of each group are ever rendered into a feed, so most HTML is never
  needed again and compressed it costs a fraction of the memory (see
  :func:`hydrate`).

The index lives in memory in the long-running service (one :class:`~feedsmith.pipeline.SiteBuilder`)
and is persisted to ``state_dir/parse-cache.msgpack`` for the next process. Format: msgpack (see
:mod:`feedsmith.pipeline.records`; never pickle, whose loading runs code a planted file names), a
header ``[MAGIC, FORMAT_VERSION, fingerprint, layout, chunks]`` followed by ``chunks`` chunks,
each its rows then its posts' compressed HTML, read only when asked for (see :func:`_write_rows`
and :mod:`feedsmith.pipeline.lazyblob`). ``fingerprint`` is :meth:`Config.fingerprint` (settings
that affect parsing plus the feedsmith version), so a config change or an upgrade invalidates it.
Anything unexpected while loading — missing, truncated, garbage, another version, another
fingerprint, another ``layout`` — means "no cache": it can cost a cold parse, never a wrong feed. A
``parse-cache.pickle`` left by an older feedsmith is never opened: it is removed, with one log
line.

Loading the cache is most of a fresh process's no-change rebuild, so what is stored is chosen
for loading speed: per entry a flat list of field values (a dict zipped from the field names on
load, no per-field Python code), in chunks of :data:`CHUNK` rows streamed to and from the file,
with the garbage collector paused meanwhile. Tags, categories and authors that repeat across
posts are held once in memory after loading (:class:`feedsmith.pipeline.records.Reader`).

Saving after a one-post edit used to pack all 10,000 entries again (~0.5 s of a fresh
process's edit). A :class:`Chunks` remembers where each chunk of the file last loaded or saved
lies and which entries (the very objects) it holds; a save copies the bytes of every chunk
whose entries are all still those objects, in the same order, and packs only the others. The
copied bytes are what the loader already read back, so the file means the same either way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import msgpack
from zlib_ng import zlib_ng

from feedsmith.core.model import Author, ParseOutcome, Post
from feedsmith.pipeline import lazyblob, records
from feedsmith.pipeline.cacherows import DATES, FRAME, compact_date, read_rows
from feedsmith.pipeline.gcpause import collector_paused
from feedsmith.pipeline.lazyblob import BlobFile, Recover, Region
from feedsmith.system.statedir import remove_legacy, write_private

log = logging.getLogger("feedsmith.cache")

CACHE_FILE = "parse-cache.msgpack"
#: The pickle of older versions: never loaded (see the module docstring).
LEGACY_CACHE_FILE = "parse-cache.pickle"
MAGIC = "feedsmith-parse-cache"
FORMAT_VERSION = 5
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

    def __getattr__(self, name: str) -> Any:
        """``html_z`` of an entry loaded from the file: read (and checked) on first use.

        Such an entry's ``__dict__`` holds ``_blob`` (a :class:`~feedsmith.pipeline.lazyblob.Blob`)
        instead of ``html_z``; Python calls this only for a name the instance lacks, so entries
        with their HTML in hand pay nothing. A bad blob gets the post's HTML parsed again and
        makes the entry untrusted, so the next build parses the file and the next save stores it.
        """
        if name != "html_z" or "_blob" not in self.__dict__:
            raise AttributeError(name)
        return self._take("read")

    def _take(self, purpose: str) -> bytes | None:
        """Read the blob (counted as ``purpose``, see :data:`lazyblob.counts`) into ``html_z``."""
        state = self.__dict__
        data, sound = lazyblob.fetch(state["_blob"], purpose)
        if not sound:
            state["size"], state["sha256"] = -1, ""
        state["html_z"] = data
        # Back in field order: a save packs the ``__dict__`` as it is, and must write the bytes
        # a save of the same entry made by parsing writes.
        ordered = {name: state[name] for name in _ENTRY_FIELDS}
        state.clear()
        state.update(ordered)
        return data

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (a pool task) with its HTML in hand, never with an open file."""
        state = dict(vars(self))
        if "_blob" in state:
            del state["_blob"]
            state["html_z"] = self.html_z
        return state

    @property
    def racy(self) -> bool:
        return self.mtime_ns >= self.read_ns - RACY_NS

    def trusted(self, size: int, mtime_ns: int) -> bool:
        """The file still holds what was parsed, judged by its stat alone."""
        return self.size == size and self.mtime_ns == mtime_ns and not self.racy


# The class default would hide a loaded entry's missing ``html_z`` from ``__getattr__``; the
# dataclass ``__init__`` keeps its own copy of the default.
del Entry.html_z


def lazy(entry: Entry) -> bool:
    """``entry``'s HTML is still in the cache file (not read yet)."""
    return "_blob" in entry.__dict__


def rekeyed(entry: Entry, size: int, mtime_ns: int, read_ns: int) -> Entry:
    """``entry`` for the same bytes under a new stat key, its HTML left wherever it is (a
    ``dataclasses.replace`` would read the blob of every touched file)."""
    fresh: Entry = object.__new__(Entry)
    state = dict(vars(entry))
    state["size"], state["mtime_ns"], state["read_ns"] = size, mtime_ns, read_ns
    object.__setattr__(fresh, "__dict__", state)
    return fresh


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


@dataclass
class Chunks:
    """Where the chunks of the cache file last loaded or saved lie, and what each holds (see the
    module docstring). ``file`` is that file's ``(inode, size, mtime_ns)``: a file replaced
    since (another process saved) is never copied from."""

    file: tuple[int, int, int] | None = None
    #: ``(offset, length, [(rel, entry), ...])`` per chunk, in the file's order.
    spans: list[tuple[int, int, list[tuple[str, Entry]]]] = dataclasses.field(default_factory=list)
    #: Per chunk, the region its entries' unread blobs lie in (``None``: none can be unread).
    regions: list[Region | None] = dataclasses.field(default_factory=list)


def _leave_be() -> None:
    """What :func:`~.gcpause.collector_paused` does after loading or flattening a whole index:
    nothing. Those ~300,000 objects form no cycles and all stay alive, yet allocating them set
    off full collections over a growing heap again and again (~40 % of loading the index); a
    build loads the index inside its own pause, which decides what is frozen afterwards, so a
    caller's heap is never frozen behind its back."""


def _file_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def load_index(
    path: Path, fingerprint: str, chunks: Chunks | None = None, recover: Recover | None = None
) -> dict[str, Entry]:
    """The persisted index, or ``{}`` when there is none usable (never raises). ``chunks``
    (if given) is set to what the file holds where, for :func:`save_index`.

    The entries' HTML stays in the file, which stays open, until asked for (see
    :mod:`feedsmith.pipeline.lazyblob`); ``recover(rel)`` gives a post's compressed HTML anew
    when its stored blob proves bad then."""
    if chunks is not None:
        chunks.file, chunks.spans, chunks.regions = None, [], []
    remove_legacy(path.with_name(LEGACY_CACHE_FILE), "the parse cache is rebuilt")
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("cannot read parse cache %s (%s): parsing everything", path, exc)
        return {}
    keep = False
    try:
        with collector_paused(_leave_be):
            reader = records.unpacker()
            reader.feed(fh.read(_HEAD_MAX))
            magic, version, stored_fp, layout, count = reader.unpack()
            if magic != MAGIC:
                raise ValueError(f"not a parse cache: {magic!r}")
            if version != FORMAT_VERSION or stored_fp != fingerprint or layout != _LAYOUT:
                log.info("parse cache is for another config or version: parsing everything")
                return {}
            spans: list[tuple[int, int, list[tuple[str, Entry]]]] = []
            regions: list[Region | None] = []
            stat = os.fstat(fh.fileno())
            source = BlobFile(fh, recover)
            entries = read_rows(
                Entry, _ENTRY_KEYS, fh, reader.tell(), stat.st_size, count, source, spans, regions
            )
            keep = any(region is not None for region in regions)
            if chunks is not None:
                chunks.file, chunks.spans, chunks.regions = _file_key(stat), spans, regions
            return entries
    except Exception as exc:  # corrupt in any way at all: cost time, never correctness
        log.warning("ignoring corrupt parse cache %s (%s): parsing everything", path, exc)
        return {}
    finally:
        if not keep:
            fh.close()


def save_index(
    path: Path,
    fingerprint: str,
    entries: dict[str, Entry],
    chunks: Chunks | None = None,
    *,
    release: Recover | None = None,
) -> None:
    """Atomically replace the persisted index (private temp file + rename, so readers never
    see a mix). Raises ``TypeError`` for a value the format cannot hold; the previous file is
    then left as it was.

    Not fsynced: after a crash a lost or torn cache is detected by :func:`load_index` and only
    costs a re-parse, and a 10,000-post cache is tens of MB whose fsync would dominate a
    one-post rebuild.

    ``chunks``: what :func:`load_index` (or the last save) found where; the chunks whose
    entries are unchanged are copied from the file it describes, if that is still the file at
    ``path``. Updated to describe the new file. With ``release`` (the index's ``recover``) the
    entries of chunks packed anew let go of their HTML, read back from the new file when asked
    for (see :func:`feedsmith.pipeline.lazyblob.release`); it needs ``chunks``.
    """
    old: BinaryIO | None = None
    spans: list[tuple[int, int, list[tuple[str, Entry]]]] = []
    if chunks is not None and chunks.file is not None:
        with contextlib.suppress(OSError):
            old = path.open("rb")
            if _file_key(os.fstat(old.fileno())) != chunks.file:
                old.close()
                old = None
    if chunks is not None:
        chunks.file, spans = None, (chunks.spans if old is not None else [])
        chunks.spans = []
    regions = chunks.regions if chunks is not None and old is not None else []
    if chunks is not None:
        chunks.regions = []
    new_spans: list[tuple[int, int, list[tuple[str, Entry]]]] = []
    moves: list[tuple[Region, int]] = []
    kept: list[int] = []  # a read handle on the new file, for the blobs moved into it
    packed: list[tuple[int, bytes, list[tuple[str, Entry]]]] | None = (
        [] if release is not None and chunks is not None else None
    )

    def write(fh: BinaryIO) -> None:
        _write_rows(fh, fingerprint, entries, old, spans, new_spans, regions, moves, packed)
        if moves or packed:
            fh.flush()
            kept.append(os.dup(fh.fileno()))

    try:
        with collector_paused(_leave_be):
            write_private(path, write, fsync=False)
    except BaseException:
        for fd in kept:
            os.close(fd)
        raise
    finally:
        if old is not None:
            old.close()
    new_regions: list[Region | None] = [None] * len(new_spans)
    if kept:
        target = BlobFile(os.fdopen(kept[0], "rb"), moves[0][0].file.recover if moves else release)
        where = {start: k for k, (start, _, _) in enumerate(new_spans)}
        for region, start in moves:
            region.file, region.base = target, start + (region.base - region.chunk)
            region.chunk = start
            new_regions[where[start]] = region
        for start, frame, members in packed or ():
            light_len, blob_len = FRAME.unpack(frame)
            if blob_len:
                region = Region(target, start, start + FRAME.size + light_len, blob_len)
                lazyblob.release(region, members)
                new_regions[where[start]] = region
    if chunks is not None:
        with contextlib.suppress(OSError):
            chunks.file, chunks.spans = _file_key(path.stat()), new_spans
            chunks.regions = new_regions


# -- the on-disk form ----------------------------------------------------------------------------

#: The fields of every dataclass in a row. Stored in the file and compared on load (and every
#: row's maps are checked against them): rows are only read with the fields they were written with.
_ENTRY_FIELDS = tuple(f.name for f in dataclasses.fields(Entry))
_ENTRY_KEYS = frozenset(_ENTRY_FIELDS)
_LAYOUT = [
    [f.name for f in dataclasses.fields(Entry)],
    [f.name for f in dataclasses.fields(ParseOutcome)],
    *records.LAYOUT,
]
#: Entries per separately packed chunk: the writer and the reader never hold the whole file.
CHUNK = 1000
#: The header is read from this many first bytes (it is well under 1 KB).
_HEAD_MAX = 65536

#: ``[rel, Entry map, ParseOutcome map, Post map or None]``: each map a copy of the instance
#: ``__dict__`` (``outcome`` and ``post`` are ``None`` there: the objects are put back on load),
#: the problems as :func:`feedsmith.pipeline.records.problem_row` lists and the post's authors as
#: indices into its chunk's author table. A chunk is ``[authors, rows]``.
Row = list[Any]


def _write_rows(
    fh: BinaryIO,
    fingerprint: str,
    entries: dict[str, Entry],
    old: BinaryIO | None = None,
    spans: list[tuple[int, int, list[tuple[str, Entry]]]] | None = None,
    new_spans: list[tuple[int, int, list[tuple[str, Entry]]]] | None = None,
    regions: list[Region | None] | None = None,
    moves: list[tuple[Region, int]] | None = None,
    packed: list[tuple[int, bytes, list[tuple[str, Entry]]]] | None = None,
) -> None:
    """The header, then chunks of up to :data:`CHUNK` rows each (see :data:`Row`), in the
    index's order, streamed into the file: neither side holds a copy of the whole file (~25 MB
    for 10,000 posts, whose fresh memory pages alone cost ~25 ms to touch).

    Maps rather than lists because msgpack builds a map straight into a ``dict`` (with its keys
    interned), which becomes the object's ``__dict__`` as it is: no Python code per field.

    A chunk whose members are those of ``spans``' chunk at the same place (the same paths,
    the very same entry objects, in order) is copied from ``old`` instead, unless one of its
    blobs proved bad (its region in ``regions`` is dirty). ``new_spans`` gets where every chunk
    went, ``moves`` the regions of the copied chunks with where they start now, ``packed`` the
    chunks packed anew (start, frame, members)."""
    packer = records.packer()
    items = list(entries.items())
    chunks = -(-len(items) // CHUNK)  # rounded up
    fh.write(packer.pack([MAGIC, FORMAT_VERSION, fingerprint, _LAYOUT, chunks]))
    spans = spans or []
    regions = regions or []
    for k in range(chunks):
        members = items[k * CHUNK : (k + 1) * CHUNK]
        start = fh.tell()
        span = spans[k] if k < len(spans) else None
        region = regions[k] if k < len(regions) else None
        if (
            old is not None
            and span is not None
            and (region is None or not region.dirty)
            and _same_members(span[2], members)
        ):
            old.seek(span[0])
            data = old.read(span[1])
            if len(data) != span[1]:
                raise ValueError("the parse cache file is shorter than when it was read")
            if region is not None and moves is not None:
                moves.append((region, start))
        else:
            data = _pack_chunk(packer, members)
            if packed is not None:
                packed.append((start, data[: FRAME.size], members))
        fh.write(data)
        if new_spans is not None:
            new_spans.append((start, len(data), members))


def _same_members(was: list[tuple[str, Entry]], now: list[tuple[str, Entry]]) -> bool:
    return len(was) == len(now) and all(
        a[0] == b[0] and a[1] is b[1] for a, b in zip(was, now, strict=True)
    )


def _pack_chunk(packer: msgpack.Packer, members: list[tuple[str, Entry]]) -> bytes:
    """One chunk, ``[authors, zones, rows]``, packed: authors and zones are the chunk's own;
    framed and followed by its blobs (see :data:`FRAME`). An entry whose HTML is still in the
    file it was loaded from is read from there (and kept in hand)."""
    problem_row = records.problem_row
    blobs = bytearray()
    crc32 = zlib.crc32
    rows: list[Row] = []
    authors: list[list[Any]] = []
    author_at: dict[tuple[Any, ...], int] = {}
    zones: list[str] = []
    zone_at: dict[tuple[type, Any], int] = {}
    for rel, entry in members:
        if type(entry) is not Entry or type(entry.outcome) is not ParseOutcome:
            raise TypeError(f"cannot store {type(entry).__name__} for {rel!r}")
        if "_blob" in entry.__dict__:
            entry._take("copied")
        entry_state = vars(entry).copy()
        html_z = entry_state["html_z"]
        if html_z is not None:
            if type(html_z) is not bytes:
                raise TypeError(f"cannot store {type(html_z).__name__} as the HTML of {rel!r}")
            entry_state["html_z"] = [len(blobs), len(html_z), crc32(html_z)]
            blobs += html_z
        outcome = entry_state["outcome"]
        entry_state["outcome"] = None
        outcome_state = vars(outcome).copy()
        post = outcome_state["post"]
        outcome_state["post"] = None
        outcome_state["problems"] = list(map(problem_row, outcome_state["problems"]))
        post_state: dict[str, Any] | None = None
        if post is not None:
            if type(post) is not Post:
                raise TypeError(f"cannot store {type(post).__name__} as a Post")
            post_state = vars(post).copy()
            refs = []
            for author in post_state["authors"]:
                if type(author) is not Author:
                    raise TypeError(f"cannot store {type(author).__name__} as an Author")
                key = (author.name, author.email, author.uri)
                at = author_at.get(key)
                if at is None:
                    at = author_at[key] = len(authors)
                    authors.append(list(key))
                refs.append(at)
            post_state["authors"] = refs
            post_state["picture"] = records.picture_row(post_state["picture"])
            post_state["enclosures"] = records.enclosure_rows(post_state["enclosures"])
            for name in DATES:
                post_state[name] = compact_date(post_state[name], zones, zone_at)
        rows.append([rel, entry_state, outcome_state, post_state])
    light: bytes = packer.pack([authors, zones, rows])
    return FRAME.pack(len(light), len(blobs)) + light + blobs
