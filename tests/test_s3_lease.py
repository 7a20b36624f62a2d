"""Exactly one builder publishes to a bucket (:mod:`feedsmith.publish.s3.lease`): the rule, the
keeper against moto's real conditional writes, ``build``'s exit 5, and two ``serve`` builders where
the leader is killed with SIGKILL and the other takes over."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feedsmith.cli import main
from feedsmith.core.config import S3Config
from feedsmith.pipeline import SiteBuilder
from feedsmith.publish.s3.lease import BucketLease, LeaseKeeper
from feedsmith.publish.s3.lease_rule import LeaseRecord, decide, lease_key
from feedsmith.publish.s3.sink import S3Sink
from s3_fixtures import BUCKET, Moto, Process, eventually, free_port, http, post

T0 = datetime(2026, 1, 1, tzinfo=UTC)


# -- the rule ----------------------------------------------------------------------------------


def record(holder: str, token: int = 1, *, released: bool = False) -> LeaseRecord:
    return LeaseRecord(holder, "b-" + holder, token, T0 + timedelta(seconds=30), released)


def test_the_rule_creates_renews_waits_and_takes_only_an_expired_or_released_lease() -> None:
    def act(seen: LeaseRecord | None, observed: float = 0.0, **kw: Any) -> str:
        kw.setdefault("watching", True)
        return decide("me", "b-me", seen, seen is not None, observed, 30, T0, **kw).kind

    assert act(None) == "create"
    assert act(record("me")) == "renew"
    assert act(record("other"), observed=29.9) == "wait"
    assert act(record("other"), observed=30.0) == "take"
    assert act(record("other", released=True)) == "take"
    # A one-shot build cannot watch: the expiry the holder wrote decides.
    assert act(record("other"), watching=False) == "wait"
    later = T0 + timedelta(seconds=31)
    assert decide("me", "b-me", record("other"), True, 0, 30, later, watching=False).kind == "take"
    taken = decide("me", "b-me", record("other", 7), True, 31, 30, T0, watching=True)
    assert taken.record is not None and taken.record.token == 8  # the fencing token grows


# -- keepers against a real endpoint -----------------------------------------------------------


class Mono:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def keeper(moto: Moto, tmp_path: Path, name: str, mono: Mono) -> LeaseKeeper:
    settings = S3Config(bucket=BUCKET, endpoint_url=moto.url, lease_seconds=30)
    return LeaseKeeper(BucketLease(settings), 30, tmp_path / name, monotonic=mono)


@pytest.mark.slow
def test_a_second_keeper_waits_then_takes_over_and_the_first_learns_it_lost(
    moto: Moto, tmp_path: Path
) -> None:
    mono_a, mono_b = Mono(), Mono()
    a, b = keeper(moto, tmp_path, "a", mono_a), keeper(moto, tmp_path, "b", mono_b)
    assert a.step() and a.status.role == "leader" and a.token == 1
    assert not b.step() and b.status.role == "follower" and b.status.holder == a.me
    mono_a.now += 10
    assert a.step()  # renewed: a new ETag, so b starts watching it again
    mono_b.now += 25
    assert not b.step()  # 25 s since b saw the renewal: still a's
    mono_a.now += 31  # a stalls past its lease: it no longer believes it holds it
    assert not a.held()
    mono_b.now += 30
    assert b.step() and b.token == 2 and b.status.takeovers == 1
    assert not a.step() and a.status.role == "follower" and a.status.holder == b.me
    lease = json.loads(
        moto.client().get_object(Bucket=BUCKET, Key=lease_key(b.lease.settings))["Body"].read()
    )
    assert lease["holder"] == b.me and lease["token"] == 2


@pytest.mark.slow
def test_a_stalled_leader_cannot_overwrite_the_manifest_the_new_leader_published(
    site: Any, moto: Moto, tmp_path: Path
) -> None:
    site.write_post("2025-10-01-alpha.md", post("Alpha", "2025-10-01", ["x"]), dedent=False)
    config = site.config(publish={"s3": {"bucket": BUCKET, "endpoint_url": moto.url}})
    assert config.publish.s3 is not None
    old = S3Sink(config.publish.s3, tmp_path / "old", "public, max-age=300")
    new = S3Sink(config.publish.s3, tmp_path / "new", "public, max-age=300")
    old.set_fence(1, "old")
    SiteBuilder(config, watch=False, sinks=[old]).build(T0)
    new.set_fence(2, "new")
    site.write_post("2025-10-02-beta.md", post("Beta", "2025-10-02", ["x"]), dedent=False)
    SiteBuilder(config, watch=False, sinks=[new]).build(T0 + timedelta(minutes=1))
    site.write_post("2025-10-03-gamma.md", post("Gamma", "2025-10-03", ["x"]), dedent=False)
    report = SiteBuilder(config, watch=False, sinks=[old]).build(T0 + timedelta(minutes=2))
    ((name, reason),) = report.sink_errors
    assert name == "s3" and "another builder" in reason
    head = moto.client().head_object(Bucket=BUCKET, Key="feeds/index.json")
    assert head["Metadata"]["feedsmith-lease-token"] == "2"
    assert head["Metadata"]["feedsmith-builder"] == "new"


@pytest.mark.slow
def test_build_exits_5_while_another_builder_holds_the_lease(
    site: Any, moto: Moto, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.write_post("2025-10-01-alpha.md", post("Alpha", "2025-10-01", ["x"]), dedent=False)
    site.config(publish={"s3": {"bucket": BUCKET, "endpoint_url": moto.url}})
    holder = keeper(moto, tmp_path, "other", Mono())
    assert holder.step()
    argv = ["-c", str(site.config_path), "build", "--no-progress"]
    assert main(argv) == 5
    err = capsys.readouterr().err
    assert holder.me in err and "not building" in err
    assert not (site.root / "feeds" / "index.json").exists()
    holder.release()  # a clean stop hands it over at once
    assert main(argv) == 0
    assert (site.root / "feeds" / "index.json").exists()


# -- two serve builders, one killed ------------------------------------------------------------


def lease_now(moto: Moto) -> dict[str, Any] | None:
    try:
        obj = moto.client().get_object(Bucket=BUCKET, Key=".feedsmith/feeds/lease.json")
    except Exception:
        return None
    data: dict[str, Any] = json.loads(obj["Body"].read())
    return data


@pytest.mark.slow
def test_two_serve_builders_one_publishes_and_the_other_takes_over_after_kill_9(
    make_site: Any, moto: Moto, tmp_path: Path
) -> None:
    client = moto.client()
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    lease_seconds = 3
    builders: list[tuple[Any, Process, int]] = []
    for name in ("one", "two"):
        site = make_site(name)
        site.write_post("2025-10-01-alpha.md", post("Alpha", "2025-10-01", ["x"]), dedent=False)
        port = free_port()
        site.config(
            publish={
                "s3": {"bucket": BUCKET, "endpoint_url": moto.url, "lease_seconds": lease_seconds}
            },
            schedule={"interval_seconds": 3600, "watch": True},
            server={"workers": 1},
        )
        args = ["-c", str(site.config_path), "serve", "--port", str(port)]
        builders.append((site, Process(args, site.root, tmp_path / f"{name}.log"), port))
    try:
        for _, _, port in builders:
            eventually(
                lambda p=port: http(f"http://127.0.0.1:{p}/healthz")[0] == 200, "/healthz 200"
            )

        def roles() -> list[str]:
            out = []
            for _, _, port in builders:
                health = json.loads(http(f"http://127.0.0.1:{port}/healthz")[2])
                out.append((health.get("lease") or {}).get("role", "?"))
            return out

        eventually(lambda: sorted(roles()) == ["follower", "leader"], "one leader, one follower")
        leader_index = roles().index("leader")
        leader_site, leader, _ = builders[leader_index]
        follower_site, _, follower_port = builders[1 - leader_index]
        first = lease_now(moto)
        assert first is not None
        leader.kill9()
        killed = time.monotonic()
        last = lease_now(moto)  # the dead leader's last write (it writes no more)
        assert last is not None and last["token"] == first["token"]
        taken = eventually(
            lambda: (lease_now(moto) or {}).get("token", 0) > first["token"] and lease_now(moto),
            "the takeover",
            timeout=120,  # bounds a hang only
        )
        took = time.monotonic() - killed
        assert taken["holder"] != first["holder"]
        # Never before the lease ran out: the taker writes its wall clock + lease_seconds, the
        # dead leader wrote its own last one (same machine, same clock; ms as written).
        held_until = datetime.fromisoformat(last["expires"].replace("Z", "+00:00"))
        taken_at = datetime.fromisoformat(taken["expires"].replace("Z", "+00:00")) - timedelta(
            seconds=lease_seconds
        )
        assert taken_at >= held_until - timedelta(milliseconds=1), (last, taken)
        print(f"takeover {took:.2f} s after kill -9 with a {lease_seconds} s lease (a figure)")
        health = json.loads(http(f"http://127.0.0.1:{follower_port}/healthz")[2])
        assert health["lease"]["role"] == "leader" and health["lease"]["takeovers"] == 1
        metrics = http(f"http://127.0.0.1:{follower_port}/metrics")[2].decode()
        assert "feedsmith_lease_leader 1.0" in metrics
        # The new leader publishes its own saves.
        follower_site.write_post(
            "2025-10-02-beta.md", post("Beta", "2025-10-02", ["x"]), dedent=False
        )

        def beta_in_bucket() -> bool:
            body = client.get_object(Bucket=BUCKET, Key="feeds/all.atom.xml")["Body"].read()
            return b"Beta" in body

        eventually(beta_in_bucket, "the new leader's build in the bucket")
        # Never interleaved: the manifests' history is one leader's run, then the other's.
        versions = client.list_object_versions(Bucket=BUCKET, Prefix="feeds/index.json")
        history = []
        # Oldest first: S3 (and moto) list a key's versions newest first. Not sorted by
        # LastModified, whose whole seconds tie for two puts within one second, and a tie kept
        # the listing's newest-first order: a false "interleaved" on a fast save.
        for version in reversed(versions["Versions"]):
            if version["Key"] != "feeds/index.json":
                continue
            head = client.head_object(
                Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"]
            )
            history.append(int(head["Metadata"]["feedsmith-lease-token"]))
        assert history == sorted(history) and history[-1] == taken["token"], history
        assert leader_site is not follower_site
    finally:
        for _, process, _ in builders:
            process.stop()


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("lease_seconds", "long", "must be a number"),
        ("lease_seconds", 1, "between 3 and 3600"),
        ("refresh_seconds", 0, "between 0.1 and 3600"),
        ("refresh_seconds", True, "must be a number"),
    ],
)
def test_lease_and_refresh_settings_are_validated_exit_2_naming_key_and_file(
    site: Any, capsys: pytest.CaptureFixture[str], key: str, value: Any, words: str
) -> None:
    site.config()
    text = site.config_path.read_text("utf-8")
    extra = f"publish:\n  s3:\n    bucket: b\n    {key}: {json.dumps(value)}\n"
    site.config_path.write_text(text + extra, "utf-8")
    assert main(["-c", str(site.config_path), "build"]) == 2
    err = capsys.readouterr().err
    assert f"publish.s3.{key}" in err and words in err and str(site.config_path) in err
