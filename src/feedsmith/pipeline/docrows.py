"""Each document's planning memo, kept in ``state_dir`` for the next process.

A new ``feedsmith build`` has no :class:`GroupMemo` of the last build in memory, so it worked
out every document's files, manifest line and signature from scratch: ~0.4–1 s at 10,000 posts
(~4,000 documents), most of a one-post edit's planning. Those are functions of the config, the
document's identity and its shown posts' lines (``post_line``) only, so they are kept here as a
*row* per document, with a digest of every shown post's line (:func:`post_key`).

A new process works out each post's key once (~10,000, not the ~75,000 places posts are shown
in) and takes a document's row when the row is that document's (kind, key, name, slug,
paging), lists the same post ids in the same order, and every one of them has the key it had:
then the signature, paths and manifest line are what working them out would give. Anything
else is a miss, worked out from scratch. The file is keyed by :meth:`Config.fingerprint`
(which holds the feedsmith version) and :data:`ROWS_VERSION` like the parse cache, and its
body by its sha256: a missing, stale, torn or damaged file only costs time, never a wrong
byte (``tests/test_edit_path_fresh_rows.py``).

Written by a builder's first planning only (a new process's, or a service's first build), and
only when enough documents missed (:data:`RESAVE_SHARE`): rows are right whenever they are
used, so a file older than the last few edits costs those edits' documents only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter, is_
from pathlib import Path
from typing import NamedTuple

import orjson

from feedsmith.core.groups import FeedGroup
from feedsmith.core.model import Post
from feedsmith.core.paging import Paging
from feedsmith.publish.changes import FeedInfo
from feedsmith.system.statedir import write_if_changed

log = logging.getLogger("feedsmith.build")

_ID = attrgetter("id")

ROWS_FILE = "documents.json"
ROWS_VERSION = 5

#: Save the rows again when more than this share of documents missed (or none were held):
#: an edit's ~10 documents missing again in the next process cost less than ~50 ms of saving.
RESAVE_SHARE = 0.02


class Row(NamedTuple):
    """One document as its last planning saw it (see the module docstring)."""

    signature: str
    kind: str
    key: str
    name: str
    slug: str
    #: ``[page, prev, next]`` of its :class:`~feedsmith.core.paging.Paging`, ``None`` without.
    paging: list[int] | None
    #: The shown posts' ids, in order (each post's line is in the file's ``posts``).
    ids: list[str]
    #: The document's files by format (a podcast show's RSS left out, as planned).
    paths: dict[str, str]
    #: ``isoformat()`` of the shown posts' newest ``updated`` (``None``: no posts).
    newest: str | None
    #: The :class:`~feedsmith.publish.changes.FeedInfo` fields that are not the identity's.
    updated: str | None
    urls: dict[str, str]
    files: list[str]
    archives: list[str]
    page: str | None


@dataclass
class GroupMemo:
    """What :meth:`~feedsmith.pipeline.plan.RenderPlanner.render_changed` worked out for a
    document, kept for the next build: in the service most groups show the very same post
    objects build after build (see the ``memo`` of ``apply_updates`` and ``group_posts``), and
    then all of this is the same. A new process makes them from :class:`Row` s."""

    kind: str
    name: str
    slug: str
    shown: tuple[Post, ...]  # held, so the identity test below cannot see a reused id
    paths: dict[str, str]
    signature: str
    info: FeedInfo
    newest: datetime | None
    paging: Paging | None = None
    #: What the feed's page shows of it (see ``page_key``), worked out when first needed.
    page: str = ""
    key: str = ""  # the group's, kept in the document's row
    #: The row it was made from (:meth:`DocRows.memo`), saved again as it is.
    row: Row | None = None

    def holds(self, group: FeedGroup, shown: tuple[Post, ...]) -> bool:
        """True when ``group`` (same kind, key and page) shows exactly these objects, so
        named, with the same archive links."""
        return (
            len(shown) == len(self.shown)
            and all(map(is_, shown, self.shown))
            and group.kind == self.kind
            and group.name == self.name
            and group.slug == self.slug
            and group.paging == self.paging
        )


def post_key(post: Post, line: str) -> str:
    """A post as the rows remember it: a digest of its line of a signature and its exact
    ``updated`` (the line has whole seconds; a document's newest ``updated`` goes into the
    OPML's signature as it is) and the microseconds of ``date`` (posts are grouped newest first
    by it, ties by id; the line has its whole seconds: with both, a group's order is a function
    of its posts' keys, see :meth:`DocRows.check`; a second ``isoformat`` cost ~3 µs a post).
    128 bits: the file stays ~30 bytes a post."""
    data = f"{line}\x00{post.updated.isoformat()}\x00{post.date.microsecond}"
    data = data.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class PostKeys(dict[str, str | None]):
    """Post id -> :func:`post_key` (see :func:`post_keys`), with the post objects they were
    worked out from: ``posts``, ``id(post)`` -> post, alive as long as the groups are;
    ``groups``, the groups; ``counts``, each group's post count by :func:`group_name`."""

    posts: dict[int, Post]
    groups: list[FeedGroup]
    counts: dict[str, int]


def group_name(group: FeedGroup) -> str:
    """A group's (kind, key) as one string: the rows file's key for its post count."""
    return group.kind + "\x00" + group.key


def post_keys(groups: list[FeedGroup], line: Callable[[Post], str]) -> PostKeys:
    """Every grouped post's id -> its :func:`post_key` (``None`` for an id two different posts
    have), for :meth:`DocRows.check` and :func:`save`. ``line``: the planner's memoised
    ``post_line``."""
    posts: dict[int, Post] = {}
    for group in groups:
        posts.update(zip(map(id, group.posts), group.posts, strict=True))
    keys = PostKeys()
    for post in posts.values():
        key = post_key(post, line(post))
        if keys.setdefault(post.id, key) != key:
            keys[post.id] = None
    keys.posts = posts
    keys.groups = groups
    keys.counts = {group_name(group): len(group.posts) for group in groups}
    return keys


class DocRows:
    """The rows a previous process saved (:func:`load`), and which posts they still hold.

    :meth:`check` is called once with every post the planning shows: a post is *fresh* when
    the rows remember its id with this very :func:`post_key`. A document's row is then used
    (:meth:`memo`) when its identity is the document's and it lists the same posts, in the
    same order, all fresh: its signature is what the posts' lines give, as it was."""

    def __init__(
        self, rows: dict[str, Row], posts: list[list[str]], counts: dict[str, int] | None = None
    ) -> None:
        self.rows = rows
        #: Each group's post count when the rows were saved (:func:`group_name` -> count);
        #: ``None`` (an older file, a test): every document's posts are matched one by one.
        self.counts = counts
        #: The groups (:func:`group_name`) whose documents' rows need no post-by-post match
        #: (see :meth:`check`).
        self.clean: set[str] = set()
        self.names = [pid for pid, _ in posts]  # a row's ``ids`` index this
        self.known = dict(posts)  # post id -> post_key when saved
        self.stale: set[str] = set()  # ids shown now whose key differs (or is not known)
        #: ``id(post)`` -> the post's place in ``names``, for each fresh post of :meth:`check`'s
        #: ``keys.posts``: a row is then matched by the posts' addresses, without reading the
        #: ~75,000 shown posts' ids (cold memory: ~0.17 s of a new process's edit at 10,000
        #: posts). Valid while those posts are alive (the planning that checked them).
        self.slots: dict[int, int] | None = None
        self._posts: dict[int, Post] | None = None  # keys.posts, until slots are made

    def check(self, keys: dict[str, str | None]) -> None:
        """``keys``: every shown post's id -> its :func:`post_key` (``None``: two posts have
        that id with different keys, so neither can vouch for a row); a :class:`PostKeys`
        also gives :meth:`memo` the posts' slots, and the groups that are *clean*.

        Why clean groups: matching every document's posts one by one reads ~75,000 shown
        posts at 10,000 posts (~0.1 s of a new process's edit). A group is clean when it has
        as many posts as when the rows were saved and none of them is stale. Grouping is a
        function of the config (the file's fingerprint) and each post's own fields (its
        categories, tags, authors and language decide its groups; its date, then its id, its
        place), all in its key; so each of those posts was in the group then, with the same
        key, and the group had no others: it has the same posts in the same order, and a
        document cut from it with the same identity and paging shows what its row lists."""
        known = self.known
        self.stale = {pid for pid, key in keys.items() if key is None or known.get(pid) != key}
        posts = getattr(keys, "posts", None)
        self.slots = None
        self._posts = posts
        self.clean = set()
        counts = self.counts
        if posts is None or counts is None or None in keys.values():
            return
        groups: list[FeedGroup] = keys.groups  # type: ignore[attr-defined]
        now: dict[str, int] = keys.counts  # type: ignore[attr-defined]
        if len(now) != len(groups):  # two groups of one (kind, key): match post by post
            return
        stale = self.stale
        addresses = dict(zip(map(_ID, posts.values()), posts.keys(), strict=True))
        if len(addresses) != len(posts):  # one id, two posts: match post by post
            return
        bad = {addresses[pid] for pid in stale}
        self.clean = {
            name
            for group in groups
            if counts.get(name := group_name(group)) == len(group.posts)
            and (not bad or bad.isdisjoint(map(id, group.posts)))
        }

    def _slots(self) -> dict[int, int] | None:
        """``id(post)`` -> its place in ``names`` for each fresh post :meth:`check` saw, made
        when a document of a group that is not clean first asks (an edit: ~10 groups)."""
        if self.slots is None and self._posts is not None:
            place = {pid: n for n, pid in enumerate(self.names)}
            stale = self.stale
            self.slots = {
                address: place[post.id]
                for address, post in self._posts.items()
                if post.id not in stale and post.id in place
            }
            self._posts = None
        return self.slots

    def memo(self, sig_key: str, group: FeedGroup, shown: tuple[Post, ...]) -> GroupMemo | None:
        """What working the document out from scratch would give, from its row; ``None`` (work
        it out) when there is no row for it or the row is not this document's (see above)."""
        row = self.rows.get(sig_key)
        if row is None:
            return None
        paging = group.paging
        if (
            row.kind != group.kind
            or row.key != group.key
            or row.name != group.name
            or row.slug != group.slug
            or row.paging != ([paging.page, paging.prev, paging.next] if paging else None)
            or len(row.ids) != len(shown)
        ):
            return None
        if group_name(group) in self.clean:
            pass  # the very posts the row lists, all fresh (see check)
        elif (slots := self._slots()) is not None:
            # A post not checked, or not fresh, has no slot: None never equals a place.
            if list(map(slots.get, map(id, shown))) != row.ids:
                return None
        else:
            ids = list(map(_ID, shown))
            if list(map(self.names.__getitem__, row.ids)) != ids or not self.stale.isdisjoint(ids):
                return None
        info = FeedInfo(
            kind=group.kind,
            name=group.name,
            slug=group.slug,
            entries=len(shown),
            updated=row.updated,
            urls=row.urls,
            files=tuple(row.files),
            archives=tuple(row.archives),
            page=row.page,
        )
        return GroupMemo(
            group.kind,
            group.name,
            group.slug,
            shown,
            row.paths,
            row.signature,
            info,
            datetime.fromisoformat(row.newest) if row.newest is not None else None,
            paging,
            key=group.key,
            row=row,
        )


def rows_of(memos: dict[str, GroupMemo], index: dict[str, int], same: bool) -> dict[str, Row]:
    """Each document's row for the next process; ``index``: a post id's place in the file's
    ``posts`` (a document showing a post not there gets no row); ``same``: ``index`` is the
    loaded file's, so a row a document was made from is still its row."""
    rows: dict[str, Row] = {}
    for sig_key, memo in memos.items():
        if same and memo.row is not None:
            rows[sig_key] = memo.row
            continue
        try:
            ids = list(map(index.__getitem__, map(_ID, memo.shown)))
        except KeyError:
            continue
        paging, info, newest = memo.paging, memo.info, memo.newest
        rows[sig_key] = Row(
            memo.signature,
            memo.kind,
            memo.key,
            memo.name,
            memo.slug,
            [paging.page, paging.prev, paging.next] if paging is not None else None,
            ids,
            memo.paths,
            newest.isoformat() if newest is not None else None,
            info.updated,
            info.urls,
            list(info.files),
            list(info.archives),
            info.page,
        )
    return rows


def rows_path(state_dir: Path) -> Path:
    return state_dir / ROWS_FILE


def load(path: Path, fingerprint: str) -> DocRows:
    """The rows the last builder saved; none when the file is missing, unreadable, for another
    config or version, or its body is not what its header's sha256 says (a torn or damaged
    file: checking that is ~50 times cheaper than checking the type of every field of ~5,000
    rows, and rows this module wrote are well formed)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return DocRows({}, [])
    except OSError as exc:
        log.debug("ignoring the documents' memo %s: %s", path, exc)
        return DocRows({}, [])
    head, _, body = raw.partition(b"\n")
    try:
        header = orjson.loads(head)
        if not (
            isinstance(header, dict)
            and header.get("version") == ROWS_VERSION
            and header.get("fingerprint") == fingerprint
            and header.get("sha256") == hashlib.sha256(body).hexdigest()
        ):
            return DocRows({}, [])
        data = orjson.loads(body)
        rows = {key: Row._make(row) for key, row in data["rows"].items()}
        counts = data["groups"]
        if not isinstance(counts, dict):
            raise TypeError("groups is not a mapping")
        return DocRows(rows, data["posts"], counts)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        log.debug("ignoring the documents' memo %s: %s", path, exc)
        return DocRows({}, [])


def save(
    path: Path,
    fingerprint: str,
    memos: dict[str, GroupMemo],
    keys: dict[str, str | None],
    loaded: DocRows | None = None,
) -> None:
    """Replace the file with the documents' rows and the shown posts' keys (atomically);
    failing to costs the next process time. A post id with two keys (``None``) is left out,
    and so are the rows of the documents showing it: never fresh. ``loaded``: the rows these
    memos were made from, reused when the posts' order is the same."""
    posts = [[pid, key] for pid, key in keys.items() if key is not None]
    index = {pid: n for n, (pid, _) in enumerate(posts)}
    rows = rows_of(memos, index, loaded is not None and loaded.names == list(index))
    counts = getattr(keys, "counts", None)
    if counts is None or None in keys.values():  # no counts to vouch for a clean group
        counts = {}
    body = orjson.dumps(
        {
            "rows": {key: list(row) for key, row in rows.items()},
            "posts": posts,
            "groups": counts,
        }
    )
    header = {"version": ROWS_VERSION, "fingerprint": fingerprint}
    header["sha256"] = hashlib.sha256(body).hexdigest()
    data = orjson.dumps(header) + b"\n" + body
    try:
        write_if_changed(path, data)
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc)
