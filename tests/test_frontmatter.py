"""parse_document: front matter split and safe YAML/TOML reading."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, date, datetime

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core import frontmatter
from feedsmith.core.frontmatter import Document, FrontMatterError, parse_document

SEED_SHAPE = (
    "---\n"
    "layout: post\n"
    'title: "クラウド投資の行方\ufffd"\n'
    "date: 2025-11-16 20:35:04 +0000\n"
    'categories: ["市場分析"]\n'
    'tags: ["AI", "最新ニュース", "Google"]\n'
    "reading_time: 5\n"
    "---\n"
    "\n"
    "本文の最初の段落。\n"
    "\n"
    "---END---\n"
    "\n"
    "---\n"
    "後半\n"
)


def _error(text: str) -> FrontMatterError:
    with pytest.raises(FrontMatterError) as info:
        parse_document(text)
    return info.value


def test_seed_shaped_post_splits_meta_and_body():
    doc = parse_document(SEED_SHAPE)
    assert doc.format == "yaml"
    assert doc.meta == {
        "layout": "post",
        "title": "クラウド投資の行方\ufffd",
        "date": "2025-11-16 20:35:04 +0000",  # not a YAML timestamp: left for dates.py
        "categories": ["市場分析"],
        "tags": ["AI", "最新ニュース", "Google"],
        "reading_time": 5,
    }
    assert doc.body_line == 9
    assert doc.body.startswith("\n本文の最初の段落。")


def test_only_first_block_is_front_matter_later_dashes_stay_in_body():
    doc = parse_document(SEED_SHAPE)
    assert "\n---END---\n" in doc.body
    assert "\n---\n後半\n" in doc.body


def test_no_front_matter_means_whole_text_is_body():
    text = "# Title\n\n---\n\nbody\n"
    assert parse_document(text) == Document({}, text, 1, None)


def test_front_matter_must_start_on_first_line():
    text = "\n---\ntitle: x\n---\nbody\n"
    assert parse_document(text).format is None


def test_bom_does_not_hide_front_matter():
    doc = parse_document("\ufeff---\ntitle: x\n---\nbody\n")
    assert doc.meta == {"title": "x"}
    assert doc.body == "body\n"
    assert doc.body_line == 4


def test_empty_front_matter_block_gives_empty_meta():
    doc = parse_document("---\n---\nbody\n")
    assert doc == Document({}, "body\n", 3, "yaml")


def test_yaml_document_end_marker_closes_front_matter():
    doc = parse_document("---\ntitle: x\n...\nbody\n")
    assert doc.meta == {"title": "x"}
    assert doc.body == "body\n"


def test_front_matter_only_file_has_empty_body():
    doc = parse_document("---\ntitle: x\n---")
    assert doc.meta == {"title": "x"}
    assert doc.body == ""


def test_unclosed_front_matter_is_an_error_on_line_1():
    err = _error("---\ntitle: x\nbody without closing\n")
    assert err.reason == "front matter is not closed (opened on line 1)"
    assert err.line == 1


def test_invalid_yaml_reports_the_file_line():
    err = _error("---\ntitle: ok\nbroken: [unclosed\nother: 1\n---\nbody\n")
    assert err.reason.startswith("front matter is not valid YAML")
    assert err.line is not None and 3 <= err.line <= 5


def test_invalid_yaml_mapping_error_points_at_its_line():
    err = _error("---\na: 1\nb: 2\nc: d: e\n---\n")
    assert err.line == 4


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("---\ntitle: ok\nfoo: a\x85b @\nz: 1\n---\nbody\n", 3),  # NEL inside a value
        ('---\ntitle: "a\u2028b"\nfoo: @x\n---\nbody\n', 3),  # U+2028 on an earlier line
        ('---\ntitle: "a\u2029b\u2029c"\nx: 1\nfoo: `x\n---\n', 4),
        ("---\ntitle: ok\nfoo:\tbar: baz\n---\n", 3),  # tab where a token must start
        ('---\ntitle: "unclosed\nz: 1\n---\nbody\n', 2),  # points where the quote opened
        ("---\ntitle: ok\njust words here\nz: 1\n---\n", 3),  # a key line without ":"
    ],
)
def test_a_yaml_error_names_the_line_that_holds_the_bad_character(text: str, line: int) -> None:
    err = _error(text)
    assert err.reason.startswith("front matter is not valid YAML"), err.reason
    assert err.line == line


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("---\n- a\n- b\n---\n", "a list"),
        ("---\njust a string\n---\n", "a string"),
        ("---\n42\n---\n", "a number"),
    ],
)
def test_front_matter_that_is_not_a_mapping_is_an_error(text, kind):
    assert _error(text).reason == f"front matter is {kind}, not a mapping"


def test_alias_bomb_is_refused_quickly():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    err = _error("---\n" + "\n".join(lines) + "\n---\nbody\n")
    assert "not allowed" in err.reason
    assert err.line == 2


def test_alias_without_anchor_definition_is_refused():
    err = _error("---\na: 1\nb: *x\n---\n")
    assert "aliases" in err.reason
    assert err.line == 3


def test_front_matter_over_64kb_is_invalid():
    big = "---\n" + "".join(f"key{i}: {'x' * 60}\n" for i in range(1200)) + "---\nbody\n"
    err = _error(big)
    assert err.reason == "front matter is larger than 64 KB"


def test_front_matter_just_under_64kb_is_fine():
    text = "---\ntitle: " + "x" * 60000 + "\n---\nbody\n"
    assert len(parse_document(text).meta["title"]) == 60000


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("Off", "Off"),
        ("1.10", "1.10"),
        ("0755", "0755"),
        ("1_000", "1_000"),
        ("1:30", "1:30"),
        ("0x1F", "0x1F"),
        ("1e3", "1e3"),
        (".inf", ".inf"),
        ("True", True),
        ("false", False),
        ("FALSE", False),
        ("42", 42),
        ("-7", -7),
        ("0", 0),
        ("null", None),
        ("~", None),
        ("", None),
        ('"quoted: yes"', "quoted: yes"),
    ],
)
def test_yaml_scalars_avoid_yaml11_coercions(yaml_value, expected):
    doc = parse_document(f"---\nvalue: {yaml_value}\n---\n")
    assert doc.meta["value"] == expected
    assert type(doc.meta["value"]) is type(expected)


def test_yaml_timestamps_become_dates_and_datetimes():
    doc = parse_document(
        "---\nd: 2025-11-16\nt: 2025-11-16T20:35:04Z\n"
        "n: 2025-11-16 20:35:04\nbad: 2025-13-45\n---\n"
    )
    assert doc.meta["d"] == date(2025, 11, 16)
    assert doc.meta["t"] == datetime(2025, 11, 16, 20, 35, 4, tzinfo=UTC)
    assert doc.meta["n"] == datetime(2025, 11, 16, 20, 35, 4)
    assert doc.meta["bad"] == "2025-13-45"


def test_non_string_keys_become_strings():
    doc = parse_document("---\n1: one\ntrue: yes\nnull: n\n---\n")
    assert doc.meta == {"1": "one", "true": "yes", "null": "n"}


def test_control_characters_in_front_matter_do_not_invalidate_it():
    doc = parse_document('---\ntitle: "a\x01b\x7fc"\n---\n')
    assert doc.meta["title"] == "a\x01b\x7fc"  # stripped later, field by field


def test_python_tags_are_refused():
    err = _error("---\nx: !!python/object/apply:os.system ['true']\n---\n")
    assert err.line == 2


def test_toml_front_matter():
    doc = parse_document(
        '+++\ntitle = "TOMLの記事"\nversion = 1.10\ntags = ["a", "b"]\n+++\nbody\n'
    )
    assert doc.format == "toml"
    assert doc.meta == {"title": "TOMLの記事", "version": "1.10", "tags": ["a", "b"]}
    assert doc.body == "body\n"
    assert doc.body_line == 6


def test_invalid_toml_reports_the_file_line():
    err = _error('+++\ntitle = "ok"\nbroken =\n+++\n')
    assert err.reason.startswith("front matter is not valid TOML")
    assert err.line == 3


def test_unclosed_toml_front_matter():
    assert _error("+++\ntitle = 'x'\n").line == 1


@given(st.text(max_size=400))
@settings(deadline=None)
def test_parse_document_arbitrary_text_only_raises_front_matter_error(text):
    try:
        doc = parse_document(text)
    except FrontMatterError as exc:
        assert exc.reason
    else:
        assert all(isinstance(k, str) for k in doc.meta)
        assert doc.body_line >= 1


@given(st.text(alphabet=st.sampled_from("-+.:[]{}&*!|>'\"#\n ab1\t?,"), max_size=200))
@settings(deadline=None)
def test_parse_document_yaml_punctuation_only_raises_front_matter_error(body):
    for opener in ("---\n", "+++\n"):
        with contextlib.suppress(FrontMatterError):
            parse_document(opener + body)


def test_deeply_nested_yaml_is_an_error_not_a_crash():
    err = _error("---\na: " + "[" * 5000 + "\n---\n")
    assert err.reason == "front matter is nested too deeply"


def test_deeply_nested_toml_is_an_error_not_a_crash():
    err = _error("+++\na = " + "[" * 5000 + "\n+++\n")
    assert err.reason.startswith("front matter is")


def _python_load(source: str) -> object:
    return yaml.load(source, Loader=frontmatter._StrictLoader)


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_typical_front_matter_takes_the_libyaml_path_with_identical_values():
    source = SEED_SHAPE.split("---\n")[1] + (
        "d: 2025-11-16\nn: ~\nv: 1.10\nyes: on\n1: x\nlist:\n  - a\n  - 2\n"
        'flow: [a, "b c",\n  d]\nauthor:\n  name: 名前\n  url: https://example.com/\n'
    )
    done, value = frontmatter._fast_yaml(source)
    assert done
    assert repr(value) == repr(_python_load(source))


@pytest.mark.parametrize(
    "source",
    ["a: &x 1\nb: *x\n", "a: [" + "[" * 100 + "]" * 100 + "]\n", "title: R&D\n"],
    ids=["alias", "deep-flow-nesting", "ampersand-in-text"],
)
def test_text_with_anchor_characters_or_deep_nesting_stays_on_the_python_loader(source):
    assert frontmatter._fast_yaml(source) == (False, None)


# Pieces of YAML syntax and of scalars the resolvers type; most generated texts avoid the
# characters that force the Python loader, so the comparison below exercises the libyaml path.
_PIECES = [
    *"-+.:[]{}'\"#\n ab1?,%@`~\\\x07\x00é日\x7f\ue000\uffff",
    *("[", "]", "{", "}", ", ", "\n  ", "\n- ", "key: ", "- ", ": ", "  ", "---", "...", "<<: "),
    *("2025-01-02", "12:30:00", "T", "Z", "+09:00", " 20:35:04 +0000", "true", "no", "null"),
    *("0x1f", "1.10", "0o7", "1_000", "1e3", ".inf", "-.nan", "=", "~", "0", "-1", "+1", "01"),
    *("\\n", "\\x41", "\\u00e9", '"\\', "'"),
]
_YAMLISH = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
@given(_YAMLISH)
@settings(deadline=None, max_examples=int(os.environ.get("FEEDSMITH_YAML_EXAMPLES", "400")))
def test_libyaml_path_never_disagrees_with_the_python_loader(source):
    """Whatever libyaml accepts, the Python loader reads to the same value (else: fallback)."""
    done, value = frontmatter._fast_yaml(source)
    if done:
        assert repr(value) == repr(_python_load(source))


def test_handlers_plug_into_python_frontmatter_with_feedsmith_rules() -> None:
    import frontmatter as pyfm

    from feedsmith.core.frontmatter import TOML_HANDLER, YAML_HANDLER

    text = "---\ntitle: no\nversion: 1.10\ntags: [AI, チップ]\n---\n本文\n---END---\n"
    post = pyfm.loads(text, handler=YAML_HANDLER)
    assert post.metadata == {"title": "no", "version": "1.10", "tags": ["AI", "チップ"]}
    assert post.metadata == parse_document(text).meta
    # python-frontmatter's default YAML handler guesses: the reason feedsmith brings its own.
    assert pyfm.loads(text).metadata["title"] is False

    toml_text = '+++\ntitle = "x"\nversion = 1.10\n+++\nbody\n'
    assert pyfm.loads(toml_text, handler=TOML_HANDLER).metadata == {"title": "x", "version": "1.10"}
