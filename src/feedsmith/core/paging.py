"""Where one document sits in its feed's RFC 5005 archive.

Its own module because both the groups (a :class:`~feedsmith.core.groups.FeedGroup` carries
its paging) and the archive (which makes the pages) need it, and neither should import the other
for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Paging:
    """Where a document sits in its feed's archive: all its links depend on, nothing more
    (so a page's signature, and its bytes, do not change when pages are added beyond its
    neighbour)."""

    page: int  # 0: the subscription document; n >= 1: archive page n (1 = the oldest posts)
    prev: int = 0  # the next older page ("prev-archive"); for the subscription, the newest page
    next: int = 0  # the next newer archive page ("next-archive"), 0 when there is none

    @property
    def complete(self) -> bool:
        """A subscription document that holds every post of its feed (RFC 5005 §2)."""
        return self.page == 0 and self.prev == 0

    @property
    def is_archive(self) -> bool:
        return self.page > 0
