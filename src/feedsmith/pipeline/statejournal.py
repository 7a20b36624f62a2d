"""The build state's journal, ``state_dir/state.log``: what a build changed, appended.

At 10,000 posts ``state.json`` is ~5 MB, and an edit in the service changed a few dozen of its
records; dumping it whole (~35 ms) and fsyncing it (~30 ms) was a quarter of the edit. So a
build that changed little appends one line to this journal instead (the idea of the id map's
``ids.log``, :mod:`.idbook`), and ``state.json`` — the *base* — is rewritten whole only when
the journal grows past a share of it, or when a build changed much (a cold build).

A line is ``<sha256 of the payload, hex> <payload>\\n``; the payload, compact JSON, names the
base it continues (the sha256 of ``state.json``'s bytes) and its place in the journal
(``seq``, from 1), and holds the records set (``set``: field → key → value), the keys removed
(``del``: field → keys) and ``generated``. Reading stops at the first line that does not
check out — torn by a crash, damaged, of another base (a crash between writing a new base and
removing the old journal), out of sequence — so the state read is the base plus the records
up to the last good one: an older state, which the next build verifies against the disk
(costing time, never bytes).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from itertools import compress
from operator import is_not
from typing import Any

import orjson

from feedsmith.core.state import STATE_VERSION, BuildState

log = logging.getLogger("feedsmith.state")

#: The fields of :class:`BuildState` that are tables (the journal sets and removes their keys).
TABLES = ("entries", "slugs", "files", "gone", "groups")

_MISSING = object()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def diff(old: dict[str, dict[str, Any]], new: BuildState) -> tuple[dict[str, Any], int]:
    """What a journal record must hold to turn ``old`` (the tables as last saved) into
    ``new``: ``({"set": ..., "del": ...}, number of keys changed)``. Unchanged values are
    mostly the very objects of the last save (the builder patches by identity), so the
    identity test skips them at C speed; the few others are compared by value."""
    sets: dict[str, dict[str, Any]] = {}
    dels: dict[str, list[str]] = {}
    count = 0
    for name in TABLES:
        before: dict[str, Any] = old[name]
        after: dict[str, Any] = getattr(new, name)
        get = before.get
        # C-level passes (a value is never None: a missing key counts as moved)
        moved = list(compress(after, map(is_not, map(get, after), after.values())))
        changed = {k: after[k] for k in moved if get(k, _MISSING) != after[k]}
        added = sum(1 for k in moved if k not in before)
        if len(before) + added != len(after):  # some keys left
            gone = sorted(before.keys() - after.keys())
            if gone:
                dels[name] = gone
                count += len(gone)
        if changed:
            sets[name] = changed
            count += len(changed)
    return {"set": sets, "del": dels}, count


def tables_of(state: BuildState) -> dict[str, dict[str, Any]]:
    """Shallow copies of ``state``'s tables: what the next :func:`diff` compares with (a copy,
    so a table changed in place later is still seen as changed)."""
    return {name: dict(getattr(state, name)) for name in TABLES}


def line(base: str, seq: int, change: dict[str, Any], generated: str | None) -> bytes:
    payload = orjson.dumps({"base": base, "seq": seq, "generated": generated, **change})
    return digest(payload).encode() + b" " + payload + b"\n"


@dataclass
class Replayed:
    """What :func:`replay` applied: ``records`` good lines, ending at byte ``end``; ``clean``
    when that is the whole journal (no torn or foreign tail to append after)."""

    records: int = 0
    end: int = 0
    clean: bool = True


def replay(state: BuildState, data: bytes, base: str, where: str) -> Replayed:
    """Apply the journal ``data`` (of the base whose sha256 is ``base``) to ``state`` in
    place, line by line, up to the first line that does not check out (logged)."""
    done = Replayed()
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        why = _apply(state, data[pos:nl] if nl >= 0 else b"", base, done.records + 1)
        if nl < 0:
            why = "torn last record"
        if why is not None:
            log.warning(
                "state journal %s: %s after %d records; the next build verifies the output",
                where,
                why,
                done.records,
            )
            done.clean = False
            return done
        done.records += 1
        pos = done.end = nl + 1
    return done


def _apply(state: BuildState, raw: bytes, base: str, seq: int) -> str | None:
    """Apply one line; ``None``, or why it was not applied (nothing of it is then)."""
    check, _, payload = raw.partition(b" ")
    if digest(payload).encode() != check:
        return "a record that fails its checksum"
    try:
        rec = orjson.loads(payload)
        if not isinstance(rec, dict) or rec.get("base") != base:
            return "a record of another state file"
        if rec.get("seq") != seq:
            return "a record out of sequence"
        sets, dels = rec.get("set"), rec.get("del")
        if not isinstance(sets, dict) or not isinstance(dels, dict):
            return "a malformed record"
        # The values set are validated as a state of their own (the rules a base is read by).
        part = BuildState.from_json({"version": STATE_VERSION, **sets})
        generated = rec.get("generated")
        if generated is not None and not isinstance(generated, str):
            return "a malformed record"
        if not set(sets) <= set(TABLES) or not set(dels) <= set(TABLES):
            return "a malformed record"
        for keys in dels.values():
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                return "a malformed record"
    except ValueError as exc:
        return f"a malformed record ({exc})"
    for name, keys in dels.items():
        table = getattr(state, name)
        for key in keys:
            table.pop(key, None)
    for name in sets:
        getattr(state, name).update(getattr(part, name))
    state.generated = generated
    return None
