"""What a list changed since the last build, by object identity: the service's patching.

In the service an unchanged post, outcome, record or group comes back as the very object it
was, so "what changed" is "which objects are not the ones at the same places last time". The
stages that patch their last answer (collect, apply_updates, regroup, the id checks, the OPML,
the manifest) all ask that over ~10,000 elements on every edit, so the answer is found in C
(``compress``/``is_not``), with no Python step per element, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress
from operator import is_not
from typing import Any


def changed_places(new: Sequence[Any], old: Sequence[Any]) -> list[int]:
    """The indexes at which ``new`` holds another object than ``old`` (as long as ``new``;
    callers compare lists of the same length)."""
    return list(compress(range(len(new)), map(is_not, new, old)))


def few_changed(
    old: Sequence[Any], new: Sequence[Any], few: int
) -> tuple[list[Any], list[Any], list[int] | None] | None:
    """What ``new`` changed of ``old`` by identity: the objects only ``old`` holds and those
    only ``new`` holds (in list order), and the changed places when the lists have the same
    length (an edit: nothing moved); ``None`` when more than ``few`` differ or ``new`` holds
    an object twice among those. Callers still check the added objects' own keys (a post
    both kept and added is twice)."""
    if len(old) == len(new):
        at = changed_places(new, old)
        if len(at) > few:
            return None
        olds, news = {id(old[i]) for i in at}, {id(new[i]) for i in at}
        if len(news) != len(at):
            return None
        gone = [old[i] for i in at if id(old[i]) not in news]
        return gone, [new[i] for i in at if id(new[i]) not in olds], at
    ids_old, ids_new = set(map(id, old)), set(map(id, new))
    if len(ids_new) != len(new):
        return None
    left, came = ids_old - ids_new, ids_new - ids_old
    if len(left) + len(came) > few:
        return None
    gone = list(compress(old, map(left.__contains__, map(id, old)))) if left else []
    return gone, list(compress(new, map(came.__contains__, map(id, new)))) if came else [], None
