"""xml_safe and truncate: the text hygiene applied to every field of every post."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core.text import ELLIPSIS, truncate, xml_safe


def test_xml_safe_removes_c0_controls_but_keeps_tab_newline_cr():
    assert xml_safe("a\x00b\x01c\x08d\x0be\x0cf\x1fg\th\ni\rj") == "abcdefg\th\ni\rj"


def test_xml_safe_keeps_replacement_character_exactly():
    title = "Anthropicの投資の可能\ufffd"
    assert xml_safe(title) == title


def test_xml_safe_removes_nonchar_fffe_ffff_and_lone_surrogates():
    assert xml_safe("a\ufffeb\uffffc\ud800d\udfffe") == "abcde"


def test_xml_safe_keeps_astral_characters_del_and_c1():
    text = "emoji 😀 𠮷 \x7f \x85 \u2028"
    assert xml_safe(text) == text


@given(st.text())
@settings(deadline=None)
def test_xml_safe_output_only_has_xml_chars(text):
    out = xml_safe(text)
    for ch in out:
        o = ord(ch)
        assert o in (9, 10, 13) or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or o >= 0x10000


def test_truncate_leaves_short_text_alone():
    assert truncate("short text", 50) == "short text"


def test_truncate_cuts_at_word_boundary_with_ellipsis():
    out = truncate("the quick brown fox jumps over the lazy dog", 20)
    assert out == "the quick brown fox" + ELLIPSIS
    assert len(out) <= 20


def test_truncate_japanese_without_spaces_cuts_on_character_boundary():
    text = "あいうえおかきくけこさしすせそたちつてと"
    out = truncate(text, 10)
    assert out == "あいうえおかきくけ" + ELLIPSIS


def test_truncate_prefers_japanese_sentence_end_when_near():
    out = truncate("これはテストの文章です。次の文はとても長いのでここで切る", 14)
    assert out == "これはテストの文章です。" + ELLIPSIS


def test_truncate_does_not_separate_combining_mark_from_base():
    # A cut after index 3 would keep "e" and drop its accent: back off to before the "e".
    assert truncate("abe\u0301e\u0301e\u0301e\u0301", 4) == "ab" + ELLIPSIS


@given(st.text(), st.integers(min_value=0, max_value=200))
@settings(deadline=None)
def test_truncate_never_exceeds_limit(text, limit):
    out = truncate(text, limit)
    assert len(out) <= max(limit, 0)
    if len(text.rstrip()) <= limit:
        assert out == text.rstrip()
    else:
        assert out.endswith(ELLIPSIS) or out == ""
