"""``feedsmith build`` with nothing changed, answered from records with the standard library only.

At 10,000 posts a no-change run in a new process spent as much CPU importing (argparse,
logging, YAML, the config's and the core's dataclasses: ~0.15 s) as on the ~25,000 stats that
are the real question. So before anything else is imported, :func:`early_build` looks for what
the last build with these exact config bytes left in ``state_dir``:

* ``quick-config.json`` (:func:`remember_config`, written after a config was loaded and
  validated): the config file's sha256, where it was read from (working directory, path given,
  ``$HOME``) and the few values the question needs (the three folders, the fingerprint). The
  same bytes read the same way give the same config, so YAML parsing and validation are
  skipped; the folders' symlinks are resolved again, as the loader would.
* ``last-build.json`` (:mod:`.memo`): the same checks as :meth:`.memo.FastPath.unchanged` for
  a new process, through the same functions (:mod:`.statpass`).

It answers only for the plain case — no ``jekyll:``, media, custom templates, bucket or hub, no
error or warning in the last report, a private ``state_dir`` with nothing to tighten, a command
line it reads exactly as argparse would — and otherwise returns ``None``: the full start-up then
asks again with everything loaded. A missing, stale or corrupt record only costs that time.

Info-level problems do not stop it: a blog with a scheduled post ("scheduled for …; excluded
until then") or a draft has one in every report, and used to pay the full start-up on every
cron run for it. The full no-change path prints the last report's problems again as they were
(:meth:`.memo.FastPath.unchanged`), so the memo keeps them as the very lines it prints
(``lines``: :meth:`feedsmith.core.model.Problem.format`'s output, escaping included) and this
module prints those, in the same order around the same log line. The clock enters only through
``next_publish``, the earliest scheduled post's time: from then on the build must publish it,
so it goes the full way. Errors and warnings still go the full way (``--strict``'s exit code
and repairs are the full path's to judge).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import stat
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from feedsmith import RENDERING_REVISION, __version__
from feedsmith.core.names import (
    CONFIG_ENV_VAR,
    DEFAULT_OUTPUT_DIR,
    DEFAULT_POSTS_DIR,
    DEFAULT_STATE_DIR,
    GZIP_ONLY_RULES,
    MANIFEST,
)
from feedsmith.pipeline import statpass

if TYPE_CHECKING:  # types only
    from feedsmith.core.config import Config

# In the state dir; the builder (feedsmith.pipeline.site) takes its names from .quick.
STATE_FILE = "state.json"
#: The state's journal (:mod:`.statejournal`): a build that changed little appends to it, so
#: the state is these two files, and the no-change answers key on both (:func:`state_key`).
JOURNAL_FILE = "state.log"
LOCK_FILE = "build.lock"
#: The nothing-changed memo of the last one-off build (:mod:`.memo` writes it).
MEMO_FILE = "last-build.json"
MEMO_VERSION = 4  # 3: "state" keys state.json and its journal; 4: "lines"
#: What :func:`early_build` needs of a config, keyed by the config file's bytes.
RECORD_FILE = "quick-config.json"
RECORD_VERSION = 1
_FOLDERS = (
    ("posts_dir", DEFAULT_POSTS_DIR),
    ("output_dir", DEFAULT_OUTPUT_DIR),
    ("state_dir", DEFAULT_STATE_DIR),
)


def build_config_arg(argv: Sequence[str]) -> str | None:
    """The ``-c`` value of a ``feedsmith build`` command line ("" when none), or ``None`` for
    anything this reader does not take exactly as the full parser would (``-v``, ``--jekyll``,
    another command, an abbreviation...)."""
    config: str | None = ""
    command = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-c", "--config"):
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                return None
            config = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--config="):
            config = arg.removeprefix("--config=")
        elif arg == "build" and not command:
            command = True
        elif arg not in ("--strict", "--no-progress") or not command:
            return None
        i += 1
    return config if command else None


def _joined(base: str, value: str) -> str:
    return os.path.join(base, os.path.expanduser(value))


def _private(state_dir: str) -> bool:
    """What :func:`feedsmith.system.statedir.ensure_state_dir` would accept and leave as it is
    (anything else, even a folder it would only tighten, goes the full way)."""
    try:
        st = os.stat(state_dir)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            return False
        with os.scandir(state_dir) as entries:
            for entry in entries:
                if not entry.is_symlink() and entry.stat(follow_symlinks=False).st_mode & 0o077:
                    return False
    except OSError:
        return False
    return True


def _candidates(base: str, text: bytes) -> list[str]:
    """Where the record may be: the default ``state_dir`` and a plain top-level ``state_dir:``
    line. Only a guess — the record found must say it is that folder's, for these bytes."""
    found = [_joined(base, DEFAULT_STATE_DIR)]
    for line in text.decode("utf-8", "replace").splitlines():
        if line.startswith("state_dir:"):
            value = line.removeprefix("state_dir:").split(" #", 1)[0].strip().strip("'\"")
            if value:
                found.append(_joined(base, value))
    return [os.path.realpath(p) for p in found]


def _record(config_path: str, text: bytes) -> dict[str, Any] | None:
    digest = hashlib.sha256(text).hexdigest()
    base = os.path.dirname(os.path.join(os.getcwd(), config_path))
    for state_dir in _candidates(base, text):
        if not _private(state_dir):
            continue
        try:
            with open(os.path.join(state_dir, RECORD_FILE), "rb") as f:
                rec = json.loads(f.read())
            if (
                rec["version"] == RECORD_VERSION
                and rec["feedsmith"] == __version__
                and rec["rendering"] == RENDERING_REVISION
                and rec["sha256"] == digest
                and rec["cwd"] == os.getcwd()
                and rec["given"] == config_path
                and rec["home"] == os.environ.get("HOME")
                and rec["state_dir"][1] == state_dir
                and all(os.path.realpath(j) == r for j, r in (rec[k] for k, _ in _FOLDERS))
            ):
                return rec  # type: ignore[no-any-return]
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue
    return None


def remember_config(config: Config, given: str | None) -> None:
    """Keep what :func:`early_build` needs of ``config`` (just loaded and validated from
    ``given``, the path as the command line named it) for the next run with the same bytes.
    Only for the configs it answers for; only rewritten when its bytes change."""
    if given is None or config.jekyll is not None or config.media_dir is not None:
        return
    if config.publish.s3 is not None or config.websub.enabled:
        return
    if config.feed.pages and config.templates_dir is not None:
        return
    try:
        text = config.path.read_bytes()
        import yaml  # loaded already: the caller just read the config with it

        raw = yaml.safe_load(text.decode("utf-8-sig")) or {}
        base = str(config.path.parent)
        folders = {}
        for key, default in _FOLDERS:
            value = raw.get(key)
            joined = _joined(base, default if value is None else str(value).strip())
            resolved = str(getattr(config, key))
            if os.path.realpath(joined) != resolved:
                return  # not read the way the loader reads it: no record, no shortcut
            folders[key] = [joined, resolved]
        record = {
            "version": RECORD_VERSION,
            "feedsmith": __version__,
            "rendering": RENDERING_REVISION,
            "sha256": hashlib.sha256(text).hexdigest(),
            "cwd": os.getcwd(),
            "given": given,
            "home": os.environ.get("HOME"),
            "fingerprint": config.fingerprint(),
            **folders,
        }
        data = json.dumps(record, sort_keys=True).encode()
        path = config.state_dir / RECORD_FILE
        from feedsmith.system.statedir import write_if_changed

        write_if_changed(path, data)
    except (OSError, ValueError, AttributeError, ImportError):
        return  # costs the next run its shortcut, nothing else


#: The only severity of a last report's problems this module repeats (see the docstring).
REPEATED_SEVERITY = "info"


def _repeatable(memo: dict[str, Any]) -> list[str] | None:
    """The last report's problem lines, when they are all info-level and kept as printed (and,
    as for any answer, the clock has not reached ``next_publish``: :func:`_unchanged`)."""
    problems, lines = memo["problems"], memo["lines"]
    if not isinstance(problems, list) or not isinstance(lines, list):
        return None
    if len(problems) != len(lines) or not all(isinstance(line, str) for line in lines):
        return None
    if any(p[2] != REPEATED_SEVERITY for p in problems):
        return None
    return lines


def _unchanged(rec: dict[str, Any], now: datetime) -> tuple[int, int, list[str]] | None:
    """``(posts, feeds, problem lines)`` of the last build when a build now would change
    nothing."""
    state_dir, posts_dir, output_dir = (rec[k][1] for k in ("state_dir", "posts_dir", "output_dir"))
    try:
        fd = os.open(os.path.join(state_dir, LOCK_FILE), os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_mode & 0o077:
            return None
        fcntl.flock(fd, fcntl.LOCK_EX)  # the builder's lock (.quick.build_lock)
        with open(os.path.join(state_dir, MEMO_FILE), "rb") as f:
            memo = json.loads(f.read())
        if (
            memo["version"] != MEMO_VERSION
            or memo["fingerprint"] != rec["fingerprint"]
            or memo["cwd"] != os.getcwd()
            or memo["templates"] != ""
            or memo["media"]
            or memo["skipped"]
            or not isinstance(memo["files"], list)
        ):
            return None
        if memo["next_publish"] and datetime.fromisoformat(memo["next_publish"]) <= now:
            return None  # a scheduled post is due: the build that publishes it runs in full
        lines = _repeatable(memo)
        if lines is None:
            return None
        keys = statpass.quick_keys(posts_dir)
        if keys is None or statpass.keys_digest(keys) != memo["keys"]:
            return None
        manifest = statpass.stat_key(os.path.join(output_dir, MANIFEST))
        if manifest is None or list(manifest) != memo["manifest"]:
            return None
        if state_key(state_dir) != memo["state"]:
            return None
        # How the rows' archive pages are stored (feed.archive_storage); none named (an older
        # memo): KeyError, the full way.
        rule = GZIP_ONLY_RULES.get(memo["storage"])
        if rule is None:
            return None
        if not statpass.rows_intact(output_dir, memo["files"], rule):
            return None
        return int(memo["posts"]), int(memo["feeds"]), lines
    except (OSError, ValueError, KeyError, TypeError):
        return None
    finally:
        os.close(fd)


def state_key(state_dir: str | os.PathLike[str]) -> list[int] | None:
    """The stat of the build state — ``state.json`` and its journal — as the no-change memo
    keeps it: ``[size, mtime_ns]`` of each (``-1, -1`` for no journal); ``None`` without
    ``state.json``. A build that only appended to the journal changes the key too."""
    base = statpass.stat_key(os.path.join(state_dir, STATE_FILE))
    if base is None:
        return None
    journal = statpass.stat_key(os.path.join(state_dir, JOURNAL_FILE)) or (-1, -1)
    return [*base, *journal]


def summary(posts: int, feeds: int, seconds: float, problems: int = 0) -> str:
    """:meth:`feedsmith.pipeline.report.BuildReport.summary` of a no-change build."""
    return (
        f"{posts} posts, 0 feeds written, {feeds} unchanged, 0 removed, {problems} problems, "
        f"{seconds:.2f} s"
    )


def early_build(argv: Sequence[str], now: datetime | None = None) -> int | None:
    """The exit code of ``feedsmith build`` when the records alone show nothing changed
    (having printed what the full path prints), else ``None``. ``now``: the clock (tests)."""
    t0 = time.perf_counter()
    given = build_config_arg(argv)
    if given is None:
        return None
    config_path = given or os.environ.get(CONFIG_ENV_VAR) or "config.yaml"
    try:
        with open(config_path, "rb") as f:
            text = f.read()
    except OSError:
        return None
    rec = _record(config_path, text)
    if rec is None:
        return None
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)  # as .quick's
    answer = _unchanged(rec, now)
    if answer is None:
        return None
    posts, feeds, lines = answer
    line = summary(posts, feeds, time.perf_counter() - t0, len(lines))
    # The line the full path logs, in cli's logging format (logging itself: start-up cost).
    stamp = time.time()
    asctime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
    msecs = int((stamp - int(stamp)) * 1000)
    sys.stderr.write(
        f"{asctime},{msecs:03d} INFO feedsmith.build: build ok (nothing changed): {line}\n"
    )
    for problem in lines:  # then the problems, as cli's _build_and_publish prints them
        print(problem, file=sys.stderr)
    sys.stderr.flush()
    print(line)
    return 0
