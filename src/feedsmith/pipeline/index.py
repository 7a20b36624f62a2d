"""Parse, incrementally: the parse index, which spares re-reading and re-parsing unchanged files.

Files whose stat key is unchanged are not read; changed keys with unchanged bytes are not
re-parsed. The index lives in memory in the service and in ``state_dir`` between processes
(:mod:`feedsmith.pipeline.cache`). Here too is *last known good* (:mod:`feedsmith.pipeline.kept`): a
broken file that held a valid post yields that post's last valid version, not a hole in its feeds.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections.abc import Iterable

from feedsmith.core.config import Config
from feedsmith.core.decoding import display_path
from feedsmith.core.model import ParseOutcome
from feedsmith.core.posts import parse_post
from feedsmith.core.text import escape_controls
from feedsmith.pipeline.cache import (
    CACHE_FILE,
    Chunks,
    Entry,
    content_sha256,
    html_of,
    hydrate,
    load_index,
    make_entry,
    rekeyed,
    save_index,
)
from feedsmith.pipeline.includes import includes_for
from feedsmith.pipeline.kept import (
    KEPT_FILE,
    Kept,
    is_broken,
    keep,
    kept_from,
    load_kept,
    save_kept,
)
from feedsmith.pipeline.listing import Listed, Listing, display_namer, read_source, relabel
from feedsmith.pipeline.report import ProgressFn
from feedsmith.pipeline.scheduler import BuildPool
from feedsmith.pipeline.sources import SourceFile

log = logging.getLogger("feedsmith.build")

#: In a long-lived builder, persist the parse index at most this often (see ``save``).
CACHE_SAVE_SECONDS = 300.0

#: Every file's outcome by ``rel``, and the files that could not be read (retried each build).
Scanned = tuple[dict[str, ParseOutcome], set[str]]


def _reads_others(entry: Entry) -> bool:
    """The post's Liquid read files beside it (``include_relative``), which no stat key of its
    own covers: such a post is parsed again on every full scan (few posts, ~1 ms each)."""
    post = entry.outcome.post
    return post is not None and post.reads_others


class ParseIndex:
    """``rel`` -> the last read of that file (key, hash, outcome, compressed HTML), plus the
    last valid versions of files that are broken now. Loaded from ``state_dir`` on first use.

    ``persist``: write the index back to ``state_dir`` (see :meth:`save`)."""

    def __init__(self, config: Config, fingerprint: str, *, persist: bool = True) -> None:
        self.config = config
        self.fingerprint = fingerprint
        self.persist_cache = persist
        self.cache_path = config.state_dir / CACHE_FILE
        self.kept_path = config.state_dir / KEPT_FILE
        self.index: dict[str, Entry] | None = None
        self._chunks = Chunks()  # where the cache file holds what: a save copies the unchanged
        self._index_changed = False
        self._kept: dict[str, Kept] | None = None
        self._kept_changed = False
        self._saved_at: float | None = None  # monotonic time of the last cache save
        self.last_parsed = 0  # files actually parsed by the last build (tests, bench)
        # The entries that are racy / read other files, noted as they enter the index: both
        # questions are asked after every build, and an entry's answer never changes (it is
        # fixed when the entry is made), so a one-post edit notes one entry, not 10,000.
        self._racy: set[str] = set()
        self._others: set[str] = set()
        self.last_noted = 0  # entries the last load or scan noted (tests)
        # The last outcomes list returned and the keys it was for (held): a delta on those
        # very keys that adds and removes no file patches the list at the suspects' places
        # (as collect does) instead of a lookup per file; ``last_patched`` counts the places.
        self._last_list: list[ParseOutcome] | None = None
        self._last_keys: list[tuple[str, int, int]] | None = None
        self.last_patched: int | None = None

    def load(self) -> None:
        if self.index is None:
            self.index = load_index(self.cache_path, self.fingerprint, self._chunks, self._recover)
            self._racy.clear()
            self._others.clear()
            self._note(self.index, self.index)
        if self._kept is None:
            self._kept = load_kept(self.kept_path)

    def _note(self, index: dict[str, Entry], rels: Iterable[str]) -> None:
        """Note whether each of ``rels`` (forgotten first) is racy or reads other files."""
        racy, others = self._racy, self._others
        noted = 0
        for rel in rels:
            noted += 1
            racy.discard(rel)
            others.discard(rel)
            entry = index.get(rel)
            if entry is None:
                continue
            if entry.racy:
                racy.add(rel)
            if _reads_others(entry):
                others.add(rel)
        self.last_noted = noted

    @property
    def racy(self) -> bool:
        """Some file was read so soon after it was written that its stat cannot be trusted."""
        return bool(self._racy)

    @property
    def reads_others(self) -> bool:
        """Some post's Liquid read a file no stat key covers (``include_relative``)."""
        return bool(self._others)

    def outcomes(
        self,
        listing: Listing,
        listed: Listed | None,
        pool: BuildPool,
        progress: ProgressFn | None = None,
    ) -> tuple[list[ParseOutcome], Scanned]:
        """Every source's outcome in ``rel`` order, from the index where its key still holds.

        With ``listing.delta`` (the watcher's suspects, see
        :meth:`~feedsmith.pipeline.tracking.ChangeTracker.delta`) only those files are looked at,
        and each is read again even if its key did not move (an event means a write, and a
        write in the same mtime tick keeps the key); every other outcome is the last
        successful build's (``listed``). Returns the outcomes and, for the next build to
        patch, every file's outcome and the unreadable files."""
        self.load()
        old = self.index
        assert old is not None
        keys = listing.keys
        items: list[tuple[str, int, int]]
        if listing.delta is not None and listed is not None:
            force = True
            # Updated in place, not copied (10,000 entries each): a build that fails after
            # this loses track (``SiteBuilder._lose_track``), so the next one scans in full,
            # and the entries left are each a true read of its file.
            new = old
            outcome_of = listed.outcome_of
            unreadable = listed.unreadable
            items = []
            changed = False
            for rel, key in sorted(listing.delta.items()):
                if key is not None:
                    items.append((rel, *key))
                    continue
                changed = new.pop(rel, None) is not None or changed
                outcome_of.pop(rel, None)
                unreadable.discard(rel)
                self.forget_kept(rel)  # deleted: a deliberate removal
        else:
            force = False
            new, outcome_of, unreadable = {}, {}, set()
            items = keys
            changed = len(old) != len(keys) or any(rel not in old for rel, _, _ in keys)
        slots: list[Entry | ParseOutcome | None] = []
        todo: list[tuple[int, SourceFile, str]] = []
        shown_of = display_namer(self.config.posts_dir)
        for i, (rel, size, mtime_ns) in enumerate(items):
            shown = shown_of(rel)
            entry = old.get(rel)
            if entry is not None and entry.shown != shown:
                entry = relabel(entry, shown)  # built from another working directory
                changed = True
            if (
                entry is not None
                and not force
                and entry.trusted(size, mtime_ns)
                and not _reads_others(entry)
            ):
                slots.append(entry)
                continue
            src = listing.source(rel, size, mtime_ns)
            if entry is not None:
                # Key changed (or racy, or written to): read, and re-parse only when the bytes
                # changed.
                read_ns = time.time_ns()
                data = self.read(src, shown)
                if isinstance(data, ParseOutcome):
                    slots.append(data)
                    changed = True
                    continue
                digest = content_sha256(data)
                if digest == entry.sha256 and not _reads_others(entry):
                    fresh = rekeyed(entry, src.size, src.mtime_ns, read_ns)
                    # Worth saving only when the key moved or the entry stopped being racy
                    # (a no-change rebuild must not rewrite the cache file).
                    if (entry.size, entry.mtime_ns, entry.racy) != (
                        fresh.size,
                        fresh.mtime_ns,
                        fresh.racy,
                    ):
                        changed = True
                    slots.append(fresh)
                    continue
                changed = True
            slots.append(None)
            todo.append((i, src, shown))
        total = len(todo)
        self.last_parsed = total
        if todo:
            changed = True
            if progress is not None:
                progress(0, total)
            for done, (i, result) in enumerate(pool.parse_many(todo, self.parse_entry), 1):
                slots[i] = result
                if progress is not None:
                    progress(done, total)
        for (rel, _, _), slot in zip(items, slots, strict=True):
            assert slot is not None
            if isinstance(slot, Entry):
                previous = old.get(rel)  # before ``new[rel]``: ``new`` may be ``old``
                new[rel] = slot
                outcome_of[rel] = self.last_good(rel, slot.outcome, previous)
                unreadable.discard(rel)
            else:  # unreadable: not cached, retried next build
                previous = old.get(rel)
                changed = new.pop(rel, None) is not None or changed
                outcome_of[rel] = self.last_good(rel, slot, previous)
                unreadable.add(rel)
        if self._kept and listing.delta is None:
            for rel in set(self._kept).difference(rel for rel, _, _ in keys):
                self.forget_kept(rel)  # deleted while nobody watched
        self.index = new
        if listing.delta is not None and listed is not None:
            self._note(new, listing.delta)  # only they can have come, gone or changed
        else:
            self._racy.clear()
            self._others.clear()
            self._note(new, new)
        self._index_changed = self._index_changed or changed
        result = self._patched(keys, listing.delta, listed, outcome_of)
        self.last_patched = None if result is None else len(listing.delta or ())
        if result is None:
            result = [outcome_of[rel] for rel, _, _ in keys]
        self._last_list, self._last_keys = result, keys
        return result, (outcome_of, unreadable)

    def _patched(
        self,
        keys: list[tuple[str, int, int]],
        delta: dict[str, tuple[int, int] | None] | None,
        listed: Listed | None,
        outcome_of: dict[str, ParseOutcome],
    ) -> list[ParseOutcome] | None:
        """The outcomes in ``keys`` order as the last list with the ``delta`` files' places
        replaced, or ``None`` (make it whole) unless ``delta`` patched the very keys that list
        was for and no file came or went: every other outcome is the last one, and the
        places are found by bisection (``keys`` is sorted by ``rel``)."""
        last = self._last_list
        if (
            delta is None
            or listed is None
            or last is None
            or listed.keys is not self._last_keys
            or len(keys) != len(last)
            or len(keys) != len(listed.keys)
            or None in delta.values()
        ):
            return None
        out = list(last)
        for rel in delta:
            at = bisect_left(keys, (rel,))
            if at >= len(keys) or keys[at][0] != rel:
                return None  # a file came (and as many went): not a patch
            out[at] = outcome_of[rel]
        return out

    def last_good(self, rel: str, outcome: ParseOutcome, previous: Entry | None) -> ParseOutcome:
        """``outcome``, or for a broken file that held a valid post its last valid version.

        The version comes from the kept store, else from the index entry of the previous build
        (the file's last outcome, valid then); any other outcome ends keeping that file.
        """
        kept = self._kept
        assert kept is not None
        if not is_broken(outcome):
            self.forget_kept(rel)
            return outcome
        good = kept.get(rel)
        if good is None:
            if previous is None or previous.outcome.post is None:
                return outcome  # never valid (as far as we know): skipped as before
            post = hydrate(previous.outcome.post, html_of(previous))
            good = kept[rel] = kept_from(post, previous.mtime_ns)
            self._kept_changed = True
        return keep(outcome, good)

    def forget_kept(self, rel: str) -> None:
        if self._kept and self._kept.pop(rel, None) is not None:
            self._kept_changed = True

    def save_kept(self) -> None:
        if self._kept_changed and self._kept is not None:
            save_kept(self.kept_path, self._kept)
            self._kept_changed = False

    # -- change detection (the service) ---------------------------------------------------------

    def read(self, src: SourceFile, shown: str) -> bytes | ParseOutcome:
        return read_source(src, shown, self.config.max_post_bytes)

    def parse_entry(self, src: SourceFile, shown: str) -> Entry | ParseOutcome:
        read_ns = time.time_ns()
        data = self.read(src, shown)
        if isinstance(data, ParseOutcome):
            return data
        outcome = parse_post(data, src.rel, shown, self.config, includes_for(self.config, src.rel))
        return make_entry(src.size, src.mtime_ns, content_sha256(data), shown, outcome, read_ns)

    def _recover(self, rel: str) -> bytes | None:
        """The compressed HTML of ``rel`` parsed again, for an entry whose stored blob proved
        bad (see :mod:`feedsmith.pipeline.lazyblob`): the cache's damage, not the post's, so
        nothing is reported; the entry is parsed and saved anew by the next build."""
        self._index_changed = True
        path = self.config.posts_dir / rel
        try:
            st = path.stat()
        except OSError:
            return None
        src = SourceFile(path, rel, st.st_size, st.st_mtime_ns)
        entry = self.parse_entry(src, display_path(path))
        return entry.html_z if isinstance(entry, Entry) else None

    def parse_source(self, src: SourceFile) -> ParseOutcome:
        """One file → outcome (uncached). Unreadable files are invalid posts, not failures."""
        shown = display_path(self.config.posts_dir / src.rel)
        data = self.read(src, shown)
        if isinstance(data, ParseOutcome):
            return data
        return parse_post(data, src.rel, shown, self.config, includes_for(self.config, src.rel))

    def save(self, *, release: bool = False) -> None:
        """Persist the index after the first build of this builder, then at most every
        ``CACHE_SAVE_SECONDS``: in the service a one-post edit would otherwise pickle the whole
        10,000-entry index each time, and a cache a few edits behind only costs the next process
        re-parsing those few files (keys are always checked).

        ``release``: a one-shot cold build saves before rendering, and its entries then let go
        of their HTML, read back from the new file as feeds need it (~3 KB a post of the
        peak). A later ``save`` writes only what changed since."""
        if not (self.persist_cache and self._index_changed and self.index is not None):
            return
        now = time.monotonic()
        if self._saved_at is not None and now - self._saved_at < CACHE_SAVE_SECONDS:
            return
        try:
            recover = self._recover if release else None
            save_index(self.cache_path, self.fingerprint, self.index, self._chunks, release=recover)
            self._index_changed = False
            self._saved_at = None if release else now  # the end of the build saves as ever
        except OSError as exc:  # a cache that cannot be written costs the next process time
            log.warning(
                "cannot write parse cache %s: %s",
                escape_controls(str(self.cache_path)),
                escape_controls(str(exc)),
            )
