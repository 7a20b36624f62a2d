"""Ids for life: the id a post was published under stays when its file, date or slug changes.

A generated id (``tag:<authority>,<date>:<slug>``) is made of things an author may still fix
after publishing: the date in the file name, the slug, the folder, the site's host. Feed
readers dedupe on the id alone, so each fix would show the post again as new. The build
therefore remembers, per source path, the id each published post went out under (the *id
map*), and :func:`assign` gives a post that map's id instead of a fresh one when it is
recognisably the same post. What counts as "the same post" (see README, "Entry ids"):

1. *Same content*: the post's content key (:func:`content_key`: body plus front matter minus
   the keys that define its id, URL, date and title) equals that of exactly one recorded post,
   and no other current post has it — accepted when the recorded path is gone (a rename or a
   move) and this post's file is new, or when this post's own record goes to another post
   in turn (posts swapped or rotated between files).
2. *Same path*: the file a recorded post came from, whatever its date, slug or text now.
3. *A rename with edits*: the recorded path is gone, and the new file has the same slug, the
   same date or the same file name (another folder) — and it is the only such pair both ways.

Anything ambiguous (two recorded posts that could be this one, or two posts that could be one
recorded post) matches nothing: the post gets its fresh id, reported as ``info``. A post with
an ``id``/``guid`` in its front matter always keeps that one.

Only published posts are recorded (no drafts, no future posts), and a post no longer published
leaves the map at the next build, like its entry in the state. The map lives in
``state_dir/ids.json`` and is published as ``ids.json`` beside the feeds, so a build from a
fresh clone (no state) recovers it from ``output_dir`` or from the bucket of ``publish.s3``.
Pure: :class:`~feedsmith.pipeline.idbook.IdBook` keeps the map between builds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import posixpath
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from feedsmith.core.delta import changed_places
from feedsmith.core.model import ParseOutcome, Post, Problem
from feedsmith.core.state import json_bytes

if TYPE_CHECKING:
    pass

log = logging.getLogger("feedsmith.identity")

MAP_VERSION = 1
#: Front-matter keys that define a post's id, URL, date or title: edits to them are exactly
#: the edits a rename must survive, so the content key leaves them out.
_DEFINING_KEYS = frozenset(
    {"id", "guid", "date", "title", "slug", "permalink", "url"}
    | {"last_modified_at", "updated", "modified"}
)


@dataclass(frozen=True)
class Record:
    """One published post as the map remembers it."""

    id: str
    key: str | None  # content key; None when unknown (a post parsed before keys existed)
    day: str  # YYYY-MM-DD of its publish date, in the post's own offset
    slug: str


def content_key(meta: Mapping[Any, Any], body: str) -> str:
    """What stays the same when a post is renamed, moved, re-dated or re-titled.

    80 bits of sha256: collisions between two posts of one blog are not a practical concern,
    and the map is published (10,000 posts ≈ 1 MB with full hashes).
    """
    rest = {str(k): v for k, v in meta.items() if str(k) not in _DEFINING_KEYS}
    blob = json.dumps([rest, body.strip()], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def day_of(published: datetime) -> str:
    return f"{published.year:04d}-{published.month:02d}-{published.day:02d}"


# -- the map's bytes ----------------------------------------------------------------------------


def dump_map(posts: Iterable[Post], *, keys: bool = True) -> bytes:
    """The map of the posts this build published: deterministic bytes (sorted, compact).

    The published copy (``keys=False``) leaves the content keys out: it then changes only when
    a post is added, removed, renamed or re-dated, not with every edit (a 10,000-post map is
    ~1 MB, uploaded again on each change), and recovering from it still recognises a post by
    its path, slug, date and file name (rules 2 and 3).
    """
    records: dict[str, list[str | None]] = {}
    for post in posts:
        record: list[str | None] = [post.id, day_of(post.date), post.slug]
        if keys:
            record.append(post.identity_key)
        records[post.source] = record
    return json_bytes({"version": MAP_VERSION, "posts": records})


def parse_map(data: bytes) -> dict[str, Record]:
    """Strictly: a map misread would give posts wrong ids. Raises ``ValueError``."""
    raw = json.loads(data)
    if not isinstance(raw, dict) or raw.get("version") != MAP_VERSION:
        raise ValueError("not an id map of version 1")
    posts = raw.get("posts")
    if not isinstance(posts, dict):
        raise ValueError("posts is not an object")
    out: dict[str, Record] = {}
    for rel, rec in posts.items():
        if not (
            isinstance(rec, list)
            and len(rec) in (3, 4)
            and all(isinstance(v, str) for v in rec[:3])
            and (len(rec) == 3 or rec[3] is None or isinstance(rec[3], str))
            and rec[0]
        ):
            raise ValueError(f"bad record for {rel!r}")
        out[rel] = Record(rec[0], rec[3] or None if len(rec) == 4 else None, rec[1], rec[2])
    return out


# -- matching -----------------------------------------------------------------------------------


@dataclass
class Assigned:
    outcomes: list[ParseOutcome]
    held: list[Problem]  # a warning per post whose id the map holds (``feedsmith check``)


def assign(
    outcomes: list[ParseOutcome],
    known: Mapping[str, Record],
    present: Collection[str],
    *,
    memo: dict[int, tuple[Post, Post]] | None = None,
    own: OwnMemo | None = None,
) -> Assigned:
    """Give each recognised post the id it was published under (see the module docstring).

    ``present``: every post file's path this build (valid or not): a recorded path that is
    still there is not "gone", even when its file is broken or a draft now. ``memo`` keeps the
    re-id'd copy of an unchanged post between builds, so it stays the same object; ``own``
    keeps the last "every post at its own record" check (see :func:`_all_own`).
    """
    if not known:
        if own is not None:
            own.clear()
        return Assigned(outcomes, [])
    if _all_own(outcomes, known, own):
        if memo is not None:
            memo.clear()  # as below: only re-id'd posts are kept, and there are none
        return Assigned(outcomes, [])
    mappable: dict[int, Post] = {}  # outcome index -> post that may take a recorded id
    claimed: set[str] = set()  # recorded paths already spoken for
    given_ids: set[str] = set()
    for i, outcome in enumerate(outcomes):
        post = outcome.post
        if post is None or outcome.excluded is not None:
            continue
        if post.identity_key == "":  # an id given in the front matter: never replaced
            given_ids.add(post.id)
            if post.source in known:
                claimed.add(post.source)
        else:
            mappable[i] = post
    claimed.update(rel for rel, rec in known.items() if rec.id in given_ids)
    match: dict[int, str] = {}  # outcome index -> recorded path

    # 1. same content
    posts_by_key: dict[str, list[int]] = {}
    for i, post in mappable.items():
        if post.identity_key:
            posts_by_key.setdefault(post.identity_key, []).append(i)
    records_by_key: dict[str, list[str]] = {}
    for rel, rec in known.items():
        if rec.key and rel not in claimed:
            records_by_key.setdefault(rec.key, []).append(rel)
    tentative: dict[int, str] = {}
    for key, indexes in posts_by_key.items():
        rels = records_by_key.get(key, ())
        if len(indexes) == 1 and len(rels) == 1:
            i, rel = indexes[0], rels[0]
            source = mappable[i].source
            if rel == source or rel not in present or source in known:
                tentative[i] = rel
    # A post whose own file was a published post's takes another record only when its own
    # record went to another post in turn (a swap, a rotation); else its file keeps its id.
    while True:
        taken = set(tentative.values())
        wrong = [
            i
            for i, rel in tentative.items()
            if rel != mappable[i].source
            and mappable[i].source in known
            and mappable[i].source not in taken
        ]
        if not wrong:
            break
        for i in wrong:
            del tentative[i]
    match.update(tentative)
    claimed.update(tentative.values())

    # 2. same path
    for i, post in mappable.items():
        if i not in match and post.source in known and post.source not in claimed:
            match[i] = post.source
            claimed.add(post.source)

    # 3. a rename with edits: gone records only, unique both ways
    gone = [rel for rel in known if rel not in present and rel not in claimed]
    problems: dict[int, list[Problem]] = {}
    if gone:
        candidates: dict[int, list[str]] = {}
        wanted_by: dict[str, list[int]] = {}
        for i, post in mappable.items():
            if i in match or post.source in known:
                continue
            day, name = day_of(post.date), posixpath.basename(post.source)
            found = [
                rel
                for rel in gone
                if known[rel].slug == post.slug
                or known[rel].day == day
                or posixpath.basename(rel) == name
                or (post.identity_key and known[rel].key == post.identity_key)
            ]
            if found:
                candidates[i] = found
                for rel in found:
                    wanted_by.setdefault(rel, []).append(i)
        for i, found in candidates.items():
            if len(found) == 1 and len(wanted_by[found[0]]) == 1:
                match[i] = found[0]
                continue
            rivals = {j for rel in found for j in wanted_by[rel]} - {i}
            reason = (
                "given a new id: it could be the post published from "
                + ", ".join(sorted(found))
                + (f", as could {len(rivals)} other new file(s)," if rivals else "")
                + " so the match is ambiguous"
            )
            path = outcomes[i].display_path or mappable[i].source
            problems.setdefault(i, []).append(Problem(path, None, "info", reason))

    # apply: the recorded id, and refuse a fresh id that a recorded post still holds
    held_ids = {known[rel].id: rel for rel in match.values()}
    held: list[Problem] = []
    out = list(outcomes)
    memo_in = memo.copy() if memo is not None else {}
    if memo is not None:
        memo.clear()
    for i, post in mappable.items():
        outcome = outcomes[i]
        path = outcome.display_path or post.source
        rel = match.get(i)
        extra = problems.get(i, [])
        if rel is None:
            holder = held_ids.get(post.id)
            if holder is not None:
                shown = _shown(outcomes, match, holder)
                reason = (
                    f"id {post.id!r} is still held by the post now in {shown}"
                    " (it was published under it); give this post an 'id:' or another slug"
                )
                bad = Problem(path, None, "error", reason)
                out[i] = dataclasses.replace(
                    outcome, post=None, problems=[*outcome.problems, *extra, bad]
                )
            elif extra:
                out[i] = dataclasses.replace(outcome, problems=[*outcome.problems, *extra])
            continue
        published = known[rel].id
        if published == post.id:
            continue
        hit = memo_in.get(id(post))
        if hit is not None and hit[0] is post and hit[1].id == published:
            mapped = hit[1]
        else:
            mapped = dataclasses.replace(post, id=published)
        if memo is not None:
            memo[id(post)] = (post, mapped)
        out[i] = dataclasses.replace(outcome, post=mapped)
        why = f"published from {rel}" if rel != post.source else "published from this file"
        held.append(
            Problem(
                path,
                None,
                "warning",
                f"id held at {published!r} ({why}); its date and slug now give {post.id!r}."
                " feedsmith keeps the published id so readers do not show the post again;"
                f" add 'id: \"{published}\"' to its front matter to make that explicit",
            )
        )
    return Assigned(out, held)


#: Up to this many outcomes or records that are not the very objects of the last check are
#: looked at on their own (:func:`_all_own`); more take the whole check.
FEW = 256


@dataclass
class OwnMemo:
    """What the last :func:`_all_own` that found every post at its own record looked at, so
    the next one (the running service: the same outcome and record objects but for an edit)
    checks only what is not the same object. The objects are held, so no id() is reused."""

    outcomes: list[ParseOutcome] | None = None
    known: Mapping[str, Record] | None = None
    sources: list[str] = dataclasses.field(default_factory=list)  # known's keys, in order
    records: list[Record] = dataclasses.field(default_factory=list)  # known's values
    keys: dict[str | None, int] = dataclasses.field(default_factory=dict)  # records' keys
    at: dict[str, int] = dataclasses.field(default_factory=dict)  # post source -> index
    moved: list[int] = dataclasses.field(default_factory=list)  # indexes whose key moved on
    #: outcomes the last check looked at (the counter tests read it)
    looked: int = 0

    def clear(self) -> None:
        self.outcomes = self.known = None


def _all_own(
    outcomes: list[ParseOutcome], known: Mapping[str, Record], own: OwnMemo | None = None
) -> bool:
    """True when the rules above can only give every post the id it already has: each post is
    at a recorded path under that path's id, and each whose content key moved on (an edit)
    has a key no record holds. Then no rule moves a record (rule 1 needs a key match, rule 3
    a post at an unrecorded path) and no id is held. This is every build of a blog that added
    and renamed nothing, and a ~5 ms check instead of the whole matching at 10,000 posts;
    with ``own`` (kept between builds) only the outcomes and records that are not the very
    objects of the last check are looked at."""
    if own is not None:
        few = _all_own_few(outcomes, known, own)
        if few is not None:
            return few
    ok, moved = _each_own(enumerate(outcomes), known)
    if ok and moved:
        keys = {record.key for record in known.values()}
        ok = not any(outcomes[i].post.identity_key in keys for i in moved)  # type: ignore[union-attr]
    if own is not None:
        own.looked = len(outcomes)
        own.clear()
        at = {
            outcome.post.source: i
            for i, outcome in enumerate(outcomes)
            if outcome.post is not None and outcome.excluded is None
        }
        if ok and len(at) == sum(1 for o in outcomes if o.post is not None and o.excluded is None):
            own.outcomes, own.known, own.at, own.moved = list(outcomes), known, at, moved
            own.sources, own.records = list(known), list(known.values())
            own.keys = dict(Counter(record.key for record in own.records))
    return ok


def _each_own(
    items: Iterable[tuple[int, ParseOutcome]], known: Mapping[str, Record]
) -> tuple[bool, list[int]]:
    """Whether each of ``items`` is at its own record, and the indexes of those whose content
    key moved on (their key must be one no record holds; ``False`` when one is unknown)."""
    moved: list[int] = []
    for i, outcome in items:
        post = outcome.post
        if post is None or outcome.excluded is not None:
            continue
        key = post.identity_key
        if key == "":  # an id from the front matter: it may claim records, see assign
            return False, []
        record = known.get(post.source)
        if record is None or record.id != post.id:
            return False, []
        if record.key != key:
            if key is None:
                return False, []
            moved.append(i)
    return True, moved


def _all_own_few(
    outcomes: list[ParseOutcome], known: Mapping[str, Record], own: OwnMemo
) -> bool | None:
    """:func:`_all_own` from the last check: ``None`` when it does not apply (another map,
    a post or a record added or removed, too many changed)."""
    last = own.outcomes
    if (
        last is None
        or own.known is not known
        or len(outcomes) != len(last)
        or len(known) != len(own.sources)
        or list(known) != own.sources
    ):
        return None
    records = list(known.values())
    changed = changed_places(records, own.records)
    new = changed_places(outcomes, last)
    if len(changed) + len(new) > FEW:
        return None
    at = own.at.copy()
    for i in new:
        post = last[i].post
        if post is not None and last[i].excluded is None and at.get(post.source) == i:
            del at[post.source]
    for i in new:
        post = outcomes[i].post
        if post is not None and outcomes[i].excluded is None and at.setdefault(post.source, i) != i:
            return None  # a path twice
    keys = own.keys.copy()
    for i in changed:
        old_key, new_key = own.records[i].key, records[i].key
        keys[old_key] -= 1
        if not keys[old_key]:
            del keys[old_key]
        keys[new_key] = keys.get(new_key, 0) + 1
    check = set(new) | set(own.moved)
    check.update(at[own.sources[i]] for i in changed if own.sources[i] in at)
    ok, moved = _each_own(((i, outcomes[i]) for i in sorted(check)), known)
    if ok and moved:
        ok = not any(outcomes[i].post.identity_key in keys for i in moved)  # type: ignore[union-attr]
    own.looked = len(check)
    own.clear()
    if ok:
        own.outcomes, own.known, own.at, own.moved = list(outcomes), known, at, moved
        own.records, own.keys = records, keys
    return ok


def _shown(outcomes: list[ParseOutcome], match: Mapping[int, str], holder: str) -> str:
    for i, rel in match.items():
        if rel == holder:
            post = outcomes[i].post
            return outcomes[i].display_path or (post.source if post else rel)
    return holder
