"""Prometheus metrics: request counters summed across processes, build numbers from status.json."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import values

from feedsmith.serve.metrics import Metrics
from feedsmith.serve.status import record_build

T0 = datetime(2025, 11, 16, 20, 35, 4, tzinfo=UTC)

WORKER = textwrap.dedent(
    """
    import sys
    from feedsmith.serve.metrics import Metrics

    metrics = Metrics(sys.argv[1])
    assert metrics.multiproc_dir, "multiprocess mode expected"
    for _ in range(int(sys.argv[2])):
        metrics.count_request("GET", 200)
    metrics.count_request("GET", 304)
    if sys.argv[3] == "scrape":
        sys.stdout.write(metrics.render().decode())
    """
)


def run_worker(state_dir: Path, env: dict[str, str], n: int, scrape: bool = False) -> str:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(state_dir), str(n), "scrape" if scrape else "count"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def sample(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in:\n{text}")


def test_request_counts_are_summed_across_worker_processes(tmp_path: Path) -> None:
    """Two workers count at the same time; a third (whichever answers the scrape) sees the sum."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    record_build(
        tmp_path, started=T0, finished=T0, ok=True, seconds=1.25, posts=4, feeds=6, problems=0
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    cmd = [sys.executable, "-c", WORKER, str(tmp_path)]
    workers = [subprocess.Popen([*cmd, str(n), "count"], env=env) for n in (7, 11)]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    text = run_worker(tmp_path, env, 2, scrape=True)
    ok = 'feedsmith_http_requests_total{method="GET",status="200"}'
    assert sample(text, ok) == 7 + 11 + 2
    assert sample(text, 'feedsmith_http_requests_total{method="GET",status="304"}') == 3
    assert sample(text, 'feedsmith_builds_total{result="ok"}') == 1
    assert sample(text, "feedsmith_posts") == 4
    assert len(list(metrics_dir.glob("counter_*.db"))) == 3  # one file per process


def test_without_the_env_var_counts_are_per_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    first, second = Metrics(tmp_path), Metrics(tmp_path)
    assert first.multiproc_dir is None
    first.count_request("GET", 200)
    first.count_request("BREW", 405)
    second.count_request("GET", 200)
    text = first.render().decode()
    assert sample(text, 'feedsmith_http_requests_total{method="GET",status="200"}') == 1
    # Invented methods share one label value instead of growing the metric without bound.
    assert sample(text, 'feedsmith_http_requests_total{method="other",status="405"}') == 1
    # No status.json yet: builds are zero, and no gauge pretends to know counts.
    assert sample(text, 'feedsmith_builds_total{result="ok"}') == 0
    assert "feedsmith_posts " not in text


def test_build_metrics_follow_status_json_at_scrape_time(tmp_path: Path) -> None:
    metrics = Metrics(tmp_path, multiproc_dir="")
    record_build(
        tmp_path, started=T0, finished=T0, ok=True, seconds=3.0, posts=1, feeds=2, problems=3
    )
    record_build(tmp_path, started=T0, finished=T0, ok=False, seconds=0.5, error="x")
    text = metrics.render().decode()
    assert sample(text, 'feedsmith_builds_total{result="ok"}') == 1
    assert sample(text, 'feedsmith_builds_total{result="failed"}') == 1
    assert sample(text, "feedsmith_build_seconds_total") == 3.5
    assert sample(text, "feedsmith_last_build_duration_seconds") == 0.5
    assert sample(text, "feedsmith_last_build_ok") == 0
    assert sample(text, "feedsmith_last_success_timestamp_seconds") == T0.timestamp()
    assert sample(text, "feedsmith_problems") == 3


@pytest.mark.skipif(
    getattr(values.ValueClass, "_multiprocess", False),
    reason="this test process was started in multiprocess mode",
)
def test_env_var_set_after_import_falls_back_to_per_process_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics = Metrics(tmp_path)
    assert metrics.multiproc_dir is None
    assert "imported before" in caplog.text
    metrics.count_request("GET", 200)
    text = metrics.render().decode()
    assert sample(text, 'feedsmith_http_requests_total{method="GET",status="200"}') == 1
