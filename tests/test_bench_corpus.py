"""The benchmark corpus must be deterministic and in the shape the issue asks for.

Benchmarks are only comparable across runs and machines when the input is byte-identical, and
they only measure the real workload when the posts look like real ones (Jekyll date strings,
flow-list categories/tags, ~5 KB bodies).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"
JEKYLL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+0000$")


def _load_corpus_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_corpus", BENCH_DIR / "corpus.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


corpus = _load_corpus_module()


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _split(text: str) -> tuple[dict[str, Any], str]:
    assert text.startswith("---\n")
    front, body = text[4:].split("\n---\n", 1)
    meta = yaml.safe_load(front)
    assert isinstance(meta, dict)
    return meta, body


@pytest.fixture(scope="module")
def corpus_200(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    corpus.generate(200, out, seed=7)
    return out


def _posts(out: Path) -> list[Path]:
    return sorted((out / "posts").rglob("*.md"))


def test_same_n_and_seed_give_byte_identical_corpora(tmp_path: Path) -> None:
    corpus.generate(60, tmp_path / "a", seed=3)
    corpus.generate(60, tmp_path / "b", seed=3)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_a_different_seed_gives_different_posts(tmp_path: Path) -> None:
    corpus.generate(20, tmp_path / "a", seed=1)
    corpus.generate(20, tmp_path / "b", seed=2)
    assert _files(tmp_path / "a" / "posts") != _files(tmp_path / "b" / "posts")


def test_a_smaller_corpus_is_a_prefix_of_a_larger_one(tmp_path: Path) -> None:
    corpus.generate(10, tmp_path / "small", seed=5)
    corpus.generate(30, tmp_path / "big", seed=5)
    small = _files(tmp_path / "small" / "posts")
    big = _files(tmp_path / "big" / "posts")
    assert len(small) == 10
    assert all(big[rel] == data for rel, data in small.items())


def test_generates_the_requested_number_of_posts_with_jekyll_names(corpus_200: Path) -> None:
    posts = _posts(corpus_200)
    assert len(posts) == 200
    for path in posts:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-[a-z0-9-]+\.md", path.name), path.name
        assert path.parent.name == path.name[:4]


def test_front_matter_is_valid_yaml_with_a_jekyll_date_string(corpus_200: Path) -> None:
    for path in _posts(corpus_200):
        meta, _ = _split(path.read_text(encoding="utf-8"))
        assert set(meta) == {
            "layout", "title", "date", "categories", "tags", "author", "excerpt", "reading_time"
        }  # fmt: skip
        # YAML must leave it a string (offset without colon), exactly like the reference post.
        assert isinstance(meta["date"], str)
        assert JEKYLL_DATE.match(meta["date"]), meta["date"]
        assert meta["date"][:10] == path.name[:10]
        assert isinstance(meta["reading_time"], int)


def test_categories_tags_and_body_sizes_have_the_requested_shape(corpus_200: Path) -> None:
    sizes: list[int] = []
    for path in _posts(corpus_200):
        meta, body = _split(path.read_text(encoding="utf-8"))
        assert 1 <= len(meta["categories"]) <= 2
        assert 2 <= len(meta["tags"]) <= 6
        assert len(set(meta["tags"])) == len(meta["tags"])
        assert all(isinstance(t, str) and t for t in meta["tags"] + meta["categories"])
        sizes.append(len(body.encode()))
    mean = sum(sizes) / len(sizes)
    assert 4000 <= mean <= 6500, mean


def test_corpus_mixes_languages_and_reference_quirks(corpus_200: Path) -> None:
    texts = [p.read_text(encoding="utf-8") for p in _posts(corpus_200)]
    metas = [_split(t)[0] for t in texts]
    japanese = sum(bool(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", m["excerpt"])) for m in metas)
    assert 0.45 <= japanese / len(metas) <= 0.75
    assert any(m["title"].endswith("\ufffd") for m in metas)
    assert any("\n---END---\n" in t for t in texts)
    assert any("**" in t for t in texts)
    assert any("](https://" in t for t in texts)
    all_tags = {t for m in metas for t in m["tags"]}
    assert {"AI", "ai"} <= all_tags  # case variants the feed grouping must merge


def test_tag_and_category_vocabularies_have_the_issue_sizes() -> None:
    assert len(corpus.TAGS) == len(set(corpus.TAGS)) == 800
    assert len(corpus.CATEGORIES) == len(set(corpus.CATEGORIES)) == 30
    assert any(c.isascii() for c in corpus.CATEGORIES)
    assert any(not c.isascii() for c in corpus.CATEGORIES)


def test_tag_popularity_is_skewed(tmp_path: Path) -> None:
    corpus.generate(300, tmp_path, seed=11)
    counts: dict[str, int] = {}
    for path in _posts(tmp_path):
        for tag in _split(path.read_text(encoding="utf-8"))[0]["tags"]:
            counts[tag] = counts.get(tag, 0) + 1
    ranked = sorted(counts.values(), reverse=True)
    assert ranked[0] >= 10 * ranked[len(ranked) // 2]


def test_config_written_beside_posts_loads(corpus_200: Path) -> None:
    from feedsmith.config import load_config

    config = load_config(corpus_200 / "config.yaml")
    assert config.posts_dir == (corpus_200 / "posts").resolve()
    assert config.feed.max_entries == 20
    assert config.timezone == "UTC"


def test_ensure_corpus_reuses_a_matching_corpus_and_regenerates_otherwise(tmp_path: Path) -> None:
    corpus.generate(5, tmp_path, seed=1)
    marker = _posts(tmp_path)[0]
    marker.write_bytes(b"touched")
    corpus.ensure_corpus(5, tmp_path, seed=1)
    assert marker.read_bytes() == b"touched"
    corpus.ensure_corpus(6, tmp_path, seed=1)
    assert marker.read_bytes() != b"touched"
    assert len(_posts(tmp_path)) == 6


def test_edit_one_post_changes_the_body_and_returns_the_old_bytes(tmp_path: Path) -> None:
    corpus.generate(10, tmp_path, seed=4)
    before = _files(tmp_path / "posts")
    path, old = corpus.edit_one_post(tmp_path, 3)
    after = _files(tmp_path / "posts")
    changed = [rel for rel in before if before[rel] != after[rel]]
    assert changed == [path.relative_to(tmp_path / "posts").as_posix()]
    assert before[changed[0]] == old
    meta_before, _ = _split(old.decode())
    meta_after, _ = _split(path.read_text(encoding="utf-8"))
    assert meta_before == meta_after  # only the body changed
    _, second = corpus.edit_one_post(tmp_path, 3, revision=2)
    assert second == after[changed[0]]
    assert path.read_bytes() != second


def test_add_one_post_adds_a_new_newest_post(tmp_path: Path) -> None:
    corpus.generate(10, tmp_path, seed=4)
    before = set(_files(tmp_path / "posts"))
    path = corpus.add_one_post(tmp_path, seed=1)
    assert path.relative_to(tmp_path / "posts").as_posix() not in before
    newest = max(_split(p.read_text(encoding="utf-8"))[0]["date"] for p in _posts(tmp_path))
    assert _split(path.read_text(encoding="utf-8"))[0]["date"] == newest
    assert corpus.add_one_post(tmp_path, seed=2) != path


def test_scanning_a_generated_corpus_yields_every_post_without_problems(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from feedsmith.config import load_config
    from feedsmith.pipeline.scan import scan_posts

    corpus.generate(50, tmp_path, seed=9)
    config = load_config(tmp_path / "config.yaml")
    result = scan_posts(config, datetime(2026, 6, 1, tzinfo=UTC))
    assert [p.format() for p in result.problems if p.severity != "info"] == []
    assert len(result.posts) == 50
    assert result.skipped == 0
    assert len({p.id for p in result.posts}) == 50
    titles = {p.title for p in result.posts}
    assert any(t.endswith("\ufffd") for t in titles)  # kept, not "fixed"
    assert all(1 <= len(p.categories) <= 2 and 1 <= len(p.tags) <= 6 for p in result.posts)


def _load_bench_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_build", BENCH_DIR / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_bench_edit_and_add_steps_put_the_corpus_back(tmp_path: Path) -> None:
    bench = _load_bench_build()
    corpus.generate(12, tmp_path, seed=2)
    before = _files(tmp_path / "posts")
    index = bench.newest_index(12, 2)
    with bench.edited(tmp_path, index, revision=1), bench.added(tmp_path, seed=1):
        during = _files(tmp_path / "posts")
        assert len(during) == 13
        assert sum(before.get(rel) != data for rel, data in during.items()) == 2
    assert _files(tmp_path / "posts") == before


def test_bench_edits_the_newest_post(tmp_path: Path) -> None:
    bench = _load_bench_build()
    metas = [corpus.post_meta(5, i) for i in range(40)]
    assert metas[bench.newest_index(40, 5)].date == max(m.date for m in metas)


def test_bench_wipe_removes_output_and_state_only(tmp_path: Path) -> None:
    bench = _load_bench_build()
    corpus.generate(3, tmp_path, seed=1)
    (tmp_path / "feeds" / "tags").mkdir(parents=True)
    (tmp_path / ".feedsmith").mkdir()
    (tmp_path / ".feedsmith" / "state.json").write_text("{}")
    bench.wipe_build_products(tmp_path)
    assert not (tmp_path / "feeds").exists()
    assert not (tmp_path / ".feedsmith").exists()
    assert len(_posts(tmp_path)) == 3
