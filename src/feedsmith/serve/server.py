"""``feedsmith serve``: one builder process supervising a production WSGI server.

Process arrangement::

    feedsmith serve  (this process: builds, schedules, supervises; never answers HTTP)
      └── WSGI server master (own process group)          e.g. granian / gunicorn
            ├── web worker 1 ── worker.wsgi_app()          stateless: reads output_dir,
            └── web worker N ── worker.wsgi_app()          status.json, metrics/

The builder is a single process because builds must never overlap and the builder keeps an
in-memory index between builds; web workers are stateless so they can be many (here: one per
core), and they pick up each new build from disk without a restart. The split is the same one
that later lets many web replicas or a CDN sit in front of one builder.

The workers learn everything from the environment: ``FEEDSMITH_CONFIG`` (absolute path of the
config file) and ``PROMETHEUS_MULTIPROC_DIR`` (``state_dir/metrics``, emptied at every start so
counters from a previous run never leak into this one).

The WSGI server runs in its own process group so a terminal's Ctrl-C reaches only this process,
which then stops things in the right order: the web server is asked to stop gracefully (in-flight
requests finish), the scheduler is stopped after any build in flight (never a half-written build),
and the process exits 0 — all within :data:`STOP_BUDGET_SECONDS`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from feedsmith.config import ENV_VAR, FROM_BUCKET_ENV_VAR
from feedsmith.core.config import Config
from feedsmith.serve.bucket_store import BucketUnreadable, check_readable
from feedsmith.serve.schedule import BuildService
from feedsmith.serve.tied import tied_to_this_process
from feedsmith.system.statedir import ensure_state_dir

log = logging.getLogger("feedsmith.server")

#: ``serve`` must exit within 10 s of SIGTERM; keep a margin for process teardown.
STOP_BUDGET_SECONDS = 9.0
#: How long the web server may take to let in-flight requests finish.
GRACEFUL_SECONDS = 5
#: Chooses the WSGI server; unset means :data:`DEFAULT_SERVER` (chosen by bench/serve.py).
SERVER_ENV_VAR = "FEEDSMITH_SERVER"
DEFAULT_SERVER = "granian"
SERVERS = ("granian", "gunicorn")
METRICS_ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"
#: Python threads per web worker process, granian's and gunicorn's: more than the requests that
#: may wait for a request body at once (``bodies.RECEIVING``), so slow clients never hold every
#: thread (bench/slowclients.py). One run of bench/serve.py each: 8 threads 2,984/2,369/4,243
#: req/s (full/gzip/304) vs 1 thread 2,288/2,749/3,849 — no loss beyond this machine's noise.
THREADS_PER_WORKER = 8
HEADER_READ_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Bind:
    host: str
    port: int
    workers: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def resolve_bind(config: Config, host: str | None, port: int | None, workers: int | None) -> Bind:
    """Command-line flags win over the config file's ``server`` section."""
    return Bind(
        host=host or config.server.host,
        port=config.server.port if port is None else port,
        workers=max(1, config.server.workers if workers is None else workers),
    )


def choose_server(environ: Mapping[str, str]) -> str:
    """The WSGI server to run: ``$FEEDSMITH_SERVER`` if set, else the measured default.

    Falls back to gunicorn (a hard dependency) when granian is not importable, so a minimal
    install still serves — just slower.
    """
    name = environ.get(SERVER_ENV_VAR, "").strip().lower() or DEFAULT_SERVER
    if name not in SERVERS:
        raise ValueError(f"${SERVER_ENV_VAR} must be one of {', '.join(SERVERS)}, not {name!r}")
    if name == "granian" and importlib.util.find_spec("granian") is None:
        log.warning("granian is not installed; serving with gunicorn instead")
        return "gunicorn"
    return name


def server_command(server: str, bind: Bind, python: str = sys.executable) -> list[str]:
    """The exact command line of the WSGI server child.

    Neither server writes its own access log: the app logs one line per request through the
    ``feedsmith.access`` logger, and a second line per request would double the log volume.
    """
    if server == "granian":
        return [
            python,
            "-m",
            # granian's own CLI, run so that a stop signal cannot get lost in a worker just
            # forked (see feedsmith.serve.granian_master)
            "feedsmith.serve.granian_master",
            "--interface",
            "wsgi",
            "--host",
            bind.host,
            "--port",
            str(bind.port),
            "--workers",
            str(bind.workers),
            # More than the bodies awaited at once (serve.bodies.RECEIVING): a worker whose
            # threads all wait for slow clients' bodies answers nobody.
            "--blocking-threads",
            str(THREADS_PER_WORKER),
            # Slow headers never reach Python, but each holds a connection: close them sooner
            # than granian's 30 s default.
            "--http1-header-read-timeout",
            str(HEADER_READ_TIMEOUT_MS),
            "--no-ws",
            "--no-access-log",
            "--log-level",
            "warning",
            "--respawn-failed-workers",
            "--workers-kill-timeout",
            str(GRACEFUL_SECONDS),
            "--factory",
            "feedsmith.serve.worker:wsgi_app",
        ]
    if server == "gunicorn":
        host = f"[{bind.host}]" if ":" in bind.host else bind.host
        return [
            python,
            "-m",
            "gunicorn",
            "--bind",
            f"{host}:{bind.port}",
            "--workers",
            str(bind.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(THREADS_PER_WORKER),
            "--graceful-timeout",
            str(GRACEFUL_SECONDS),
            "--log-level",
            "warning",
            "feedsmith.serve.worker:wsgi_app()",
        ]
    raise ValueError(f"unknown WSGI server {server!r}")


def worker_environ(config: Config, base: Mapping[str, str]) -> dict[str, str]:
    """The environment web workers need; everything else they read from disk."""
    env = dict(base)
    env[ENV_VAR] = str(Path(config.path).absolute())
    env[METRICS_ENV_VAR] = str(metrics_dir(config))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def metrics_dir(config: Config) -> Path:
    return config.state_dir / "metrics"


def reset_metrics_dir(path: Path) -> None:
    """Prometheus multiprocess files of a previous run would be summed into this one's.
    0700: only this user reads what the workers count."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(mode=0o700, parents=True)


def wait_until_listening(
    host: str,
    port: int,
    child: subprocess.Popen[bytes],
    timeout: float,
    cancel: threading.Event | None = None,
) -> bool:
    """Poll until the port accepts connections, the child died, we are told to stop, or
    ``timeout`` passed — so the URL is announced only once it actually answers."""
    target = _connect_host(host)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        if cancel is not None and cancel.is_set():
            return False
        try:
            with socket.create_connection((target, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def check_bindable(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served, or ``None``.

    Checked before the start-up build so a port clash is reported at once and plainly, instead
    of after a long build as "web server exited unexpectedly".
    """
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"cannot resolve {host!r}: {exc}"
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


def _connect_host(host: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


class _StopSignal:
    """Turns SIGTERM/SIGINT into an event the supervisor loop waits on."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def install(self, signums: Sequence[int] = (signal.SIGTERM, signal.SIGINT)) -> None:
        for signum in signums:
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        self.event.set()


def serve(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
) -> int:
    """Build, start the build loop, run the web server; return the process exit code.

    0 after a requested stop (SIGTERM/SIGINT); 1 when the web server could not start or died.
    A failing start-up build does not stop the service: the web workers answer 503 until a
    scheduled build succeeds, which is more useful than a crash loop while someone fixes a post.
    """
    chosen = _choose_web_server(config, host, port, workers)
    if isinstance(chosen, int):
        return chosen
    bind, server = chosen
    # One line per build, written by the build loop (it knows what triggered the build); the
    # builder's own success line and APScheduler's per-run INFO lines would repeat it.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("feedsmith.build").setLevel(logging.WARNING)

    stop = _StopSignal()
    stop.install()
    try:
        _prepare_state_dir(config)
        service = BuildService(config)
        service.take_lease()
        service.build_now("start-up")
        if stop.event.is_set():
            return 0
        service.start()
        try:
            return _run_web_server(config, bind, server, stop, service)
        finally:
            service.shutdown(wait=True)
    finally:
        stop.restore()


def serve_replica(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
) -> int:
    """``serve --from-bucket``: web workers only, answering from ``publish.s3``.

    Exit 6 when the bucket cannot be read at start (a replica that cannot serve anything
    should fail its deployment, not answer 503 forever); a bucket with nothing published yet
    is fine (503 until the builder publishes). Later outages are served from memory.
    """
    assert config.publish.s3 is not None
    try:
        if not check_readable(config.publish.s3):
            log.warning("nothing published in the bucket yet: answering 503 until there is")
    except BucketUnreadable as exc:
        log.error("cannot serve from the bucket: %s", exc)
        return 6
    chosen = _choose_web_server(config, host, port, workers)
    if isinstance(chosen, int):
        return chosen
    bind, server = chosen
    stop = _StopSignal()
    stop.install()
    try:
        _prepare_state_dir(config)
        return _run_web_server(config, bind, server, stop, None)
    finally:
        stop.restore()


def _choose_web_server(
    config: Config, host: str | None, port: int | None, workers: int | None
) -> tuple[Bind, str] | int:
    """Where and with what to serve, or the exit code (2: unknown server, 1: port taken)
    before anything slow has started."""
    bind = resolve_bind(config, host, port, workers)
    try:
        server = choose_server(os.environ)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    problem = check_bindable(bind.host, bind.port)
    if problem:
        log.error("%s", problem)
        return 1
    return bind, server


def _prepare_state_dir(config: Config) -> None:
    """Raises :class:`~feedsmith.system.statedir.StateDirError` for a folder others can write."""
    ensure_state_dir(config.state_dir)
    reset_metrics_dir(metrics_dir(config))


def _run_web_server(
    config: Config, bind: Bind, server: str, stop: _StopSignal, service: BuildService | None
) -> int:
    """Run the web server until a stop; ``service`` ``None``: a replica (no builds)."""
    command = server_command(server, bind)
    log.debug("starting %s", " ".join(command))
    env = worker_environ(config, os.environ)
    if service is None:
        env[FROM_BUCKET_ENV_VAR] = "1"
    child = subprocess.Popen(
        tied_to_this_process(command),
        env=env,
        start_new_session=True,  # our own Ctrl-C must not hit the workers un-ordered
    )
    try:
        what = str(config.output_dir)
        if service is None:
            assert config.publish.s3 is not None
            what = f"s3://{config.publish.s3.bucket}/{config.publish.s3.prefix}"
        if bind.port == 0:
            log.info("serving %s on a port chosen by the system (%s)", what, server)
        elif wait_until_listening(bind.host, bind.port, child, 30.0, stop.event):
            log.info(
                "serving %s at %s (%s, %d workers; %s)",
                what,
                bind.url,
                server,
                bind.workers,
                f"rebuilding every {config.schedule.interval_seconds} s"
                if service is not None
                else "a replica: no builds",
            )
        elif child.poll() is None and not stop.event.is_set():
            log.warning("%s started but %s does not answer yet", server, bind.url)
        while not stop.event.wait(0.2):
            code = child.poll()
            if code is not None:
                log.error("web server %s exited unexpectedly with status %s", server, code)
                return 1
        log.info("%s received: stopping", signal.Signals(stop.signum or signal.SIGTERM).name)
        deadline = time.monotonic() + STOP_BUDGET_SECONDS
        # Both stops run at once: the web server drains its requests while a build in flight
        # finishes, so the slower of the two, not their sum, decides the exit time.
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM)
        if service is not None:
            service.shutdown(wait=True)
            log.info("build loop stopped")
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
            log.info("web server %s stopped", server)
        except subprocess.TimeoutExpired:
            log.warning("web server %s did not stop in time; killing it", server)
        return 0
    finally:
        # Also after a clean exit of the master: a master that died hard (or was killed) leaves
        # its workers behind in the group, still holding the port.
        _kill_group(child)


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    """SIGKILL whatever is left of the web server's process group (its id is the child's pid,
    see ``start_new_session``); a no-op when everything already exited."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    try:
        child.wait(timeout=2.0)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
        log.error("web server process %d survived SIGKILL", child.pid)
