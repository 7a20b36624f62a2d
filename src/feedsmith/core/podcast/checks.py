"""What Apple Podcasts (and the Podcast Index namespace) would say about a show's feed.

``error``: Apple Podcasts Connect refuses the feed or the episode (no category, an unknown
one, no ``explicit``, no language, no cover, an enclosure without length or type or of a type
Apple does not play, two episodes with one GUID). ``warning``: accepted but degraded (a text
cut to Apple's limits, an http enclosure on an https site, no owner e-mail, a missing
transcript). Cover art is checked at the edge (:mod:`feedsmith.pipeline.podcast`): reading
pixels is I/O; :func:`cover_findings` judges what was read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from feedsmith.core.config import Config, PodcastShow
from feedsmith.core.podcast.categories import category_problem
from feedsmith.core.podcast.episode import Finding
from feedsmith.core.podcast.show import ShowPlan

__all__ = [
    "APPLE_MEDIA_TYPES",
    "DESCRIPTION_BYTES",
    "TEXT_CHARS",
    "CoverFacts",
    "cover_findings",
    "plan_findings",
]

#: What Apple Podcasts plays (M4A, MP3, MOV, MP4, M4V, PDF), by MIME type.
APPLE_MEDIA_TYPES = frozenset(
    {
        "audio/mpeg",
        "audio/x-m4a",
        "audio/mp4",
        "audio/m4a",
        "video/mp4",
        "video/quicktime",
        "video/x-m4v",
        "application/pdf",
    }
)
#: Apple's limit on a show's or an episode's description.
DESCRIPTION_BYTES = 4000
#: Apple's limit on titles, author and owner names.
TEXT_CHARS = 255


@dataclass(frozen=True)
class CoverFacts:
    """What the edge read from the cover art file (``None``: not a local file)."""

    width: int
    height: int
    format: str  # Pillow's: JPEG, PNG, …
    mode: str  # Pillow's: RGB, RGBA, CMYK, P, …


def cover_findings(facts: CoverFacts) -> list[Finding]:
    out: list[Finding] = []

    def err(reason: str) -> None:
        out.append(Finding("error", f"cover art: {reason}", None, "image"))

    if facts.width != facts.height:
        err(f"must be square, is {facts.width}×{facts.height} px")
    side = max(facts.width, facts.height)
    if not min(facts.width, facts.height) >= 1400 or side > 3000:
        err(f"must be 1,400 to 3,000 px on a side, is {facts.width}×{facts.height} px")
    if facts.format not in ("JPEG", "PNG"):
        err(f"must be JPEG or PNG, is {facts.format}")
    if facts.mode not in ("RGB", "RGBA", "P"):  # P: a PNG palette of RGB colours
        err(f"must be in the RGB colour space, is {facts.mode}")
    return out


def plan_findings(plan: ShowPlan, config: Config) -> list[Finding]:
    """Every Apple rule the show and its episodes break (cover art aside)."""
    show = plan.show
    out = list(plan.findings)
    out.extend(_show_findings(show, config))
    https_site = config.site.url.startswith("https://")
    guids = Counter(e.post.id for e in plan.episodes)
    for episode in plan.episodes:
        post = episode.post
        enclosure = post.enclosures[0]

        def say(severity: str, reason: str, key: str, source: str = post.source) -> None:
            out.append(Finding(severity, reason, source, key))  # type: ignore[arg-type]

        if not enclosure.length:
            say("error", "enclosure has no length (Apple needs the size in bytes)", "enclosure")
        if not enclosure.mime_type:
            say("error", "enclosure has no type", "enclosure")
        elif enclosure.mime_type.split(";")[0].strip().lower() not in APPLE_MEDIA_TYPES:
            say(
                "error",
                f"enclosure type {enclosure.mime_type} is not one Apple Podcasts plays"
                " (MP3, M4A, MP4, MOV, M4V, PDF)",
                "enclosure",
            )
        if https_site and enclosure.url.startswith("http://"):
            say("warning", f"enclosure URL is not HTTPS: {enclosure.url}", "enclosure")
        if guids[post.id] > 1:
            say("error", f"episode GUID {post.id!r} is used by another episode too", "guid")
        if len(post.title) > TEXT_CHARS:
            say("warning", f"title cut to Apple's {TEXT_CHARS} characters", "title")
        if len(post.summary.encode()) > DESCRIPTION_BYTES:
            say("warning", f"description cut to Apple's {DESCRIPTION_BYTES} bytes", "description")
    return out


def _show_findings(show: PodcastShow, config: Config) -> list[Finding]:
    out: list[Finding] = []

    def say(severity: str, reason: str, key: str) -> None:
        out.append(Finding(severity, f"podcast {show.feed}: {reason}", None, key))  # type: ignore[arg-type]

    if not show.categories:
        say("error", "no category (Apple needs at least one of its categories)", "categories")
    for category, sub in show.categories:
        problem = category_problem(category, sub)
        if problem:
            say("error", problem, sub or category)
    if show.explicit is None:
        say("error", "explicit is not set (true or false; Apple needs it)", "explicit")
    if not (show.language or config.site.language):
        say("error", "no language (Apple needs one)", "language")
    if not show.image:
        say("error", "no cover art (image:)", "image")
    if not (show.description or config.site.description):
        say("error", "no description (Apple needs one)", "description")
    elif len((show.description or config.site.description).encode()) > DESCRIPTION_BYTES:
        say("warning", f"description cut to Apple's {DESCRIPTION_BYTES} bytes", "description")
    for key in ("title", "author", "owner_name"):
        value = getattr(show, key)
        if value and len(value) > TEXT_CHARS:
            say("warning", f"{key} cut to Apple's {TEXT_CHARS} characters", key)
    if not show.owner_email:
        say("warning", "no owner.email: apps use it to verify who owns the show", "owner")
    return out
