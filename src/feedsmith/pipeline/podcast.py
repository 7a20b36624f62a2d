"""Podcast shows at the edge: GUIDs kept in the state, cover art and linked files read from
disk, the show's RSS and chapters files planned like every other published file.

* ``podcast:guid`` is assigned once: the Podcast Index's UUID v5 of the feed URL the first time
  a show is built, then kept in ``state_dir/podcasts.json`` (and read back from the published
  RSS when the state is gone), so moving the site to another host keeps the show's identity.
* Cover art is opened with Pillow (size, format, colour mode) — I/O, so here, not in the core;
  :func:`feedsmith.core.podcast.checks.cover_findings` judges it.
* A transcript or chapters file named by path must exist under ``media_dir``; one that does
  not is reported and left out of the feed rather than published as a dead link.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from feedsmith.core.config import Config, PodcastShow
from feedsmith.core.decoding import display_path
from feedsmith.core.documents import doc_links
from feedsmith.core.groups import FeedGroup, group_posts
from feedsmith.core.layout import feed_base, feed_files, feed_url
from feedsmith.core.model import Post, Problem
from feedsmith.core.podcast.checks import CoverFacts, cover_findings, plan_findings
from feedsmith.core.podcast.episode import Episode, Finding
from feedsmith.core.podcast.show import ShowPlan, default_guid, plan_show, show_for
from feedsmith.core.render.podcast import render_show
from feedsmith.system.statedir import write_atomic

__all__ = ["GUIDS_FILE", "ShowRenders", "check_shows"]

log = logging.getLogger("feedsmith.build")

GUIDS_FILE = "podcasts.json"
_GUID_IN_RSS = re.compile(rb"<podcast:guid>([0-9a-f-]{36})</podcast:guid>")

#: ``keep_or_render(sig_key, signature, paths, render)`` of the planner.
KeepOrRender = Callable[[str, str, dict[str, str], Callable[[], dict[str, bytes]]], None]


class ShowRenders:
    """What the render planner asks about shows, kept between builds (GUIDs, cover facts)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._guids: dict[str, str] | None = None
        self._covers: dict[tuple[str, int, int], CoverFacts | str] = {}
        #: This build's report lines about shows (the planner's caller adds them to the report).
        self.problems: list[Problem] = []

    def start(self) -> None:
        self.problems = []

    def guid(self, show: PodcastShow, group: FeedGroup) -> str:
        """The show's GUID: the config's, else the one kept, else assigned now and kept."""
        if show.guid:
            return show.guid
        if self._guids is None:
            self._guids = _load_guids(self.config)
        known = self._guids.get(show.feed)
        if known is None:
            rel = feed_files(group, ["rss"])["rss"]
            known = _published_guid(self.config.output_dir / rel) or default_guid(
                feed_url(self.config, rel)
            )
            self._guids[show.feed] = known
            _save_guids(self.config, self._guids)
        return known

    def plan(
        self,
        group: FeedGroup,
        fingerprint: str,
        line: Callable[[Post], str],
        hydrate: Callable[[Post], Post],
        keep_or_render: KeepOrRender,
    ) -> bool:
        """Plan the show's RSS and chapters files when ``group`` is a show; False when not."""
        cfg = self.config
        show = show_for(group, cfg.podcasts)
        if show is None or "rss" not in cfg.feed.formats:
            return False
        plan = plan_show(show, group, cfg, self.guid(show, group), feed_base(group))
        plan, findings = self._checked(plan)
        self.problems.extend(self.report(findings))
        links = doc_links(group, cfg, "rss")
        paths = {"rss": feed_files(group, ["rss"])["rss"]}
        chapter_urls: dict[str, str] = {}
        for rel in plan.chapters:
            paths["chapters:" + rel] = rel
            slug = rel.rsplit("/", 1)[-1].removesuffix(".json")
            chapter_urls[slug] = feed_url(cfg, rel)
        parts: list[Any] = [fingerprint, plan.guid, group.kind, group.key, group.name, group.slug]
        for episode in plan.episodes:
            post = episode.post
            parts.append([line(post), repr(post.enclosures), repr(post.picture)])
            parts.append(repr(dataclasses.replace(episode, post=None)))  # type: ignore[arg-type]
        signature = hashlib.sha256(
            json.dumps(parts, default=str).encode("utf-8", "surrogatepass")
        ).hexdigest()

        def render() -> dict[str, bytes]:
            out = {
                "rss": render_show(
                    plan,
                    cfg,
                    links,
                    chapter_urls,
                    lambda e: dataclasses.replace(e, post=hydrate(e.post)),
                )
            }
            for rel, data in plan.chapters.items():
                out["chapters:" + rel] = data
            return out

        keep_or_render(f"podcast:{group.kind}:{group.key}", signature, paths, render)
        return True

    def _checked(self, plan: ShowPlan) -> tuple[ShowPlan, list[Finding]]:
        """The plan without links to local files that are missing, and every finding."""
        cfg = self.config
        findings = plan_findings(plan, cfg)
        media = cfg.media_dir
        episodes: list[Episode] = []
        for episode in plan.episodes:
            kept = []
            for t in episode.transcripts:
                if t.local is not None and (media is None or not (media / t.local).is_file()):
                    findings.append(_missing(episode, "transcript", t.local, media))
                else:
                    kept.append(t)
            chapters = episode.chapters
            local = chapters.local if chapters is not None else None
            if local is not None and (media is None or not (media / local).is_file()):
                findings.append(_missing(episode, "chapters", local, media))
                chapters = None
            episodes.append(
                dataclasses.replace(episode, transcripts=tuple(kept), chapters=chapters)
            )
        facts = self._cover(plan.show)
        if isinstance(facts, str):
            findings.append(Finding("error", f"podcast {plan.show.feed}: {facts}", None, "image"))
        elif facts is not None:
            findings.extend(
                dataclasses.replace(f, reason=f"podcast {plan.show.feed}: {f.reason}")
                for f in cover_findings(facts)
            )
        return dataclasses.replace(plan, episodes=tuple(episodes)), findings

    def _cover(self, show: PodcastShow) -> CoverFacts | str | None:
        """The cover's facts when it is a file under ``media_dir`` (``str``: why unreadable)."""
        image, media = show.image, self.config.media_dir
        if not image or "://" in image or image.startswith("/"):
            return None  # a URL or a site path: not ours to open at build time
        if media is None:
            return f"cover art {image!r} is a path under media_dir, and media_dir is not set"
        path = media / image
        try:
            st = path.stat()
        except OSError:
            return f"cover art not found: {display_path(path)}"
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in self._covers:
            self._covers[key] = _read_cover(path)
        return self._covers[key]

    def report(self, findings: list[Finding]) -> list[Problem]:
        """Findings as report lines: the post's file or the config file, and the key's line."""
        out: list[Problem] = []
        texts: dict[Path, str] = {}
        for f in findings:
            file = self.config.path if f.source is None else self.config.posts_dir / f.source
            if file not in texts:
                try:
                    texts[file] = file.read_text(encoding="utf-8-sig", errors="replace")
                except OSError:
                    texts[file] = ""
            line = _line_of(texts[file], f.key)
            out.append(Problem(display_path(file), line, f.severity, f.reason))
        return out


def check_shows(config: Config, posts: list[Post]) -> list[Problem]:
    """``feedsmith check``: every show's findings (nothing written, no GUID assigned)."""
    if not config.podcasts:
        return []
    renders = ShowRenders(config)
    renders._guids = {}  # check reads no state and writes none
    groups, _ = group_posts(posts, {})
    problems: list[Problem] = []
    matched: set[str] = set()
    for group in groups:
        show = show_for(group, config.podcasts)
        if show is None:
            continue
        matched.add(show.feed)
        plan = plan_show(show, group, config, show.guid or "", feed_base(group))
        problems.extend(renders.report(renders._checked(plan)[1]))
    for show in config.podcasts:
        if show.feed not in matched:
            problems.extend(
                renders.report(
                    [
                        Finding(
                            "warning",
                            f"podcast {show.feed}: no such feed (no post is in it)",
                            None,
                            "feed",
                        )
                    ]
                )
            )
    return problems


def _missing(episode: Episode, key: str, rel: str, media: Path | None) -> Finding:
    where = display_path(media / rel) if media is not None else rel
    return Finding(
        "warning", f"{key} file not found: {where} (left out of the feed)", episode.post.source, key
    )


def _read_cover(path: Path) -> CoverFacts | str:
    from PIL import Image, UnidentifiedImageError  # Pillow: ~50 ms, only when a show has art

    try:
        with Image.open(path) as img:
            return CoverFacts(img.width, img.height, img.format or "?", img.mode)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        return f"cover art cannot be read: {display_path(path)}: {exc}"


def _line_of(text: str, key: str | None) -> int | None:
    """The first line where ``key`` is written as a key or a value; ``None`` if not found."""
    if not key or not text:
        return None
    names = [key, key.replace("_", "-")] if "_" in key else [key]
    for i, row in enumerate(text.splitlines(), 1):
        stripped = row.strip().lstrip("- ").strip()
        for name in names:
            if stripped.startswith(name + ":") or stripped.strip("'\"") == name:
                return i
    for i, row in enumerate(text.splitlines(), 1):
        if key in row:
            return i
    return None


def _load_guids(config: Config) -> dict[str, str]:
    try:
        data = json.loads((config.state_dir / GUIDS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _save_guids(config: Config, guids: dict[str, str]) -> None:
    data = json.dumps(guids, sort_keys=True, indent=1).encode() + b"\n"
    try:
        write_atomic(config.state_dir / GUIDS_FILE, data)
    except OSError as exc:  # the GUID is still the published one next time (read back)
        log.warning("podcast GUIDs not saved: %s", exc)


def _published_guid(path: Path) -> str | None:
    """The GUID in the show's published RSS (a lost ``state_dir``): kept, never re-derived."""
    try:
        with path.open("rb") as fh:
            head = fh.read(64 * 1024)
    except OSError:
        return None
    match = _GUID_IN_RSS.search(head)
    return match.group(1).decode() if match else None
