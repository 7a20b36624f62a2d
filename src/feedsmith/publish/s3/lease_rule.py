"""The lease record and the rule that decides who holds it: pure, no bucket, no clock of its own.

Why apart from :mod:`feedsmith.publish.s3.lease`: the rule is the part worth reading and
testing on its own (every case is a table row, the clocks are arguments), and the replicas'
store (:mod:`feedsmith.serve.bucket_store`) needs the record's format and key without the
keeper's threads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from feedsmith.core.config import S3Config
from feedsmith.core.layout import iso_millis, parse_iso
from feedsmith.core.state import json_bytes

__all__ = ["LEASE_DIR", "Action", "LeaseRecord", "decide", "lease_key"]

LEASE_DIR = ".feedsmith/"


def lease_key(settings: S3Config) -> str:
    return f"{LEASE_DIR}{settings.prefix}lease.json"


# -- the record and the rule (pure) --------------------------------------------------------------


@dataclass(frozen=True)
class LeaseRecord:
    holder: str  # one process: host:pid:random
    builder: str  # the persistent builder id (state_dir/builder-id)
    token: int  # fencing token: +1 whenever the holder changes
    expires: datetime  # the holder's wall clock at its last write, plus lease_seconds
    released: bool = False  # a clean stop: anybody may take it at once

    def to_bytes(self) -> bytes:
        return json_bytes(
            {
                "holder": self.holder,
                "builder": self.builder,
                "token": self.token,
                "expires": iso_millis(self.expires),
                "released": self.released,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> LeaseRecord | None:
        """``None`` for anything unreadable: such an object is treated as expired."""
        try:
            raw = json.loads(data)
            return cls(
                holder=str(raw["holder"]),
                builder=str(raw.get("builder", "")),
                token=int(raw["token"]),
                expires=parse_iso(str(raw["expires"])),
                released=bool(raw.get("released", False)),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


@dataclass(frozen=True)
class Action:
    kind: str  # "create", "renew", "take", "wait"
    record: LeaseRecord | None = None  # what to write (not for "wait")


def decide(
    me: str,
    builder: str,
    seen: LeaseRecord | None,
    exists: bool,
    observed_for: float,
    lease_seconds: float,
    wall_now: datetime,
    *,
    watching: bool,
) -> Action:
    """What to do after reading the lease object.

    ``exists``: there is an object (``seen`` is ``None`` if it could not be parsed);
    ``observed_for``: seconds this process has seen the object's current ETag (``watching``);
    a one-shot caller passes ``watching=False`` and the written expiry decides.
    """
    expires = wall_now + timedelta(seconds=lease_seconds)
    if not exists:
        return Action("create", LeaseRecord(me, builder, 1, expires))
    if seen is not None and seen.holder == me and not seen.released:
        return Action("renew", replace(seen, expires=expires))
    token = seen.token + 1 if seen is not None else 1
    if seen is None or seen.released:
        return Action("take", LeaseRecord(me, builder, token, expires))
    expired = observed_for >= lease_seconds if watching else wall_now >= seen.expires
    if expired:
        return Action("take", LeaseRecord(me, builder, token, expires))
    return Action("wait")
