"""Jekyll's Liquid filters (``lib/jekyll/filters*.rb``), the ones people use in posts.

Each follows the Ruby behaviour where a post would show the difference (Ruby's ``to_s`` of
values in ``where``, nils first in ``sort``, ``&quot;`` but no ``&#39;`` in ``xml_escape``);
``sample`` takes the first item instead of a random one (same input, same bytes), ``smartify``
leaves quotes as they are. Every filter, python-liquid's own too, is wrapped by :func:`budgeted`
so that work over long strings and ranges is counted against one bound per post.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from liquid.exceptions import FilterArgumentError, FilterError, LiquidError
from liquid.filter import with_context
from liquid.undefined import Undefined

from feedsmith.core.jekyll import liquid_dates as dates
from feedsmith.core.jekyll import rules
from feedsmith.core.jekyll.liquid_state import charge, current

_URL_SAFE = "!#$&'()*+,/:;=?@[]~%"
_CJK = "\u1100-\u11ff\u3005\u3007\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"  # noqa: E501
_CJK_CHAR = re.compile(f"[{_CJK}]")
_CJK_WORD = re.compile(rf"[^{_CJK}\s]+")
_INTEGER_LIKE = re.compile(r"\A\s*-?\d+\s*\Z")
_FLOAT_LIKE = re.compile(r"\A\s*-?(?:\d+\.?\d*|\.\d+)\s*\Z")
_LEADING_INT = re.compile(r"\s*[-+]?\d+")


def _absent(value: object) -> bool:
    return value is None or isinstance(value, Undefined)


def ruby_str(value: object) -> str:
    """Ruby's ``to_s`` for the values front matter holds."""
    if _absent(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return ruby_inspect(value)
    return str(value)


def ruby_inspect(value: object) -> str:
    if _absent(value):
        return "nil"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{ruby_inspect(k)}=>{ruby_inspect(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(ruby_inspect(v) for v in value) + "]"
    return str(value)


# -- URLs ---------------------------------------------------------------------------------------


def _is_absolute(url: str) -> bool:
    try:
        return bool(urlsplit(url).scheme)
    except ValueError:
        return False


def _normalized(url: str) -> str:
    return quote(url, safe=_URL_SAFE)


def relative_url(value: object) -> object:
    if _absent(value):
        return None
    url = ruby_str(value)
    if _is_absolute(url):
        return url
    base = ruby_str(current().site.get("baseurl")).removesuffix("/")
    parts = [p if not p or p.startswith("/") else "/" + p for p in (base, url)]
    return _normalized("".join(parts))


def absolute_url(value: object) -> object:
    if _absent(value):
        return None
    url = ruby_str(value)
    if _is_absolute(url):
        return url
    site_url = ruby_str(current().site.get("url"))
    relative = relative_url(url)
    return _normalized(site_url + str(relative)) if site_url else relative


# -- dates ---------------------------------------------------------------------------------------


def date_to_xmlschema(value: object) -> object:
    if ruby_str(value) == "":
        return value
    return dates.xmlschema(dates.required_time(value, "date_to_xmlschema"))


def date_to_rfc822(value: object) -> object:
    if ruby_str(value) == "":
        return value
    return dates.rfc822(dates.required_time(value, "date_to_rfc822"))


def date_to_string(value: object, kind: object = None, style: object = None) -> object:
    if ruby_str(value) == "":
        return value
    return dates.date_string(dates.required_time(value, "date_to_string"), False, kind, style)


def date_to_long_string(value: object, kind: object = None, style: object = None) -> object:
    if ruby_str(value) == "":
        return value
    moment = dates.required_time(value, "date_to_long_string")
    return dates.date_string(moment, True, kind, style)


def date(value: object, fmt: object = None) -> object:
    """Liquid's standard ``date``, deterministic: see :mod:`.liquid_dates`."""
    if _absent(value):
        return ""
    if _absent(fmt):
        return ruby_str(value)
    moment = dates.to_time(value)
    if moment is None:
        return ruby_str(value)  # as Liquid: what is not a date is shown unchanged
    return dates.strftime(moment, ruby_str(fmt))


# -- text ----------------------------------------------------------------------------------------


def xml_escape(value: object) -> str:
    return html.escape(ruby_str(value), quote=False).replace('"', "&quot;")


def cgi_escape(value: object) -> str:
    return quote_plus(ruby_str(value))


def uri_escape(value: object) -> str:
    return quote(ruby_str(value), safe=_URL_SAFE)


def normalize_whitespace(value: object) -> str:
    return re.sub(r"\s+", " ", ruby_str(value)).strip()


def number_of_words(value: object, mode: object = None) -> int:
    text = ruby_str(value)
    if mode == "cjk":
        return len(_CJK_CHAR.findall(text)) + len(_CJK_WORD.findall(text))
    if mode == "auto":
        cjk = len(_CJK_CHAR.findall(text))
        return len(text.split()) if cjk == 0 else cjk + len(_CJK_WORD.findall(text))
    return len(text.split())


def array_to_sentence_string(value: object, connector: object = "and") -> str:
    items = [ruby_str(v) for v in value] if isinstance(value, (list, tuple)) else []
    word = ruby_str(connector)
    if len(items) <= 1:
        return items[0] if items else ""
    if len(items) == 2:
        return f"{items[0]} {word} {items[1]}"
    return f"{', '.join(items[:-1])}, {word} {items[-1]}"


def slugify(value: object, mode: object = None) -> str:
    """Jekyll's ``slugify`` filter: :func:`feedsmith.core.jekyll.rules.slugify`, the one the
    URLs use, so a slug made in a post and one in its permalink agree."""
    return rules.slugify(ruby_str(value), "default" if _absent(mode) else ruby_str(mode))


def markdownify(value: object) -> str:
    return current().markdownify(ruby_str(value))


def smartify(value: object) -> str:
    return ruby_str(value)


def jsonify(value: object) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"), default=str)


def _plain(value: object) -> object:
    if _absent(value):
        return None
    if isinstance(value, Mapping):
        return {ruby_str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, range)):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def inspect(value: object) -> str:
    return xml_escape(ruby_inspect(value))


def to_integer(value: object) -> int:
    if value is True or value is False:
        return int(value)
    if isinstance(value, (int, float, Decimal)):
        return int(value)
    found = _LEADING_INT.match(ruby_str(value))
    return int(found.group()) if found else 0


# -- arrays --------------------------------------------------------------------------------------


def _items(value: object) -> list[Any] | None:
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def item_property(item: object, prop: object) -> object:
    """``item``'s (dotted) ``prop``, numbers as numbers (Jekyll's ``parse_sort_input``)."""
    found: object = item
    for key in ruby_str(prop).split("."):
        if isinstance(found, Mapping):
            found = found.get(key)
        elif isinstance(found, (list, tuple)) and key.lstrip("-").isdigit():
            index = int(key)
            found = found[index] if -len(found) <= index < len(found) else None
        else:
            found = None
    if isinstance(found, bool) or _absent(found):
        return None if _absent(found) else found
    text = str(found)
    if _INTEGER_LIKE.match(text):
        return int(text)
    if _FLOAT_LIKE.match(text):
        return float(text)
    return found


def where(value: object, prop: object = None, target: object = None) -> object:
    items = _items(value)
    if _absent(prop) or isinstance(target, (list, dict)) or items is None:
        return value

    def matches(item: object) -> bool:
        found = item_property(item, prop)
        if _absent(target):
            return found is None
        wanted = ruby_str(target)
        if isinstance(found, str):
            return found == wanted
        values = found if isinstance(found, (list, tuple)) else [] if found is None else [found]
        return any(ruby_str(v) == wanted for v in values)

    return [item for item in items if matches(item)]


@with_context
def where_exp(value: object, variable: object, expression: object, *, context: Any) -> object:
    items = _items(value)
    if items is None:
        return value
    test = _condition(context.env, ruby_str(expression))
    name = ruby_str(variable)
    kept = []
    for item in items:
        charge(1)
        with context.extend({name: item}):
            buffer = context.get_buffer()
            test.render_with_context(context, buffer, partial=True)
            if buffer.getvalue() == "1":
                kept.append(item)
    return kept


def _condition(env: Any, expression: str) -> Any:
    if "%}" in expression or "{%" in expression or "{{" in expression:
        raise FilterArgumentError("where_exp: not a condition", token=None)
    return env.from_string("{% if " + expression + " %}1{% endif %}")


def sort(value: object, prop: object = None, nils: object = "first") -> object:
    if _absent(value):
        raise FilterArgumentError("Cannot sort a null object.", token=None)
    items = _items(value)
    if items is None:
        return value
    if _absent(prop):
        try:
            return sorted(items)
        except TypeError as exc:
            raise FilterArgumentError(f"sort: {exc}", token=None) from exc
    if nils not in ("first", "last"):
        raise FilterArgumentError(f"Invalid nils order: '{nils}'", token=None)
    order = -1 if nils == "first" else 1
    keyed = [(item_property(item, prop), item) for item in items]

    def compare(a: tuple[object, object], b: tuple[object, object]) -> int:
        left, right = a[0], b[0]
        if left is None or right is None:
            return 0 if left is right else (order if left is None else -order)
        try:
            return (left > right) - (left < right)  # type: ignore[operator]
        except TypeError:
            return (str(left) > str(right)) - (str(left) < str(right))

    return [item for _, item in sorted(keyed, key=functools.cmp_to_key(compare))]


def group_by(value: object, prop: object) -> object:
    items = _items(value)
    if items is None:
        return value
    groups: dict[str, list[object]] = {}
    for item in items:
        groups.setdefault(ruby_str(item_property(item, prop)), []).append(item)
    return [{"name": k, "items": v, "size": len(v)} for k, v in groups.items()]


def push(value: object, item: object) -> object:
    return [*value, item] if isinstance(value, list) else value


def pop(value: object, count: object = 1) -> object:
    if not isinstance(value, list):
        return value
    n = max(to_integer(count), 0)
    return value[: len(value) - n] if n else list(value)


def shift(value: object, count: object = 1) -> object:
    return value[max(to_integer(count), 0) :] if isinstance(value, list) else value


def unshift(value: object, item: object) -> object:
    return [item, *value] if isinstance(value, list) else value


def sample(value: object, count: object = 1) -> object:
    """Deterministic: the first item (or the first ``count``), never a random one."""
    if not isinstance(value, list):
        return value
    n = to_integer(count)
    return (value[0] if value else None) if n == 1 else value[: max(n, 0)]


JEKYLL_FILTERS: dict[str, Callable[..., Any]] = {
    "relative_url": relative_url,
    "absolute_url": absolute_url,
    "date_to_xmlschema": date_to_xmlschema,
    "date_to_rfc822": date_to_rfc822,
    "date_to_string": date_to_string,
    "date_to_long_string": date_to_long_string,
    "date": date,
    "xml_escape": xml_escape,
    "cgi_escape": cgi_escape,
    "uri_escape": uri_escape,
    "slugify": slugify,
    "markdownify": markdownify,
    "smartify": smartify,
    "jsonify": jsonify,
    "where": where,
    "where_exp": where_exp,
    "sort": sort,
    "group_by": group_by,
    "number_of_words": number_of_words,
    "array_to_sentence_string": array_to_sentence_string,
    "normalize_whitespace": normalize_whitespace,
    "inspect": inspect,
    "push": push,
    "pop": pop,
    "shift": shift,
    "unshift": unshift,
    "sample": sample,
    "to_integer": to_integer,
}


def _size(value: object) -> int:
    if isinstance(value, (str, list, tuple, dict, range)):
        return len(value)
    return 0


def budgeted(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` counting its input against the post's work limit, and failing as a Liquid
    error (with the line of its tag) whatever it raises."""

    @functools.wraps(func)
    def run(value: object, *args: Any, **kwargs: Any) -> Any:
        charge(_size(value) + sum(_size(a) for a in args))
        try:
            return func(value, *args, **kwargs)
        except LiquidError:
            raise
        except (RecursionError, MemoryError, ArithmeticError, ValueError, TypeError) as exc:
            raise FilterError(f"filter failed: {exc}", token=None) from exc

    return run
