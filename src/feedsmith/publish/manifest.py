"""``index.json``, the manifest: rendered from the build's records, and in a running service
re-serialised only where the records changed.

Apart from :mod:`.changes` (the change set every sink consumes) because this is the one place
that writes the manifest's bytes, and its memo is the service's: a one-post edit re-lists the
few feeds that own a re-rendered file and copies every other feed's serialised part as it was,
so the bytes stay exactly those of a full render (tests compare the two).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from itertools import chain, repeat
from operator import is_
from typing import Any

from feedsmith.core.delta import changed_places
from feedsmith.core.layout import feed_href, stored_gzip_only
from feedsmith.core.state import json_bytes
from feedsmith.publish.changes import FeedInfo, MediaRecord

__all__ = ["ArchiveSection", "ManifestMemo", "render_manifest"]


class ManifestMemo:
    """Each feed's serialised part of ``index.json`` from the last :func:`render_manifest`,
    kept by a builder that builds again (the service).

    A feed whose :class:`FeedInfo` is equal and whose files' records are the very objects
    they were (kept files keep their record object, see
    :func:`feedsmith.publish.output.plan_publish`; records are never changed once planned)
    serialises to the very same bytes, so only the few feeds an edit touched are serialised
    again; ~8 % of a one-post edit at 10,000 posts was serialising the whole manifest.
    The records are held, so the identity test cannot see a reused id."""

    def __init__(self) -> None:
        self.feeds: dict[tuple[str, ...], tuple[FeedInfo, tuple[Any, ...], bytes]] = {}
        #: The top-level ``files`` (a page per feed, ``index.opml``): rel -> (its record, as
        #: listed), and the section serialised when every one of them was the same.
        self.extras: dict[str, tuple[Any, dict[str, Any]]] = {}
        self.extras_json = b""
        #: That section cut into its members in sorted order, and each path's place (made at
        #: the first edit that changes one of its records; see :func:`_extras_patched`).
        self.extras_members: list[bytes] | None = None
        self.extras_place: dict[str, int] = {}
        #: The records mapping the last render listed (held), each feed's part by the identity
        #: of its :class:`FeedInfo` (held), and which feed's info listed each file: when the next
        #: render's kept records are that mapping's very objects (``since``, the service), only
        #: the feeds owning a ``changed`` file need looking at, not a record per file.
        self.records: Mapping[str, Mapping[str, Any]] | None = None
        self.by_info: dict[int, tuple[FeedInfo, bytes]] = {}
        self.owner: dict[str, int] = {}
        #: Each file's listing by its record (held): a feed serialised again after an edit
        #: (the site feed, ~1,500 archive files at 10,000 posts) lists anew only new records.
        self.listed: dict[str, tuple[Any, dict[str, Any]]] = {}
        #: Feeds serialised anew / taken from the memo by the last render (tests read them).
        self.serialised = 0
        self.reused = 0
        #: Records the last render compared by identity (all of them without ``changed``).
        self.records_looked = 0
        #: The owned files the last publish left on disk (``Planned.owned``, held): a listing
        #: made from them (:class:`~feedsmith.publish.owned.Found`) is trusted by
        #: :func:`~feedsmith.publish.output.plan_publish` while ``records`` is its state's.
        self.owned: set[str] | None = None
        #: Each feed's files as the last render listed them, by (kind, name): after an edit
        #: that changed no feed's files and no path set, the ``files`` section's paths are the
        #: last ones, found without a set of every feed path (~25,000 at 10,000 posts).
        self.rels_of: dict[tuple[str, str], tuple[str, ...]] = {}
        #: The feeds the last render listed (held), in order, with each one's part and where
        #: it stood by identity: an edit's render copies the parts and looks only at the places
        #: whose feed is another object or owns a changed file, not at ~830 feeds one by one.
        self.feed_list: list[FeedInfo] = []
        self.parts: list[bytes] = []
        self.pos_of: dict[int, int] = {}
        #: Each feed's archive ``files`` section serialised, by (kind, name), with the archive
        #: records it listed (held): a feed serialised again because its subscription files
        #: changed takes its archive's bytes as they were while every archive record is the
        #: very object it was (the site feed lists ~1,500 archive files at 10,000 posts).
        self.archive_json: dict[tuple[str, str], ArchiveSection] = {}
        #: Feeds whose part the last render made or looked at (tests: proportional to the edit)
        self.feeds_looked = 0
        #: Archive files the last render listed anew (tests: proportional to the edit)
        self.archives_serialised = 0


def render_manifest(
    generated: str,
    feeds: Sequence[FeedInfo],
    records: Mapping[str, Mapping[str, Any]],
    gone: Mapping[str, str],
    media: Mapping[str, MediaRecord] | None = None,
    memo: ManifestMemo | None = None,
    *,
    changed: Collection[str] | None = None,
    since: Mapping[str, Mapping[str, Any]] | None = None,
) -> bytes:
    """``index.json``: deterministic compact JSON (sorted keys, UTF-8 names, no ASCII escapes).

    Files that belong to no feed (``index.opml``) are listed under a top-level ``files`` so the
    server can give them a ``Last-Modified`` too. ``media`` (``media_dir``'s files) gets its
    own section, only when there is any. With ``memo`` (:class:`ManifestMemo`) unchanged feeds
    are not serialised again; the bytes are the same either way (``"feeds"`` sorts first, and
    compact JSON of a list is its items' JSON joined by commas).

    ``changed`` and ``since`` (the service's publish): ``records`` holds ``since``'s very record
    objects except for the ``changed`` paths. When ``since`` is the mapping the memo's last
    render listed, a feed whose info is the object it was and that owns no changed path is
    taken as it was without comparing its records (an edit of the newest post: the site feed's
    ~1,500 archive records compared one by one, for every feed, was most of this function).
    """
    feed_paths: set[str] = set()
    parts: list[bytes] = []
    known = memo.feeds if memo is not None else {}
    now_known: dict[tuple[str, ...], tuple[FeedInfo, tuple[Any, ...], bytes]] = {}
    serialised = reused = looked = 0
    fast = (
        memo is not None
        and changed is not None
        and since is not None
        and memo.records is since
        and bool(memo.by_info)
    )
    by_info = memo.by_info if memo is not None and fast else {}
    owner = memo.owner if memo is not None and fast else {}
    touched = {owner[rel] for rel in changed if rel in owner} if fast and changed else set()
    now_by_info: dict[int, tuple[FeedInfo, bytes]] = {}
    listed = memo.listed if memo is not None and fast else {}
    rels_of = memo.rels_of if memo is not None and fast else {}
    # The same paths as last render (kept ones are ``since``'s, each changed one was there),
    # so far the same feed files: the ``files`` section lists the same paths as it did.
    same_paths = (
        fast
        and changed is not None
        and since is not None
        and len(records) == len(since)
        and len(feeds) == len(rels_of)
        and all(map(since.__contains__, changed))
    )
    listing = not same_paths  # feed_paths made in the loop
    last_feeds = memo.feed_list if memo is not None else []
    # The same number of feeds and paths as last render: copy its parts and look only at the
    # places whose feed is another object (C: ``is_not`` place by place) or owns a changed
    # file. Any other render looks at every feed.
    patch = same_paths and len(feeds) == len(last_feeds) == len(memo.parts if memo else ())
    archives_serialised = 0

    def part_of(feed: FeedInfo) -> bytes:
        nonlocal serialised, reused, looked, same_paths, archives_serialised
        held = by_info.get(id(feed))
        if held is not None and held[0] is feed and id(feed) not in touched:
            reused += 1
            return held[1]  # the same info, and every record the very object it listed
        rels = feed.files + feed.archives
        key = (*rels, (feed.kind, feed.name))
        recs = tuple(map(records.__getitem__, rels))
        looked += len(recs)
        hit = known.get(key)
        if (
            hit is not None
            and (hit[0] is feed or hit[0] == feed)
            and len(hit[1]) == len(recs)
            and all(map(is_, recs, hit[1]))
        ):
            part = hit[2]
            reused += 1
        else:
            part, fresh = _feed_part(
                feed,
                records,
                listed if memo is not None else None,
                memo.archive_json if memo is not None else None,
            )
            archives_serialised += fresh
            serialised += 1
        if memo is not None:
            now_known[key] = (feed, recs, part)
            owner.update(zip(rels, repeat(id(feed))))
            if same_paths and rels_of.get((feed.kind, feed.name)) != rels:
                same_paths = False  # a feed's files changed: list them all (below)
            rels_of[feed.kind, feed.name] = rels
        return part

    if patch and memo is not None:
        parts = list(memo.parts)
        pos_of = memo.pos_of
        places = set(changed_places(feeds, last_feeds))
        places.update(pos_of[i] for i in touched if i in pos_of)
        at = sorted(places)
        for i in at:  # forget the feeds that left these places (some may be back, below)
            left = last_feeds[i]
            by_info.pop(id(left), None)
            pos_of.pop(id(left), None)
        for i in at:
            feed = feeds[i]
            parts[i] = part = part_of(feed)
            by_info[id(feed)] = (feed, part)
            pos_of[id(feed)] = i
        now_by_info = by_info
        feeds_looked = len(at)
        reused += len(feeds) - len(at)  # the parts copied as they were
    else:
        parts = []
        pos_of = {}
        for feed in feeds:
            if listing:
                feed_paths.update(feed.files)
                feed_paths.update(feed.archives)
            part = part_of(feed)
            if memo is not None:
                now_by_info[id(feed)] = (feed, part)
                pos_of[id(feed)] = len(parts)
            parts.append(part)
        feeds_looked = len(feeds)
    if same_paths and memo is not None:
        files_json = _extras_patched(records, changed or (), memo)
    else:
        if not listing:  # found out late: list every feed's files after all
            feed_paths.update(chain.from_iterable(f.files + f.archives for f in feeds))
        files_json = _extras_json(records, records.keys() - feed_paths, memo)
        if memo is not None:
            memo.rels_of = {(f.kind, f.name): f.files + f.archives for f in feeds}
    rest: dict[str, Any] = {"generated": generated, "gone": dict(gone)}
    if media:
        rest["media"] = {rel: rec.record() for rel, rec in media.items()}
    if memo is not None:
        # After a fast render ``now_known`` holds only the feeds looked at: the key-based
        # memo is for a render without ``since`` (a state read again), which then serialises
        # the rest once.
        memo.feeds, memo.serialised, memo.reused = now_known, serialised, reused
        memo.by_info, memo.owner, memo.records = now_by_info, owner, records
        memo.listed = listed
        memo.records_looked = looked
        memo.feed_list, memo.parts, memo.pos_of = list(feeds), parts, pos_of
        memo.feeds_looked, memo.archives_serialised = feeds_looked, archives_serialised
    # Keys sort as "feeds", "files", then ``rest``'s; json_bytes(rest) is b'{"generated":...}\n'.
    feeds_json = b'{"feeds":[' + b",".join(parts) + b'],"files":'
    return feeds_json + files_json + b"," + json_bytes(rest)[1:]


def _extras_json(
    records: Mapping[str, Mapping[str, Any]], rels: set[str], memo: ManifestMemo | None
) -> bytes:
    """The manifest's top-level ``files`` section, serialised; with ``memo`` each record's
    listing is reused while the record is the very object it was, and the whole section's
    bytes while all of them are (after an edit, every feed page but the few re-rendered)."""
    if memo is None:
        return json_bytes({rel: _file_record(rel, records[rel]) for rel in rels})[:-1]
    known = memo.extras
    now_known: dict[str, tuple[Any, dict[str, Any]]] = {}
    same = len(rels) == len(known)
    for rel in rels:
        rec = records[rel]
        hit = known.get(rel)
        if hit is not None and hit[0] is rec:
            now_known[rel] = hit
        else:
            now_known[rel] = (rec, _file_record(rel, rec))
            same = False
    memo.extras = now_known
    if not same or not memo.extras_json:
        memo.extras_json = json_bytes({rel: hit[1] for rel, hit in now_known.items()})[:-1]
        memo.extras_members = None
    return memo.extras_json


def _extras_patched(
    records: Mapping[str, Mapping[str, Any]], changed: Collection[str], memo: ManifestMemo
) -> bytes:
    """The ``files`` section when it lists the same paths as last render and every record
    but the ``changed`` ones is the very object it listed: only those are looked at, and a
    new record replaces its member (``"rel":{...}``) of the section cut at the first need."""
    known = memo.extras
    fresh = [rel for rel in changed if rel in known and known[rel][0] is not records[rel]]
    if not fresh and memo.extras_json:
        return memo.extras_json
    if memo.extras_members is None or not memo.extras_json:
        order = sorted(known)
        memo.extras_place = {rel: i for i, rel in enumerate(order)}
        memo.extras_members = [json_bytes({rel: known[rel][1]})[1:-2] for rel in order]
    members = memo.extras_members
    for rel in fresh:
        rec = records[rel]
        listing = _file_record(rel, rec)
        known[rel] = (rec, listing)
        members[memo.extras_place[rel]] = json_bytes({rel: listing})[1:-2]
    memo.extras_json = b"{" + b",".join(members) + b"}"
    return memo.extras_json


def _feed_part(
    feed: FeedInfo,
    records: Mapping[str, Mapping[str, Any]],
    listed: dict[str, tuple[Any, dict[str, Any]]] | None,
    archives: dict[tuple[str, str], ArchiveSection] | None,
) -> tuple[bytes, int]:
    """One feed's serialised part of the ``feeds`` list (no final newline), and how many of
    its archive files were listed anew (0: none, or all taken from ``archives``).

    The archive's ``files`` section is serialised on its own and spliced in: ``"archive"`` is
    the object's first key in sorted order, so the bytes are those of the whole object
    serialised at once (compact JSON of an object is its members' JSON joined by commas)."""
    if not feed.archives:
        return json_bytes(_feed_object(feed, records, listed))[:-1], 0
    key = (feed.kind, feed.name)
    recs = tuple(map(records.__getitem__, feed.archives))
    section = archives.get(key) if archives is not None else None
    fresh = 0
    if section is not None and section.rels == feed.archives:
        files_json = section.patched(recs, records, listed)
        fresh = section.last_serialised
    else:
        files_json = json_bytes(_listed(feed.archives, records, listed))[:-1]
        fresh = len(feed.archives)
        if archives is not None:
            archives[key] = ArchiveSection(feed.archives, recs, files_json)
    obj = _feed_object(feed, records, listed, archive=False)
    pages = len(feed.archives) // max(len(feed.files), 1)
    head = b'{"archive":{"files":' + files_json + b',"pages":' + str(pages).encode() + b"},"
    return head + json_bytes(obj)[1:-1], fresh


class ArchiveSection:
    """One feed's archive ``files`` section as last serialised, with the records it listed
    (held, in the feed's order), so an edit that re-renders one archive page re-serialises
    that page's files only.

    The section is kept whole until a record changes; then it is cut into its members
    (``"rel":{...}``, in sorted order, as orjson's sorted keys put them: code point order),
    and from then on a changed record replaces its member and the members are joined again
    (compact JSON of an object is ``{`` + its members joined by commas + ``}``)."""

    def __init__(self, rels: tuple[str, ...], recs: tuple[Any, ...], json: bytes) -> None:
        self.rels, self.recs, self.json = rels, recs, json
        self.members: list[bytes] | None = None
        self.place: dict[str, int] = {}
        #: Members serialised by the last :meth:`patched` (tests read it).
        self.last_serialised = 0

    def patched(
        self,
        recs: tuple[Any, ...],
        records: Mapping[str, Mapping[str, Any]],
        listed: dict[str, tuple[Any, dict[str, Any]]] | None,
    ) -> bytes:
        """The section for ``recs`` (records of the same ``rels``); places whose record is
        another object are found in C, and ``last_serialised`` says how many were listed."""
        at = changed_places(recs, self.recs)
        self.last_serialised = 0
        if not at:
            return self.json
        if self.members is None or len(at) * 4 > len(recs):
            order = sorted(self.rels)
            # Many changed (a state read again), or a path twice (the dict keeps one): whole.
            if len(at) * 4 > len(recs) or len(set(order)) != len(order):
                self.members = None
                self.json = json_bytes(_listed(self.rels, records, listed))[:-1]
                self.recs, self.last_serialised = recs, len(recs)
                return self.json
            self.place = {rel: i for i, rel in enumerate(order)}
            self.members = [_member(rel, records[rel], listed) for rel in order]
            self.last_serialised = len(order)
        else:
            members = self.members
            for i in at:
                rel = self.rels[i]
                members[self.place[rel]] = _member(rel, recs[i], listed)
            self.last_serialised = len(at)
        self.recs = recs
        self.json = b"{" + b",".join(self.members) + b"}"
        return self.json


def _member(
    rel: str, rec: Mapping[str, Any], listed: dict[str, tuple[Any, dict[str, Any]]] | None
) -> bytes:
    """``"rel":{...}``: one member of a section, as the whole object's JSON holds it."""
    listing = _file_record(rel, rec)
    if listed is not None:
        listed[rel] = (rec, listing)
    return json_bytes({rel: listing})[1:-2]


def _listed(
    rels: Sequence[str],
    records: Mapping[str, Mapping[str, Any]],
    memo: dict[str, tuple[Any, dict[str, Any]]] | None,
) -> dict[str, dict[str, Any]]:
    """``rels``' listings; ``memo``: each file's listing by its record object, used while the
    record is that very object, updated otherwise."""
    if memo is None:
        return {rel: _file_record(rel, records[rel]) for rel in rels}
    out: dict[str, dict[str, Any]] = {}
    for rel in rels:
        rec = records[rel]
        hit = memo.get(rel)
        if hit is None or hit[0] is not rec:
            hit = memo[rel] = (rec, _file_record(rel, rec))
        out[rel] = hit[1]
    return out


def _feed_object(
    feed: FeedInfo,
    records: Mapping[str, Mapping[str, Any]],
    memo: dict[str, tuple[Any, dict[str, Any]]] | None = None,
    *,
    archive: bool = True,
) -> dict[str, Any]:
    """One feed as the manifest's ``feeds`` list holds it (without ``archive`` when
    ``archive`` is false: :func:`_feed_part` splices it in); ``memo`` as for :func:`_listed`."""
    out: dict[str, Any] = {
        "kind": feed.kind,
        "name": feed.name,
        "slug": feed.slug,
        "entries": feed.entries,
        "updated": feed.updated,
        "urls": dict(feed.urls),
        "files": _listed(feed.files, records, memo),
    }
    if feed.page is not None:
        out["page"] = feed_href(feed.page)
    if feed.archives and archive:
        pages = len(feed.archives) // max(len(feed.files), 1)
        out["archive"] = {"pages": pages, "files": _listed(feed.archives, records, memo)}
    return out


def _file_record(rel: str, rec: Mapping[str, Any]) -> dict[str, Any]:
    """sha256 and size of the plain bytes; a path stored gzip-only also names the size of what
    is stored (``gz_bytes``: what the bucket holds under its key, checked by a fresh clone)."""
    out = {"sha256": rec["sha256"], "bytes": rec["bytes"], "changed": rec["changed"]}
    if stored_gzip_only(rel, rec) and isinstance(rec.get("gz_bytes"), int):
        out["gz_bytes"] = rec["gz_bytes"]
    return out
