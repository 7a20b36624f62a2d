"""Jekyll's filters through render_liquid, with the outputs Jekyll documents or its Ruby
code produces; dates without any clock."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from liquid_support import PACIFIC, make_page, make_site, render, text_of


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ '/docs/assets/' | relative_url }}", "/blog/docs/assets/"),
        ("{{ 'docs/a b.png' | relative_url }}", "/blog/docs/a%20b.png"),
        ("{{ '/docs/assets/' | absolute_url }}", "https://example.com/blog/docs/assets/"),
        ("{{ 'https://other.org/x' | absolute_url }}", "https://other.org/x"),
        ("{{ 'https://other.org/x' | relative_url }}", "https://other.org/x"),
    ],
)
def test_url_filters_use_site_url_and_baseurl(source: str, expected: str) -> None:
    assert text_of(source) == expected


def test_url_filters_without_baseurl_or_url() -> None:
    site = make_site(baseurl=None, url="")
    assert text_of("{{ 'x/' | relative_url }} {{ '/y' | absolute_url }}", site=site) == "/x/ /y"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ page.date | date_to_xmlschema }}", "2023-01-29T18:30:22-08:00"),
        ("{{ page.date | date_to_rfc822 }}", "Sun, 29 Jan 2023 18:30:22 -0800"),
        ("{{ page.date | date_to_string }}", "29 Jan 2023"),
        ("{{ page.date | date_to_string: 'ordinal' }}", "29th Jan 2023"),
        ("{{ page.date | date_to_string: 'ordinal', 'US' }}", "Jan 29th, 2023"),
        ("{{ page.date | date_to_long_string }}", "29 January 2023"),
        ("{{ page.date | date_to_long_string: 'ordinal', 'US' }}", "January 29th, 2023"),
        ("{{ '2013-05-06 10:00:00 +0200' | date_to_xmlschema }}", "2013-05-06T10:00:00+02:00"),
        ("{{ '2013-05-06' | date_to_long_string }}", "06 May 2013"),
        ("{{ page.date | date: '%B %-d, %Y %a' }}", "January 29, 2023 Sun"),
        ("{{ page.day | date: '%Y/%m/%d' }}", "2021/02/03"),
        ("{{ 'now' | date: '%Y-%m-%d %H:%M %z' }}", "2024-05-01 12:00 -0800"),
        ("{{ 'today' | date_to_xmlschema }}", "2024-05-01T12:00:00-08:00"),
        ("{{ 0 | date: '%Y-%m-%d %H:%M' }}", "1969-12-31 16:00"),
        ("{{ 'not a date' | date: '%Y' }}", "not a date"),
        ("{{ '' | date_to_xmlschema }}", ""),
        ("{{ page.date | date: '100%% %b' }}", "100% Jan"),
    ],
)
def test_date_filters_format_as_jekyll_and_never_read_the_clock(source: str, expected: str) -> None:
    assert text_of(source, page=make_page(day=date(2021, 2, 3))) == expected


def test_date_ordinals_for_the_teens() -> None:
    page = make_page(date=datetime(2023, 1, 12, tzinfo=PACIFIC))
    assert text_of("{{ page.date | date_to_string: 'ordinal' }}", page=page) == "12th Jan 2023"
    page = make_page(date=datetime(2023, 1, 22, tzinfo=PACIFIC))
    assert text_of("{{ page.date | date_to_string: 'ordinal' }}", page=page) == "22nd Jan 2023"


def test_now_without_site_time_is_an_error_not_the_clock() -> None:
    site = make_site()
    del site["time"]
    outcome = render("{{ 'now' | date: '%Y' }}", site=site)
    assert outcome.error is not None and "site.time" in outcome.error[1]


def test_a_jekyll_date_filter_on_a_non_date_is_an_error_with_its_line() -> None:
    outcome = render("a\n{{ 'soon' | date_to_xmlschema }}", first_line=3)
    assert outcome.error is not None and outcome.error[0] == 4


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'foo,bar;baz?' | cgi_escape }}", "foo%2Cbar%3Bbaz%3F"),
        ("{{ 'a b' | cgi_escape }}", "a+b"),
        ("{{ 'example :page' | uri_escape }}", "example%20:page"),
        ("{{ '  a \n\t b  ' | normalize_whitespace }}", "a b"),
        ("{{ 'one two  three' | number_of_words }}", "3"),
        ("{{ '日本語の文 and more' | number_of_words: 'cjk' }}", "7"),
        ("{{ '日本語' | number_of_words: 'auto' }}", "3"),
        ("{{ 'plain words' | number_of_words: 'auto' }}", "2"),
        ("{{ '\"quoted\" -- text' | smartify }}", '"quoted" -- text'),
        ("{{ '**bold**' | markdownify }}", "<p>**bold**</p>"),
        ("{{ '12abc' | to_integer }} {{ true | to_integer }} {{ 'x' | to_integer }}", "12 1 0"),
    ],
)
def test_text_filters(source: str, expected: str) -> None:
    assert text_of(source) == expected


@pytest.mark.parametrize(
    ("text", "mode", "expected"),
    [
        ("The _config.yml file", "default", "the-config-yml-file"),
        ("The _config.yml file", "pretty", "the-_config.yml-file"),
        ("The _config.yml file", "raw", "the-_config.yml-file"),
        ("The _cönfig.yml file!", "ascii", "the-c-nfig-yml-file"),
        ("Café Ünïcode", "latin", "cafe-unicode"),
        ("日本語 タイトル", "default", "日本語-タイトル"),
        ("The _config.yml file?", "none", "the _config.yml file?"),
        ("--Already--slugged--", "default", "already-slugged"),
    ],
)
def test_slugify_modes_as_jekyll_documents_them(text: str, mode: str, expected: str) -> None:
    page = make_page(t=text, m=mode)
    assert text_of("{{ page.t | slugify: page.m }}", page=page) == expected


def test_xml_escape_and_uri_escape_as_jekyll_documents_them() -> None:
    page = make_page(a='foo "bar" <baz> & it\'s', b="foo, bar \\baz?")
    assert text_of("{{ page.a | xml_escape }}", page=page) == (
        "foo &quot;bar&quot; &lt;baz&gt; &amp; it's"
    )
    assert text_of("{{ page.b | uri_escape }}", page=page) == "foo,%20bar%20%5Cbaz?"


def test_jsonify_is_compact_and_keeps_unicode() -> None:
    page = make_page(meta={"名前": "ü", "n": [1, 2.5, True, None]})
    text = text_of("{{ page.meta | jsonify }} {{ page.date | jsonify }}", page=page)
    assert text == '{"名前":"ü","n":[1,2.5,true,null]} "2023-01-29 18:30:22 -0800"'


def test_inspect_is_ruby_inspect_escaped() -> None:
    page = make_page(meta={"a": [1, "b"], "c": None})
    assert text_of("{{ page.meta | inspect }}", page=page) == (
        "{&quot;a&quot;=&gt;[1, &quot;b&quot;], &quot;c&quot;=&gt;nil}"
    )


def test_array_to_sentence_string() -> None:
    page = make_page(one=["a"], two=["a", "b"], three=["a", "b", "c"])
    source = (
        "{{ page.one | array_to_sentence_string }}|{{ page.two | array_to_sentence_string }}|"
        "{{ page.three | array_to_sentence_string: 'or' }}"
    )
    assert text_of(source, page=page) == "a|a and b|a, b, or c"


PEOPLE = [
    {"name": "Ann", "age": "30", "tags": ["x", "y"], "info": {"city": "Oslo"}},
    {"name": "Bob", "age": 4, "tags": ["y"], "info": {"city": "Rome"}},
    {"name": "Cid", "tags": []},
]


def _names(source: str, **page: object) -> str:
    return text_of(source, page=make_page(people=PEOPLE, **page))


def test_where_compares_as_ruby_strings_and_array_members() -> None:
    assert _names("{{ page.people | where: 'age', 4 | map: 'name' | join: '' }}") == "Bob"
    assert _names("{{ page.people | where: 'age', '30' | map: 'name' | join: '' }}") == "Ann"
    assert _names("{{ page.people | where: 'tags', 'y' | map: 'name' | join: '' }}") == "AnnBob"
    assert (
        _names("{{ page.people | where: 'info.city', 'Rome' | map: 'name' | join: '' }}") == "Bob"
    )


def test_where_exp_evaluates_a_condition_per_item() -> None:
    condition = "'p.name == \"Ann\" or p.tags.size == 0'"
    source = f"{{{{ page.people | where_exp: 'p', {condition} | map: 'name' | join: '' }}}}"
    assert _names(source) == "AnnCid"


def test_where_exp_refuses_a_condition_with_liquid_delimiters() -> None:
    outcome = render("{{ page.tags | where_exp: 't', 't %}{{ x' }}")
    assert outcome.error is not None


def test_sort_by_property_with_nils_first_or_last() -> None:
    assert _names("{{ page.people | sort: 'age' | map: 'name' | join: '' }}") == "CidBobAnn"
    assert _names("{{ page.people | sort: 'age', 'last' | map: 'name' | join: '' }}") == "BobAnnCid"
    assert text_of("{{ page.tags | sort | join: '' }}", page=make_page(tags=["b", "a"])) == "ab"


def test_sort_of_mixed_values_is_an_error_not_a_crash() -> None:
    outcome = render("{{ page.mixed | sort }}", page=make_page(mixed=[1, "a"]))
    assert outcome.error is not None


def test_group_by_keeps_first_seen_order() -> None:
    source = (
        "{% assign g = page.people | group_by: 'info.city' %}"
        "{% for x in g %}{{ x.name }}={{ x.size }};{% endfor %}"
    )
    assert _names(source) == "Oslo=1;Rome=1;=1;"


def test_push_pop_shift_unshift_leave_the_original() -> None:
    source = (
        "{{ page.tags | push: 'z' | join: '' }} {{ page.tags | pop | join: '' }} "
        "{{ page.tags | shift | join: '' }} {{ page.tags | unshift: 'w' | join: '' }} "
        "{{ page.tags | pop: 2 | size }} {{ page.tags | join: '' }}"
    )
    assert text_of(source) == "xyz x y wxy 0 xy"


def test_sample_is_deterministic() -> None:
    page = make_page(items=["a", "b", "c", "d"])
    for _ in range(3):
        assert text_of(
            "{{ page.items | sample }} {{ page.items | sample: 2 | join: '' }}", page=page
        ) == ("a ab")


def test_standard_liquid_filters_are_there() -> None:
    assert text_of("{{ 'a,b' | split: ',' | reverse | join: '-' | upcase | append: '!' }}") == (
        "B-A!"
    )
