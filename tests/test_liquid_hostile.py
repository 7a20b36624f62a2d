"""Hostile and random Liquid: every limit ends as LiquidOutcome.error (never an exception, never
a hang), and no Liquid delimiter reaches readers unless ``{% raw %}`` protected it."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feedsmith.core.jekyll import liquid_state
from liquid_support import DictIncludes, make_page, render


def _error(source: str, **kwargs: object) -> str:
    outcome = render(source, **kwargs)  # type: ignore[arg-type]
    assert outcome.error is not None, outcome.text[:200]
    assert outcome.text == ""
    return outcome.error[1]


def test_ten_million_iterations_stop_before_the_first() -> None:
    assert "loop iteration limit" in _error("{% for i in (1..10000000) %}{{ i }}{% endfor %}")


def test_nested_loops_count_their_product() -> None:
    source = "{% for i in (1..1000) %}{% for j in (1..1000) %}.{% endfor %}{% endfor %}"
    assert "loop iteration limit" in _error(source)


def test_doubling_an_assigned_string_hits_the_namespace_limit() -> None:
    source = "{% assign x = 'ab' %}{% for i in (1..64) %}{% assign x = x | append: x %}{% endfor %}"
    assert "namespace" in _error(source)


def test_doubling_a_capture_is_bounded() -> None:
    source = (
        "{% capture x %}ab{% endcapture %}{% for i in (1..64) %}"
        "{% capture x %}{{ x }}{{ x }}{% endcapture %}{% endfor %}"
    )
    assert "limit" in _error(source)


def test_output_is_bounded() -> None:
    page = make_page(big="x" * 1000)
    assert "output" in _error("{% for i in (1..10000) %}{{ page.big }}{% endfor %}", page=page)


def test_a_filter_over_a_huge_range_is_bounded() -> None:
    assert "work limit" in _error("{{ (1..1000000000) | join: ',' }}")


def test_filters_repeated_over_long_text_are_bounded() -> None:
    page = make_page(big="x" * 2000)
    source = "{% for i in (1..50000) %}{% assign n = page.big | upcase | size %}{% endfor %}"
    assert "work limit" in _error(source, page=page)


def test_include_loop_ends_as_an_error_at_the_posts_tag() -> None:
    includes = DictIncludes({"a.html": "a{% include b.html %}", "b.html": "b{% include a.html %}"})
    outcome = render("intro\n\n{% include a.html %}", includes=includes, first_line=3)
    assert outcome.error is not None
    assert outcome.error[0] == 5
    assert "deeper than" in outcome.error[1]


def test_self_include_ends_as_an_error() -> None:
    includes = DictIncludes({"a.html": "{% include a.html %}"})
    assert "loop" in _error("{% include a.html %}", includes=includes)


def test_include_fan_out_is_bounded_by_count() -> None:
    files = {
        f"l{i}.html": f"{{% include l{i + 1}.html %}}{{% include l{i + 1}.html %}}"
        for i in range(12)
    }
    files["l12.html"] = "x"
    assert "more than" in _error("{% include l0.html %}", includes=DictIncludes(files))


def test_deeply_nested_blocks_are_an_error() -> None:
    source = "{% if true %}" * 200 + "x" + "{% endif %}" * 200
    assert "nesting" in _error(source)


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "[" * 3000 + "]" * 3000 + " }}",
        "{{ x" + " | append: 'a'" * 3000 + " }}",
        "{% if " + " and ".join(["true"] * 3000) + " %}x{% endif %}",
        "{{ " + "(" * 1000 + "1..2" + ")" * 1000 + " }}",
    ],
)
def test_pathological_expressions_never_raise(source: str) -> None:
    outcome = render(source)
    assert outcome.error is not None or "{{" not in outcome.text


def test_work_limit_is_per_post() -> None:
    page = make_page(big="x" * 2000)
    source = "{% for i in (1..10000) %}{% assign n = page.big | size %}{% endfor %}ok"
    for _ in range(3):  # each alone is within the limit; together they would not be
        assert render(source, page=page).text == "ok"
    assert liquid_state.active() is None


# -- random text with Liquid in it --------------------------------------------------------------

_FRAGMENTS = [
    "{{", "}}", "{%", "%}", "{%-", "-%}", "{{-", "-}}", "{", "}", "%", "-",
    " raw ", " endraw ", "raw", "endraw", " if ", " endif ", " for ", " in ", " endfor ",
    " assign ", " = ", " capture ", " endcapture ", " comment ", " endcomment ",
    " highlight ", " endhighlight ", " link ", " post_url ", " include ", " include_relative ",
    "'", '"', "page.title", "site.url", "x", "(1..3)", " | ", "upcase", "append:", " ",
    "\n", "\n\n", "text", "é", "`", "*",
]  # fmt: skip

_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}(.*?)\{%-?\s*endraw\s*-?%\}", re.DOTALL)


def _protected(output: str, source: str) -> list[tuple[int, int]]:
    """Spans of ``output`` that are a raw body of ``source`` (where a delimiter may be)."""
    spans = []
    for body in {m.group(1) for m in _RAW.finditer(source)}:
        if not body:
            continue
        start = output.find(body)
        while start >= 0:
            spans.append((start, start + len(body)))
            start = output.find(body, start + 1)
    return spans


def _leaks(output: str, source: str) -> list[int]:
    spans = _protected(output, source)
    return [
        m.start()
        for m in re.finditer(r"\{(?=[{%])", output)
        if not any(a <= m.start() and m.start() + 2 <= b for a, b in spans)
    ]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join))
@example("{{ '{{' }} x {{ '{' }}{{ '%' }}")
@example("{{{ '{' }}")
@example("{% raw %}{{ a }}{% endraw %}{{ '{' }}{% raw %}%{% endraw %}")
@example("{% raw %}{%{% endraw %}")
@example("{% comment %}{% raw %}{{ x }}{% endraw %}{% endcomment %}{{")
def test_random_liquid_never_raises_and_never_leaks_a_delimiter(source: str) -> None:
    includes = DictIncludes({"x": "{{ include }}{%"})
    outcome = render(source, includes=includes)
    if outcome.error is not None:
        assert outcome.text == ""
        return
    assert _leaks(outcome.text, source) == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="{}%-' \"rawend|x\n", max_size=60))
def test_random_brace_soup_never_raises_and_never_leaks(source: str) -> None:
    outcome = render(source)
    if outcome.error is None:
        assert _leaks(outcome.text, source) == []
