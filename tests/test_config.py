from __future__ import annotations

from pathlib import Path

import pytest

from feedsmith.cli import main
from feedsmith.config import load_config, resolve_config_path
from feedsmith.core.config import FORMATS as CONFIG_FORMATS
from feedsmith.core.config import ConfigError
from feedsmith.core.formats import FORMATS as FORMAT_TABLE

REPO = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    (tmp_path / "posts").mkdir()
    return tmp_path


def test_bundled_config_is_valid() -> None:
    config = load_config(REPO / "config.yaml")
    assert config.posts_dir == REPO / "examples" / "posts"
    assert config.output_dir == REPO / "feeds"
    assert config.feed.formats == ("atom", "rss", "json")


def test_relative_paths_resolve_against_the_config_files_folder(
    site_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cfg = write(site_dir / "config.yaml", "posts_dir: posts\noutput_dir: out\n")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    config = load_config(cfg)
    assert config.posts_dir == site_dir / "posts"
    assert config.output_dir == site_dir / "out"
    assert config.state_dir == site_dir / ".feedsmith"


def test_defaults_fill_everything_not_given(site_dir: Path) -> None:
    config = load_config(write(site_dir / "c.yaml", "posts_dir: posts\n"))
    assert config.permalink == "/:categories/:year/:month/:day/:title.html"
    assert config.feed.max_entries == 20
    assert config.feed.content == "full"
    assert config.schedule.interval_seconds == 300
    assert config.server.host == "127.0.0.1"
    assert config.id_authority == "localhost"
    assert config.max_post_bytes == 10 * 1024 * 1024


def test_id_authority_defaults_to_the_site_host(site_dir: Path) -> None:
    cfg = write(site_dir / "c.yaml", "posts_dir: posts\nsite: {url: 'https://blog.example.com/'}\n")
    config = load_config(cfg)
    assert config.id_authority == "blog.example.com"
    assert config.site.url == "https://blog.example.com"


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("posts_dir: posts\nsite: {titel: x}\n", "site.titel", "unknown key"),
        ("posts_dir: posts\nfeeds: {}\n", "feeds", "unknown key"),
        ("posts_dir: posts\nfeed: {max_entries: many}\n", "feed.max_entries", "integer"),
        ("posts_dir: posts\nfeed: {max_entries: 0}\n", "feed.max_entries", "at least 1"),
        ("posts_dir: posts\nfeed: {content: excerpt}\n", "feed.content", "'full' or 'summary'"),
        ("posts_dir: posts\nfeed: {formats: [atom, rdf]}\n", "feed.formats", "rdf"),
        ("posts_dir: posts\nsite: {url: 'blog.example.com'}\n", "site.url", "absolute"),
        ("posts_dir: posts\ntimezone: Mars/Olympus\n", "timezone", "unknown time zone"),
        ("posts_dir: missing\n", "posts_dir", "directory not found"),
        ("posts_dir: posts\nschedule: 5\n", "schedule", "mapping"),
        ("posts_dir: posts\nserver: {port: 70000}\n", "server.port", "at most"),
        ("posts_dir: posts\nserver: {port: true}\n", "server.port", "integer"),
        ("posts_dir: posts\npermalink: 'no-slash'\n", "permalink", "start with"),
        ("posts_dir: posts\nschedule: {watch: 'yes'}\n", "schedule.watch", "true or false"),
        ("posts_dir: posts\nschedule: {settle_ms: 0.5}\n", "schedule.settle_ms", "integer"),
        ("posts_dir: posts\nschedule: {settle_ms: -1}\n", "schedule.settle_ms", "at least"),
        ("posts_dir: posts\nschedule: {settle: 300}\n", "schedule.settle", "unknown"),
    ],
)
def test_bad_config_names_key_and_file(site_dir: Path, text: str, key: str, fragment: str) -> None:
    path = write(site_dir / "config.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key
    assert str(path) in str(info.value)
    assert key in str(info.value)
    assert fragment in str(info.value)


def test_config_that_is_not_yaml_reports_the_line(site_dir: Path) -> None:
    path = write(site_dir / "config.yaml", "posts_dir: posts\nsite: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML \(line \d+\)"):
        load_config(path)


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_path_comes_from_flag_then_env_then_default() -> None:
    env = {"FEEDSMITH_CONFIG": "/etc/feedsmith.yaml"}
    assert resolve_config_path("mine.yaml", env) == Path("mine.yaml")
    assert resolve_config_path(None, env) == Path("/etc/feedsmith.yaml")
    assert resolve_config_path(None, {}) == Path("config.yaml")


def test_cli_config_error_is_one_line_and_exit_2(
    site_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(site_dir / "config.yaml", "posts_dir: posts\nfeed: {formats: [rdf]}\n")
    assert main(["-c", str(path), "check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "feed.formats" in err[0] and str(path) in err[0]


def test_cli_reads_config_from_env(
    site_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(site_dir / "config.yaml", "posts_dir: posts\nserver: {workers: zero}\n")
    monkeypatch.setenv("FEEDSMITH_CONFIG", str(path))
    assert main(["check"]) == 2
    assert "server.workers" in capsys.readouterr().err


def test_fingerprint_changes_with_rendering_settings_only(site_dir: Path) -> None:
    base = "posts_dir: posts\n"
    a = load_config(write(site_dir / "a.yaml", base))
    b = load_config(write(site_dir / "b.yaml", base + "schedule: {interval_seconds: 5}\n"))
    c = load_config(write(site_dir / "c.yaml", base + "feed: {content: summary}\n"))
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()


def test_the_config_knows_every_format_of_the_format_table() -> None:
    assert tuple(FORMAT_TABLE) == CONFIG_FORMATS
