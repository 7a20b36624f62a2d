"""``media_dir``: resolved against the config file, refused when missing (exit 2 names it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedsmith.config import ConfigError, load_config


def _write(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "posts").mkdir()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"site: {{url: 'https://example.com'}}\nposts_dir: posts\n{extra}")
    return cfg


def test_media_dir_unset_means_no_local_media(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, "")).media_dir is None


def test_media_dir_resolves_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    config = load_config(_write(tmp_path, "media_dir: media\n"))
    assert config.media_dir == tmp_path / "media"


def test_missing_media_dir_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, "media_dir: nowhere\n"))
    assert err.value.key == "media_dir"
