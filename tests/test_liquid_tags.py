"""Jekyll's tags through render_liquid: raw, highlight, link, post_url, include(_relative),
the standard control tags, site/page, undefined names and error lines."""

from __future__ import annotations

from feedsmith.core.jekyll.links import placeholder, targets_in
from feedsmith.core.markdown import render_post
from liquid_support import DictIncludes, make_page, make_site, render, text_of

POST_URL = "https://example.com/blog/2023/01/29/hello.html"


def test_text_without_liquid_comes_back_unchanged() -> None:
    source = "Plain *Markdown* with { braces } and 100% { of it }"
    outcome = render(source)
    assert outcome.text == source
    assert outcome.problems == [] and outcome.error is None


def test_site_and_page_values_render_as_jekyll_prints_them() -> None:
    text = text_of("{{ page.title }} {{ site.repository }}/releases {{ page.date }}")
    assert text == "Hello jekyll/jekyll/releases 2023-01-29 18:30:22 -0800"


def test_site_data_is_readable() -> None:
    assert text_of("{{ site.data.authors.ann.name }}") == "Ann"


def test_standard_control_tags_work() -> None:
    source = (
        '{% assign issues = "1037|1040" | split: "|" %}'
        "{% for i in issues %}[#{{ i }}]{% endfor %}"
        "{% if page.n > 2 %} big{% else %} small{% endif %}"
        "{% unless page.draft %} live{% endunless %}"
        "{% case page.n %}{% when 3 %} three{% endcase %}"
        "{% capture c %}cap{% endcapture %} {{ c }}"
        " {% increment k %}{% increment k %}"
        "{% comment %} hidden {{ nope }} {% endcomment %}"
    )
    assert text_of(source) == "[#1037][#1040] big live three cap 01"


def test_raw_passes_through_verbatim() -> None:
    source = "{% raw %}{{ site.url }} and {% link x %}{% endraw %} / {{ page.title }}"
    assert text_of(source) == "{{ site.url }} and {% link x %} / Hello"


def test_raw_inside_raw_ends_at_the_first_endraw_as_in_jekyll() -> None:
    source = "`{% raw %}{% raw %}{% endraw %}` done"
    assert text_of(source) == "`{% raw %}` done"


def test_delimiters_made_by_rendering_are_broken_for_readers() -> None:
    text = text_of("{{ '{{' }} page.title }} {{ '{' }}{{ '%' }} {{ page.t | append: '{%' }}")
    assert "{{" not in text and "{%" not in text
    assert text.replace("\u200b", "") == "{{ page.title }} {% {%"


def test_a_raw_body_next_to_a_rendered_brace_does_not_form_a_delimiter() -> None:
    text = text_of("{{ '{' }}{% raw %}{x{% endraw %}")
    assert "{{" not in text
    assert text.replace("\u200b", "") == "{{x"


def test_highlight_renders_one_line_escaped_code_block() -> None:
    source = (
        'Before\n\n{% highlight Ruby linenos %}\n\ndef x(a)\n  a < 1 && "q"\n\nend\n'
        "{% endhighlight %}\n\nAfter"
    )
    text = text_of(source)
    block = text.split("\n")[2]
    assert block == (
        '<figure class="highlight"><pre><code class="language-ruby" data-lang="ruby">'
        "def x(a)&#10;  a &lt; 1 &amp;&amp; &quot;q&quot;&#10;&#10;end</code></pre></figure>"
    )


def test_highlight_survives_markdown_and_sanitizing_with_its_language() -> None:
    source = (
        "Intro\n\n{% highlight c++ %}\nint main() {\n\n  return 0; // <ok>\n}\n"
        "{% endhighlight %}\nAfter *this*"
    )
    html = render_post(text_of(source), POST_URL, None)[0]
    assert '<pre><code class="language-c--">' in html
    assert "int main() {\n\n  return 0; // &lt;ok&gt;\n}</code></pre>" in html
    assert "<p>Intro</p>" in html


def test_highlight_keeps_raw_liquid_in_code_without_a_leak_mark() -> None:
    source = "{% highlight liquid %}\n{% raw %}{{ page.title }}{% endraw %}\n{% endhighlight %}"
    text = text_of(source)
    assert "{{" not in text and "\u200b" not in text
    html = render_post(text, POST_URL, None)[0]
    assert '<code class="language-liquid">{{ page.title }}</code>' in html


def test_highlight_without_a_language_is_a_syntax_error_with_its_line() -> None:
    outcome = render("one\ntwo\n{% highlight %}\nx\n{% endhighlight %}", first_line=10)
    assert outcome.error is not None
    assert outcome.error[0] == 12
    assert "highlight" in outcome.error[1]


def test_link_and_post_url_render_placeholders_with_trimmed_targets() -> None:
    text = text_of(
        "[a]({% link  _posts/2017-03-02-x.markdown  %}) "
        "[b]({% post_url 2013-05-06-jekyll-1-0-0-released %})"
    )
    assert targets_in(text) == (
        ("link", "_posts/2017-03-02-x.markdown"),
        ("post_url", "2013-05-06-jekyll-1-0-0-released"),
    )
    assert placeholder("link", "_posts/2017-03-02-x.markdown") in text


def test_link_argument_expands_liquid_variables() -> None:
    text = text_of("{% link {{ page.doc }} %}", page=make_page(doc="_docs/history.md"))
    assert targets_in(text) == (("link", "_docs/history.md"),)


def test_link_split_over_lines_is_one_tag() -> None:
    text = text_of("[x]({% link\n_posts/2018-01-02-a.md %})")
    assert targets_in(text) == (("link", "_posts/2018-01-02-a.md"),)


def test_link_without_target_is_a_warning_and_nothing() -> None:
    outcome = render("a\n{% link {{ page.nothing }} %}")
    assert outcome.error is None and outcome.text == "a\n"
    assert (2, "warning", "link without a target renders nothing") in outcome.problems


def test_include_with_parameters_reads_them_as_include_dot() -> None:
    includes = DictIncludes(
        {"note.html": "<b>{{ include.title }}</b>/{{ include.n }}/{{ include.s }}"}
    )
    text = text_of(
        '{% include note.html title="Hi \\"you\\"" n=page.n s=\'it\\\'s\' %}', includes=includes
    )
    assert text == '<b>Hi "you"</b>/3/it\'s'


def test_include_name_may_hold_a_variable() -> None:
    includes = DictIncludes({"icons/x.svg": "<svg/>"})
    page = make_page(icon="x")
    assert text_of("{% include icons/{{ page.icon }}.svg %}", includes=includes, page=page) == (
        "<svg/>"
    )


def test_include_shares_the_posts_variables_as_in_jekyll() -> None:
    includes = DictIncludes({"set.html": "{% assign seen = page.title | upcase %}"})
    assert text_of("{% include set.html %}{{ seen }}", includes=includes) == "HELLO"


def test_nested_include_sees_the_outer_parameters_when_it_has_none() -> None:
    includes = DictIncludes(
        {"outer.html": "[{% include inner.html %}]", "inner.html": "{{ include.a }}"}
    )
    assert text_of("{% include outer.html a=1 %}", includes=includes) == "[1]"


def test_include_relative_reads_from_the_post_folder_and_is_recorded() -> None:
    includes = DictIncludes(relative={"part.md": "part of {{ page.title }}"})
    outcome = render(
        "{% include_relative part.md %} {% include_relative gone.md %}", includes=includes
    )
    assert outcome.text.startswith("part of Hello")
    assert outcome.relative_reads == ("part.md", "gone.md")


def test_missing_include_is_a_warning_at_its_line_and_renders_nothing() -> None:
    outcome = render("a\nb {% include gone.html %} c", first_line=4)
    assert outcome.error is None
    assert outcome.text == "a\nb  c"
    assert outcome.problems == [(5, "warning", "include gone.html: no such file in _includes")]


def test_refused_include_is_a_warning_and_renders_nothing() -> None:
    includes = DictIncludes({"x.html": "secret"}, refused=frozenset({"x.html"}))
    outcome = render("{% include x.html %}", includes=includes)
    assert outcome.text == ""
    assert outcome.problems == [(1, "warning", "include x.html refused: outside _includes")]


def test_include_read_once_per_post_even_in_a_loop() -> None:
    includes = DictIncludes({"i.html": "{{ i }}"})
    text = text_of("{% for i in (1..5) %}{% include i.html %}{% endfor %}", includes=includes)
    assert text == "12345"
    assert includes.asked == ["i.html"]


def test_syntax_error_inside_an_include_is_reported_at_the_include_tag() -> None:
    includes = DictIncludes({"bad.html": "ok\n{% if %}"})
    outcome = render("one\ntwo {% include bad.html %}", includes=includes, first_line=7)
    assert outcome.error is not None
    assert outcome.error[0] == 8
    assert "bad.html" in outcome.error[1]


def test_undefined_names_render_empty_with_one_warning_at_the_first() -> None:
    outcome = render("a\nb {{ page.foo }}\n{{ site.bar }} {{ page.foo }} {{ nope }}", first_line=3)
    assert outcome.text == "a\nb \n  "
    assert outcome.problems == [(4, "warning", "undefined in Liquid: page.foo, site.bar, nope")]


def test_testing_for_a_value_is_not_an_undefined_warning() -> None:
    outcome = render("{% if page.foo %}x{% endif %}{{ page.foo | default: 'd' }}")
    assert outcome.text == "d"
    assert outcome.problems == []


def test_site_posts_is_empty_with_a_warning() -> None:
    outcome = render("x\n{% for p in site.posts %}{{ p.title }}{% endfor %}{{ site.tags | size }}")
    assert outcome.text == "x\n0"
    assert (2, "warning", "site.posts is not available to feed entries") in outcome.problems
    assert any("site.tags is not available" in p[2] for p in outcome.problems)


def test_syntax_error_is_an_error_with_the_file_line() -> None:
    outcome = render("line\nline\n{% for x in %}\n", first_line=5)
    assert outcome.text == ""
    assert outcome.error is not None
    assert outcome.error[0] == 7
    assert outcome.error[1].startswith("Liquid syntax error")


def test_unknown_tag_is_an_error() -> None:
    outcome = render("{% gist 123 %}")
    assert outcome.error is not None and "gist" in outcome.error[1]


def test_unclosed_output_is_an_error_not_published_text() -> None:
    outcome = render("a {{ page.title")
    assert outcome.error is not None


def test_unknown_filter_passes_input_through_with_a_warning() -> None:
    outcome = render("{{ 'x' | no_such }}{{ 'y' | no_such }}")
    assert outcome.text == "xy"
    assert outcome.problems == [(1, "warning", "unknown Liquid filter 'no_such' ignored")]


def test_shopify_render_tag_is_not_jekyll() -> None:
    assert render("{% render 'x' %}").error is not None


def test_site_time_prints_as_ruby_time() -> None:
    assert text_of("{{ site.time }}", site=make_site()) == "2024-05-01 12:00:00 -0800"


def test_site_url_baseurl_and_link_become_one_absolute_placeholder_url() -> None:
    source = "[x]({{ site.url }}{{ site.baseurl }}{% link _posts/2020-01-01-a.md %})"
    html = render_post(text_of(source), POST_URL, None)[0]
    holder = placeholder("link", "_posts/2020-01-01-a.md")
    assert f'<a href="https://example.com/blog{holder}">x</a>' in html
