"""Render planning: which feeds must be rendered again, decided by signature, not by looking.

A feed's *signature* is what its files are a function of: the config fingerprint, the group's
identity and, for each post it shows, the post's line (:func:`post_line`). A feed whose
signature equals the one the state recorded, and whose files on disk still have the recorded
size and mtime, is *kept*: not rendered, compressed or written. Everything else is handed to
the render scheduler (:class:`~feedsmith.pipeline.scheduler.LazyFiles`) to render when written.

In the service most groups show the very same post objects build after build, so a group's
signature and manifest line are remembered (:class:`GroupMemo`) and reused by identity; a
group that is itself the very object it was (regrouping keeps untouched groups) is not even
split into its archive pages again. After a one-post edit only the documents showing that post
are worked out anew (``memo_missed``), so the per-build cost is a dictionary lookup per feed.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from feedsmith.core import documents
from feedsmith.core.archive import archive_groups
from feedsmith.core.config import Config
from feedsmith.core.groups import FeedGroup
from feedsmith.core.layout import ASSETS, ID_MAP, OPML
from feedsmith.core.model import Post
from feedsmith.core.opml import OpmlMemo, render_opml
from feedsmith.core.pages import PageRenderer, asset_bytes
from feedsmith.core.render.entries import PackedEntryCache
from feedsmith.core.state import BuildState
from feedsmith.pipeline import docrows
from feedsmith.pipeline.cache import html_of, hydrate
from feedsmith.pipeline.docplan import Doc, GroupPlan, group_memo, group_plan, line, resplit
from feedsmith.pipeline.docrows import GroupMemo, rows_path
from feedsmith.pipeline.index import ParseIndex
from feedsmith.pipeline.lazyblob import html_z_ref
from feedsmith.pipeline.listing import intact as file_intact
from feedsmith.pipeline.listing import records_intact
from feedsmith.pipeline.podcast import ShowRenders
from feedsmith.pipeline.scheduler import LazyFiles
from feedsmith.pipeline.signatures import (
    digest,
    document_key,
    opml_signature,
    page_key,
)
from feedsmith.publish.output import FeedInfo

#: Decompressed HTML kept at once while rendering (posts), see ``RenderPlanner._hydrate``.
HTML_MEMO = 512


@dataclass
class Rendered:
    """The render step's result: dirty feeds (rendered lazily), what was kept, signatures."""

    files: LazyFiles
    infos: list[FeedInfo]
    kept: list[str]
    signatures: dict[str, str]


class RenderPlanner:
    """Decides and prepares each build's renders; kept by the builder between builds.

    ``parse``: the parse index, where the posts' (compressed) HTML lives. ``entries``:
    serialised entries of recently rendered posts — a post edited in the service is in ~10
    feeds, whose other entries are then reused rather than rendered again."""

    def __init__(self, config: Config, fingerprint: str, parse: ParseIndex) -> None:
        self.config = config
        self.fingerprint = fingerprint
        self.parse = parse
        self.entries = PackedEntryCache()
        self._lines: dict[int, tuple[Post, str]] = {}  # see render_changed
        self._groups: dict[str, GroupMemo] = {}  # see render_changed
        #: (kind, key) -> the group, its documents and their memos, as planned last build
        self._docs: dict[tuple[str, str], GroupPlan] = {}
        #: The signatures the last ``render_changed`` returned: while the previous state's
        #: ``groups`` is that very mapping, that plan was published and saved as it was.
        self._signatures_out: dict[str, str] | None = None
        #: Feed pages' signatures by what they are a digest of, from the last build.
        self._page_sigs: dict[tuple[str, int, str], str] = {}
        #: Documents whose memo held / was worked out again in the last ``render_changed``:
        #: after a one-post edit in the service only the documents showing that post miss
        #: (tests and the bench read these; a miss for an unchanged post is lost work).
        self.memo_held = 0
        self.memo_missed = 0
        #: Of the held, documents taken from the rows a previous process saved (:mod:`.docrows`).
        self.rows_held = 0
        #: Groups taken over wholesale from the last build (:class:`GroupPlan`), and the
        #: documents looked at one by one, by the last ``render_changed``.
        self.groups_carried = 0
        self.docs_looked = 0
        #: Rows are read and written by the first planning only (see :mod:`.docrows`).
        self._first = True
        #: Saving the rows the first planning made, done by :meth:`save_rows` once the build
        #: is published: a failed build leaves state_dir as it was.
        self._rows_to_save: Callable[[], None] | None = None
        self._outlines = OpmlMemo()  # OPML's, see render_opml
        #: Feed pages (:mod:`feedsmith.core.pages`), when ``feed.pages`` is on.
        self.pages = PageRenderer(config) if config.feed.pages else None
        #: Podcast shows (:mod:`feedsmith.pipeline.podcast`): their RSS is planned apart.
        self.shows = ShowRenders(config) if config.podcasts else None

    def save_rows(self) -> None:
        """Leave the documents' rows of the last planning for the next process, if it made
        any to leave (called after the state is saved)."""
        pending, self._rows_to_save = self._rows_to_save, None
        if pending is not None:
            pending()

    def render(self, groups: list[FeedGroup]) -> tuple[dict[str, bytes], list[FeedInfo]]:
        """Every group in every configured format, plus ``index.opml``, as bytes in memory."""
        rendered = self.render_changed(groups, None)
        files = {rel: rendered.files[rel] for rel in rendered.files}
        assert all(isinstance(d, bytes) for d in files.values())  # never started on a pool
        return files, rendered.infos  # type: ignore[return-value]

    def render_changed(
        self,
        groups: list[FeedGroup],
        previous: BuildState | None,
        suspects: set[str] | None = None,
    ) -> Rendered:
        """Render only the feeds whose signature changed since ``previous`` (all without one).

        A feed is *kept* instead — not rendered, compressed or written — when its signature
        equals the one recorded in the state *and* each of its files (and ``.gz``) on disk
        still has the size and mtime recorded for it; anything else renders it again (and
        ``publish`` then writes only bytes that really differ). With ``suspects`` (the watcher's
        answer, see :meth:`~feedsmith.pipeline.tracking.ChangeTracker.output_touched`) only those
        files are stat'ed: the others were not touched since ``previous`` recorded them.
        """
        cfg = self.config
        max_entries = cfg.feed.max_entries
        files = LazyFiles()
        infos: list[FeedInfo] = []
        kept: list[str] = []
        signatures: dict[str, str] = {}
        html: dict[str, str] = {}
        output_dir = cfg.output_dir

        def intact(rel: str) -> bool:
            assert previous is not None
            record = previous.files.get(rel)
            if suspects is None or rel in suspects:
                return file_intact(output_dir, rel, record)
            return record is not None and "mtime_ns" in record and "gz_mtime_ns" in record

        # With ``suspects``, a document is intact unless a file is a suspect, unrecorded or
        # recorded without its stats: sets made once, not a call per file (~22,000 per edit).
        # When the previous state is what the last plan published (the service), every record
        # has its stats (the publish just stat'ed or wrote each file) and a group that is the
        # very object it was, with no suspect file, is kept whole: its documents as they were.
        doubtful = None
        trusted = (
            previous is not None
            and suspects is not None
            and self._signatures_out is not None
            and previous.groups is self._signatures_out
        )
        if previous is not None and suspects is not None:
            files_before = previous.files
            doubtful = (
                suspects
                if trusted
                else suspects
                | {
                    rel
                    for rel, rec in files_before.items()
                    if "mtime_ns" not in rec or "gz_mtime_ns" not in rec
                }
            )

        def all_intact(paths: dict[str, str]) -> bool:
            if doubtful is None and suspects is None and previous is not None:
                records = previous.files  # every file is stat'ed: one pass for the feed's files
                return records_intact(
                    output_dir, ((rel, records.get(rel)) for rel in paths.values())
                )
            if doubtful is None:
                return all(map(intact, paths.values()))
            rels = paths.values()
            return doubtful.isdisjoint(rels) and all(map(files_before.__contains__, rels))

        # id(post) -> (post, its line of a signature). Kept from the last build: in the service
        # most posts are the very same objects build after build (holding them keeps ids valid).
        previous_lines = self._lines
        lines: dict[int, tuple[Post, str]] = {}
        previous_groups = self._groups
        memos: dict[str, GroupMemo] = {}
        held = missed = from_rows = 0
        # A builder's first planning reads the rows a previous process saved, and saves them
        # again (see .docrows): a new process then works out only the documents whose
        # posts changed, not all ~5,000 of them (~1 s at 10,000 posts).
        first = self._first and previous is not None and self.parse.persist_cache
        self._first = self._first and previous is None
        rows = post_keys = None
        self._rows_to_save = None
        if first:
            rows = docrows.load(rows_path(cfg.state_dir), self.fingerprint)
            post_keys = docrows.post_keys(
                groups, partial(self._line, lines=lines, previous=previous_lines)
            )
            rows.check(post_keys)
        newest_all: datetime | None = None
        # Re-read every build: a template edited while ``serve`` runs re-renders the pages.
        page_digest = self.pages.refresh() if self.pages is not None else ""
        if self.shows is not None:
            self.shows.start()

        def keep_or_render(
            sig_key: str, signature: str, paths: dict[str, str], render: Callable[[], Any]
        ) -> None:
            """A file set with no pool task (pages, assets): kept when unchanged, else added."""
            signatures[sig_key] = signature
            if (
                previous is not None
                and previous.groups.get(sig_key) == signature
                and all_intact(paths)
            ):
                kept.extend(paths.values())
            else:
                files.add(paths, render)

        previous_docs = self._docs
        docs_of: dict[tuple[str, str], GroupPlan] = {}
        page_sigs: dict[tuple[str, int, str], str] = {}
        carried = looked = 0
        page_size = cfg.feed.archive_page_size
        same_docs: set[int] = set()  # ids of the Docs resplit took as they were
        for group in groups:
            # The subscription document, then its archive pages (feedsmith.core.archive): each is
            # a document of its own here, with its own signature, kept or rendered alone. A
            # group that is the very object it was last build (regroup keeps untouched groups)
            # has the very same documents, so their split and memos are taken as they were.
            known = previous_docs.get((group.kind, group.key))
            same_group = known is not None and known.group is group
            whole = (
                trusted
                and known is not None
                and same_group
                and known.rels.isdisjoint(doubtful or ())
            )
            if known is not None and whole:
                # Published last build as planned, nothing of it touched since: kept whole.
                memos.update(known.memos)
                signatures.update(known.signatures)
                kept.extend(known.paths)
                held += len(known.memos)
                carried += 1
                docs = known.docs
                docs_of[group.kind, group.key] = known
            elif known is not None and same_group:
                docs = known.docs
            elif known is not None and (resplit_docs := resplit(known, group, page_size)):
                docs = resplit_docs  # its pages that hold the very same posts are as they were
                same_docs = set(map(id, known.docs))
            else:
                subscription, pages = archive_groups(group, cfg.feed)
                docs = [
                    Doc(doc, doc.posts[:max_entries], document_key(doc))
                    for doc in (subscription, *pages)
                ]
            for one in () if whole else docs:
                doc, shown, sig_key = one
                looked += 1
                memo = previous_groups.get(sig_key)
                if memo is not None and (
                    same_group or id(one) in same_docs or memo.holds(doc, shown)
                ):
                    held += 1
                elif rows is not None and (memo := rows.memo(sig_key, doc, shown)) is not None:
                    held += 1
                    from_rows += 1
                else:
                    missed += 1
                    memo = group_memo(
                        cfg,
                        self.fingerprint,
                        doc,
                        shown,
                        lines,
                        previous_lines,
                        pages=self.pages is not None,
                        shows=self.shows is not None,
                    )
                memos[sig_key] = memo
                paths = memo.paths
                signatures[sig_key] = memo.signature
                if (
                    previous is not None
                    and previous.groups.get(sig_key) == memo.signature
                    and all_intact(paths)
                ):
                    kept.extend(paths.values())
                else:
                    keys = [
                        documents.fragment_key(self._line(post, lines, previous_lines), doc, cfg)
                        for post in shown
                    ]
                    files.add(
                        paths,
                        self._group_renderer(doc, shown, paths, html, keys),
                        partial(self._group_task, doc, shown, paths, keys),
                    )
            same_docs.clear()
            if not whole:
                docs_of[group.kind, group.key] = group_plan(group, docs, memos)
            if self.shows is not None:
                self.shows.plan(
                    group,
                    self.fingerprint,
                    partial(self._line, lines=lines, previous=previous_lines),
                    partial(self._hydrate, memo=html),
                    keep_or_render,
                )
            subscription, _, sub_key = docs[0]
            memo = memos[sub_key]
            if self.pages is not None and memo.info.page is not None:
                # The page shows some of what the subscription document shows (titles and
                # summaries, not content), its archive links and the feed's post count,
                # through the template: its signature is all of these, so a post's body
                # edited leaves the pages of its feeds as they were.
                if not memo.page:
                    # A new process has no memo: the state keeps the page key beside the
                    # document's signature it was worked out for (~10 ms a 100 pages).
                    known_page = previous.groups.get(sub_key + "@pagekey") if previous else None
                    mark = memo.signature + ":"
                    if known_page is not None and known_page.startswith(mark):
                        memo.page = known_page[len(mark) :]
                    else:
                        memo.page = page_key(self.fingerprint, subscription, memo.shown)
                signatures[sub_key + "@pagekey"] = memo.signature + ":" + memo.page
                page_of = (memo.page, len(group.posts), page_digest)
                page_sig = self._page_sigs.get(page_of) or digest(list(page_of))
                page_sigs[page_of] = page_sig
                keep_or_render(
                    sub_key + "@page",
                    page_sig,
                    {"html": memo.info.page},
                    partial(self._render_page, subscription, memo.shown),
                )
            infos.append(memo.info)
            if memo.newest is not None and (newest_all is None or memo.newest > newest_all):
                newest_all = memo.newest
        self._groups = memos
        self._docs = docs_of
        self._page_sigs = page_sigs
        self.memo_held, self.memo_missed, self.rows_held = held, missed, from_rows
        self.groups_carried, self.docs_looked = carried, looked
        if (
            rows is not None
            and post_keys is not None
            and missed
            and (missed > docrows.RESAVE_SHARE * len(memos) or not from_rows)
        ):
            self._rows_to_save = partial(
                docrows.save, rows_path(cfg.state_dir), self.fingerprint, memos, post_keys, rows
            )
        if self.pages is not None:
            for name in ASSETS:
                data = asset_bytes(name)
                asset_sig = hashlib.sha256(data).hexdigest()
                paths = {"asset": name}
                keep_or_render(f"asset:{name}", asset_sig, paths, lambda d=data: {"asset": d})
        opml_sig = opml_signature(self.fingerprint, groups, newest_all)
        signatures["opml"] = opml_sig
        if previous is not None and previous.groups.get("opml") == opml_sig and intact(OPML):
            kept.append(OPML)
        else:
            opml = render_opml(groups, cfg, self._outlines)
            files.add({"opml": OPML}, lambda: {"opml": opml})
        self._lines = lines
        self._signatures_out = signatures
        return Rendered(files, infos, kept, signatures)

    _line = staticmethod(line)

    def _render_page(self, group: FeedGroup, shown: tuple[Post, ...]) -> dict[str, bytes]:
        assert self.pages is not None
        return {"html": self.pages.render(group, shown)}

    def _group_task(
        self, group: FeedGroup, shown: tuple[Post, ...], paths: dict[str, str], keys: list[str]
    ) -> tuple[Any, ...]:
        """What a pool worker needs to render the group: the shown posts, their compressed HTML
        (decompressed in the worker), the formats and the entry keys. Only shown posts travel."""
        if documents.document_config(group, self.config) is self.config:
            z = [self._html_z(post) for post in shown]
        else:  # summary-only entries: no HTML travels
            z = [None] * len(shown)
        return (dataclasses.replace(group, posts=shown), z, paths, keys)

    def _html_z(self, post: Post) -> bytes | str | None:
        if post.content_html or self.parse.index is None:
            return post.content_html
        entry = self.parse.index.get(post.source)
        return html_z_ref(entry) if entry is not None else None  # read when sent, not kept

    def _group_renderer(
        self,
        group: FeedGroup,
        shown: tuple[Post, ...],
        paths: dict[str, str],
        html: dict[str, str],
        keys: list[str],
    ) -> Callable[[], dict[str, bytes]]:
        def render() -> dict[str, bytes]:
            # Only posts whose entries are not cached need their HTML back.
            return documents.render_group(
                dataclasses.replace(group, posts=shown),
                self.config,
                tuple(paths),
                cache=self.entries,
                keys=keys,
                prepare=lambda post: self._hydrate(post, html),
            )

        return render

    def _hydrate(self, post: Post, memo: dict[str, str]) -> Post:
        """The post with its HTML back from the index. ``memo`` keeps recently decompressed
        HTML (the newest posts appear in many feeds) but is bounded: holding every shown
        post's HTML at once would be ~100 MB at 10,000 posts."""
        if post.content_html or self.parse.index is None:
            return post
        text = memo.get(post.source)
        if text is None:
            entry = self.parse.index.get(post.source)
            text = html_of(entry) if entry is not None else ""
            if len(memo) >= HTML_MEMO:
                memo.clear()
            memo[post.source] = text
        return hydrate(post, text)


def plan_id_map(output_dir: Path, data: bytes, rendered: Rendered, state: BuildState) -> None:
    """Publish the id map (``data``) as ``ids.json`` beside the feeds (kept when unchanged), so
    a build without ``state_dir`` (a fresh CI clone) recovers it from the published tree."""
    signature = hashlib.sha256(data).hexdigest()
    rendered.signatures["ids"] = signature
    record = state.files.get(ID_MAP)
    if state.groups.get("ids") == signature and file_intact(output_dir, ID_MAP, record):
        rendered.kept.append(ID_MAP)
    else:
        rendered.files.add({"ids": ID_MAP}, lambda: {"ids": data})
