"""The facts of a post's own media files, read from the files: size, type, duration, pixels.

The parse (pure, :mod:`feedsmith.core.media`) names the files a post's ``image`` and
enclosures point at; after ``collect`` this module looks at them — the edge, like
:mod:`.links` — and gives each post its :class:`Picture`/:class:`Enclosure` with the facts
filled in and its hashes chained to them (:func:`feedsmith.core.entry_hash.with_media`). So an
edited recording changes its enclosure's ``length`` and the feeds' bytes, never the entry id.

Which files are ours: those under ``media_dir`` (URLs ``{site.url}/media/<path>``) and, on a
Jekyll site, those under the site's folder (Jekyll copies static files as they are, so
``/images/a.png`` is ``<root>/images/a.png``). A plain site's other site paths are pages we do
not have: they are published as given, unmeasured. A path that resolves (through ``..`` or a
symlink) outside its folder is refused, and is never opened.

Probing reads headers only (Pillow's lazy open, mutagen's tag and stream headers) and is
remembered by path, size and ``mtime_ns`` — in memory, and in ``state_dir/media-facts.json``
for the next process — so a rebuild costs one ``stat`` per file. Every problem (missing,
zero bytes, unreadable, unknown type, outside the folder) is a warning naming the post and the
front-matter line; the post is published, without the enclosure (a link with a wrong length
makes podcatchers fail) but with its picture's URL (as before media were measured).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mutagen

from feedsmith.core.config import Config
from feedsmith.core.decoding import display_path
from feedsmith.core.entry_hash import with_media
from feedsmith.core.media import MIME_BY_EXTENSION, guess_type
from feedsmith.core.model import Enclosure, Picture, Post, Problem, ScanResult
from feedsmith.system.statedir import write_atomic

log = logging.getLogger("feedsmith.build")

FACTS_FILE = "media-facts.json"
FACTS_VERSION = 1

#: Magic bytes for what neither Pillow nor mutagen reads: (prefix, MIME type).
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
)
#: Containers whose content type says less than the extension (an ``.m4v`` is an MP4 that
#: mutagen calls ``audio/mp4``): the extension's type wins within one family.
_FAMILIES = (
    frozenset({"audio/mp4", "video/mp4", "audio/aac", "audio/x-m4a"}),
    frozenset({"audio/ogg", "video/ogg"}),
    frozenset({"audio/webm", "video/webm"}),
    frozenset({"application/zip", "application/epub+zip"}),
)


_KNOWN_TYPES = frozenset(MIME_BY_EXTENSION.values())


@dataclass(frozen=True)
class Facts:
    """What one file is; ``error`` set (and the rest empty) when it cannot be published."""

    size: int = 0
    mime_type: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None


def _sniff(path: Path, head: bytes) -> tuple[str | None, float | None, int | None, int | None]:
    """``(type, duration, width, height)`` from the file's content; ``None`` where unknown."""
    with contextlib.suppress(Exception):  # Pillow raises many kinds on non-images
        # A start-up cost only (~40 ms, paid by the first build that measures a file): a
        # no-change ``feedsmith build`` never gets here.
        from PIL import Image

        with Image.open(path) as image:
            return image.get_format_mimetype(), None, image.width, image.height
    with contextlib.suppress(Exception):  # mutagen raises its own errors and others
        found = mutagen.File(path)
        if found is not None:
            length = getattr(found.info, "length", None)
            duration = round(float(length), 3) if length else None
            # mutagen lists a format's names, unofficial ones first (``audio/mp3``): the
            # first registered one is what players and podcatchers expect.
            names = list(found.mime)
            mime = next((m for m in names if m in _KNOWN_TYPES), names[0])
            return mime, duration, None, None
    for prefix, mime in _MAGIC:
        if head.startswith(prefix):
            return mime, None, None, None
    return None, None, None, None


def probe(path: Path, size: int) -> Facts:
    """Read ``path``'s facts (``size`` from its stat)."""
    if size == 0:
        return Facts(error="is empty (0 bytes)")
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        return Facts(error=f"cannot be read: {exc.strerror or exc}")
    mime, duration, width, height = _sniff(path, head)
    by_name = guess_type(path.name)
    same_family = any(mime in f and by_name in f for f in _FAMILIES)
    if mime is None or same_family:
        mime = by_name
    if mime is None:
        return Facts(size=size, error="is of an unknown type (neither its content nor its name)")
    if width is None and mime.startswith("image/") and mime != "image/svg+xml":
        # Named as a picture Pillow reads, yet it could not: broken, or not what it says.
        return Facts(size=size, error=f"is not a readable image (named as {mime})")
    return Facts(size, mime, duration, width, height)


class MediaProbe:
    """One site's media facts, remembered across builds by (path, size, mtime_ns)."""

    def __init__(self, config: Config, *, persist: bool = True) -> None:
        self.config = config
        self.base = config.site.url
        self.media_root = config.media_dir.resolve() if config.media_dir is not None else None
        self.static_root = config.jekyll.root.resolve() if config.jekyll is not None else None
        self.path = config.state_dir / FACTS_FILE if persist else None
        self._facts: dict[str, tuple[int, int, Facts]] = {}
        self._loaded = False
        self._dirty = False
        #: source → (post as parsed, its facts, post as resolved): an unchanged post and files
        #: give back the very same object, which later steps recognise by identity.
        self._resolved: dict[str, tuple[Post, tuple[Any, ...], Post]] = {}
        #: Each file the last resolve looked at → its stat key (``None``: missing).
        self.seen: dict[str, tuple[int, int] | None] = {}

    # -- the files ---------------------------------------------------------------------------

    def _locate(self, local: str | None, static: str | None) -> tuple[Path | None, str | None]:
        """The file a reference names, confined to its folder; or why there is none."""
        root, rel, what = (
            (self.media_root, local, "media_dir")
            if local is not None
            else (self.static_root, (static or "").lstrip("/"), "the site's folder")
        )
        if root is None or not rel:
            return None, None
        path = root / rel
        try:
            real = path.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop
            return None, f"cannot be resolved: {exc}"
        if not real.is_relative_to(root):
            return None, f"is outside {what}"
        return real, None

    def facts(self, path: Path) -> Facts:
        key = str(path)
        try:
            st = path.stat()
        except FileNotFoundError:
            self.seen[key] = None
            return Facts(error="does not exist")
        except OSError as exc:
            self.seen[key] = None
            return Facts(error=f"cannot be read: {exc.strerror or exc}")
        stat_key = (st.st_size, st.st_mtime_ns)
        self.seen[key] = stat_key
        if not path.is_file():
            return Facts(error="is not a file")
        self._load()
        known = self._facts.get(key)
        if known is not None and (known[0], known[1]) == stat_key:
            return known[2]
        found = probe(path, st.st_size)
        self._facts[key] = (st.st_size, st.st_mtime_ns, found)
        self._dirty = True
        return found

    # -- the posts ---------------------------------------------------------------------------

    def resolve(self, result: ScanResult) -> ScanResult:
        """``result`` with every post's own media measured; problems added to it."""
        self.seen = {}
        if self.media_root is None and self.static_root is None:
            return result
        posts: list[Post] = []
        resolved: dict[str, tuple[Post, tuple[Any, ...], Post]] = {}
        for post in result.posts:
            if not _has_files(post):
                posts.append(post)
                continue
            problems: list[Problem] = []
            picture, enclosures = self._measure(post, problems)
            key = (picture, enclosures, tuple(p.reason for p in problems))
            last = self._resolved.get(post.source)
            if last is not None and last[0] is post and last[1] == key:
                out = last[2]
            else:
                out = with_media(post, picture, enclosures, self.base)
            resolved[post.source] = (post, key, out)
            result.problems.extend(problems)
            posts.append(out)
        self._resolved = resolved
        self._save()
        return dataclasses.replace(result, posts=posts)

    def _measure(
        self, post: Post, problems: list[Problem]
    ) -> tuple[Picture | None, tuple[Enclosure, ...]]:
        shown = display_path(self.config.posts_dir / post.source)

        def report(line: int | None, what: str, reason: str) -> None:
            problems.append(Problem(shown, line, "warning", f"{what} {reason}"))

        picture = post.picture
        if picture is not None and (picture.local or picture.static):
            path, why = self._locate(picture.local, picture.static)
            facts = self.facts(path) if path is not None else Facts(error=why)
            if path is None and why is None:
                pass  # a site path on a site with no such folder: published as given
            elif facts.error is not None:
                report(picture.line, f"image: {picture.local or picture.static}", facts.error)
            else:
                picture = dataclasses.replace(
                    picture,
                    width=facts.width if facts.width is not None else picture.width,
                    height=facts.height if facts.height is not None else picture.height,
                    mime_type=facts.mime_type,
                )
        enclosures: list[Enclosure] = []
        for enclosure in post.enclosures:
            if enclosure.local is None and enclosure.static is None:
                enclosures.append(enclosure)
                continue
            path, why = self._locate(enclosure.local, enclosure.static)
            if path is None and why is None:
                enclosures.append(enclosure)  # a site path on a site with no such folder
                continue
            facts = self.facts(path) if path is not None else Facts(error=why)
            name = enclosure.local or enclosure.static
            if facts.error is not None:
                report(enclosure.line, f"enclosure: {name}", facts.error + "; left out")
                continue
            enclosures.append(
                dataclasses.replace(
                    enclosure,
                    length=facts.size,
                    mime_type=facts.mime_type,
                    duration=facts.duration if facts.duration is not None else enclosure.duration,
                )
            )
        return picture, tuple(enclosures)

    def key(self) -> str:
        """The stat of every file the last resolve looked at: the fast path's media key."""
        return stat_digest(self.seen)

    # -- the facts file ----------------------------------------------------------------------

    def _load(self) -> None:
        if self._loaded or self.path is None:
            self._loaded = True
            return
        self._loaded = True
        try:
            raw = json.loads(self.path.read_bytes())
            if raw.get("version") != FACTS_VERSION:
                return
            for name, (size, mtime_ns, fields) in raw["files"].items():
                self._facts[str(name)] = (int(size), int(mtime_ns), Facts(**fields))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            self._facts = {}  # losing it costs a probe per file, nothing else

    def _save(self) -> None:
        if not self._dirty or self.path is None:
            return
        self._dirty = False
        live = {k: v for k, v in self._facts.items() if k in self.seen}
        files = {
            name: [size, mtime_ns, dataclasses.asdict(facts)]
            for name, (size, mtime_ns, facts) in sorted(live.items())
        }
        data = json.dumps({"version": FACTS_VERSION, "files": files}, sort_keys=True).encode()
        try:
            write_atomic(self.path, data)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.path, exc)


def stat_digest(seen: dict[str, tuple[int, int] | None]) -> str:
    return hashlib.sha256(repr(sorted(seen.items())).encode("utf-8", "surrogatepass")).hexdigest()


def restat(paths: list[str]) -> dict[str, tuple[int, int] | None]:
    """The stat keys of ``paths`` now (``None``: missing), as :meth:`MediaProbe.facts` takes."""
    out: dict[str, tuple[int, int] | None] = {}
    for name in paths:
        try:
            st = os.stat(name)
            out[name] = (st.st_size, st.st_mtime_ns)
        except OSError:
            out[name] = None
    return out


def _has_files(post: Post) -> bool:
    picture = post.picture
    if picture is not None and (picture.local is not None or picture.static is not None):
        return True
    return any(e.local is not None or e.static is not None for e in post.enclosures)
