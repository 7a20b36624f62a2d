"""Splitting a post into front matter and body, and reading the front matter safely.

Loading goes through python-frontmatter's handler protocol: :data:`YAML_HANDLER` and
:data:`TOML_HANDLER` are its handlers (``YAMLHandler`` / ``BaseHandler`` subclasses) with the
strict loaders below, so they also work with ``frontmatter.loads(text, handler=YAML_HANDLER)``.
Its default handlers cannot be used as they are: their YAML loader applies YAML 1.1 guessing
(``title: no`` becomes ``False``) and follows aliases. The *splitting* is done here, line by
line, rather than with the handlers' regex split: the rules that matter for real blogs — only
the first block is front matter, it must open on the first line (a BOM must not hide it),
``---END---`` or a later ``---`` is body, the body's starting line is known for error messages —
are easier to guarantee than to check after a regex split.

The YAML is read by a loader built for untrusted, hand-written input:

* no anchors or aliases: a few hundred bytes of nested aliases expand to gigabytes;
* no YAML 1.1 guessing: ``no``/``on``/``yes`` stay strings, ``1.10`` stays ``"1.10"``, ``0755``
  stays ``"0755"``. Only ``null``, ``true``/``false``, plain decimal integers and YAML timestamps
  are typed; every other scalar is the string the author wrote;
* characters YAML calls unprintable are accepted — they are stripped per field later, and a
  stray control character in a title should not make a post vanish.

The same rules run on libyaml's C parser when the text cannot trip the differences between the
two (no ``&``/``*``/``!``, tabs, block scalars, …; see :func:`_fast_yaml`): the pure-Python
loader took a quarter of a post's parse time. Anything unusual, and every error, goes through
the Python loader, so results and messages do not depend on which one ran.

Most front matter is flatter still: one ``key: value`` per line, values quoted, plain or a
one-line list. That shape is read line by line here (:func:`_simple_yaml`, ~10× less work than
libyaml plus the Python constructors it calls), with typing done by the very resolver table and
constructors the loaders use; any line of another shape sends the whole text to the loaders.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, ClassVar

import yaml
from frontmatter.default_handlers import BaseHandler, YAMLHandler
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import BaseResolver, Resolver

from feedsmith.core.lazyre import LazyPattern

MAX_FRONT_MATTER_BYTES = 64 * 1024


class FrontMatterError(ValueError):
    """Front matter that cannot be used; ``line`` is the file line when one is known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class Document:
    """A post split in two. ``body_line`` is the 1-based file line where the body starts."""

    meta: dict[str, Any]
    body: str
    body_line: int
    format: str | None


def _key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, datetime | date):
        return key.isoformat()
    return str(key)


class _AliasRefused(yaml.MarkedYAMLError):
    pass


class _StrictRules(SafeConstructor):
    """Typing rules shared by the Python and the libyaml loader (constructors run in Python)."""

    # SafeConstructor's bool table also knows yes/no/on/off; only reachable via an explicit tag
    # now, but keep the table strict too so `!!bool yes` is not silently True.
    bool_values: ClassVar[dict[str, bool]] = {"true": True, "false": False}

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[str, Any]:
        # Keys become strings as they are built: `1:` and `true:` would otherwise collide
        # (1 == True in a dict), and every consumer downstream wants text keys anyway.
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, found {node.id}", node.start_mark
            )
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be text, not a list or mapping", key_node.start_mark
                )
            mapping[_key(key)] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_timestamp(self, node: Any) -> Any:
        # The regex admits impossible dates (2025-13-45); keep those as the text the author
        # wrote so the date parser can name the problem instead of the YAML layer failing.
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)


class _StrictLoader(_StrictRules, yaml.SafeLoader):
    """SafeLoader with YAML 1.1's implicit typing cut down to what front matter needs."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}

    def check_printable(self, data: str) -> None:
        return None

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            what = "aliases" if isinstance(event, yaml.AliasEvent) else "anchors"
            raise _AliasRefused(
                None, None, f"YAML {what} (&/*) are not allowed in front matter", event.start_mark
            )
        return super().compose_node(parent, index)


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$"),
    list("tTfF"),
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:0|-?[1-9][0-9]*)$"), list("-0123456789")
)
for _first, _resolvers in Resolver.yaml_implicit_resolvers.items():
    for _tag, _regexp in _resolvers:
        if _tag == "tag:yaml.org,2002:timestamp":
            _StrictLoader.add_implicit_resolver(_tag, _regexp, [_first])


if yaml.__with_libyaml__:

    class _FastLoader(_StrictRules, yaml.CSafeLoader):  # type: ignore[misc]
        """The same typing rules on libyaml's C scanner/parser/composer (~10× faster).

        Resolvers and constructors are Python code that the C composer calls, so sharing
        :class:`_StrictLoader`'s tables and :class:`_StrictRules` gives identical values. The C
        composer does not go through ``compose_node``, so it cannot refuse anchors or aliases
        itself: it is only used on text that has no ``&`` or ``*`` at all (see
        :func:`_fast_yaml`).
        """

        yaml_implicit_resolvers = _StrictLoader.yaml_implicit_resolvers
        yaml_constructors = _StrictLoader.yaml_constructors

else:  # pragma: no cover - PyYAML built without libyaml
    _FastLoader = None  # type: ignore[assignment,misc]

# Flow collections nest by recursion in the C composer, which has no recursion guard; deeply
# nested text stays on the Python loader, whose depth error is already reported cleanly.
_FAST_MAX_BRACKETS = 64
_NOT_FAST = re.compile("[&*!|>\t\ufeff\x85\u2028\u2029]")

_YAML_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.M)
_TOML_CLOSE = re.compile(r"^\+\+\+[ \t]*$", re.M)
_OPEN = re.compile(r"(---|\+\+\+)[ \t]*(?:\n|$)")
_TOML_LINE = LazyPattern(r"\s*\(at line (\d+), column \d+\)\s*$")


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "empty"
    if isinstance(value, datetime | date):
        return "a date"
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"


def _fast_yaml(source: str) -> tuple[bool, object]:
    """``(True, value)`` if libyaml loads ``source`` under the strict rules, else ``(False, None)``.

    Without ``&`` and ``*`` the text can hold no anchor or alias, so there is nothing for the
    alias refusal to catch. The other characters in ``_NOT_FAST`` are where the two
    implementations were found to disagree on what they accept or return (a bare ``!`` tag is
    ``''`` in libyaml but ``None`` in PyYAML; libyaml allows tabs where PyYAML refuses them; a
    BOM inside the text; the Unicode line breaks; block scalar headers; ``?`` inside flow
    collections, which libyaml reads as part of a plain scalar where PyYAML refuses it); text
    holding any of them keeps the Python loader. ``tests/test_frontmatter.py`` checks that the
    two agree on everything else it generates.

    Anything libyaml rejects (including control characters its reader refuses but ours
    accepts) is left to the Python loader, so every error message and line number stays
    exactly what the Python loader says.
    """
    if (
        _FastLoader is None
        or _NOT_FAST.search(source) is not None
        or ((brackets := source.count("[") + source.count("{")) and "?" in source)
        or brackets > _FAST_MAX_BRACKETS
    ):
        return False, None
    try:
        loader = _FastLoader(source)  # encodes to UTF-8 first: lone surrogates fail here
        try:
            return True, loader.get_single_data()
        finally:
            loader.dispose()
    except Exception:
        return False, None


# --- the flat front matter most posts have -------------------------------------------------------

# Anything outside YAML's printable set, and every character the loaders treat specially
# (tab, BOM, NEL and the Unicode line separators), sends a text past the line reader.
_NOT_SIMPLE = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
# ``key:`` at the start of a line, then spaces or the end of the line.
_SIMPLE_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: +|$)")
_DOUBLE_QUOTED = re.compile(r'"([^"\\]*)"')
_SINGLE_QUOTED = re.compile(r"'([^']*)'")
# A plain scalar starts with a letter or digit (no indicator character) and holds no ``#``
# (comment) and no ``:`` before a space or the line end (a nested mapping: an error).
_BLOCK_PLAIN = re.compile(r"[A-Za-z0-9\xa0-\U0010ffff](?:[^:#]|:(?=[^ ]))*")
# One-line flow sequence items: quoted without escapes, or plain without the characters that
# end or complicate a plain scalar inside ``[...]`` (``?`` is read differently by the two
# loaders there).
_FLOW_ITEM = r"""(?:"[^"\\]*"|'[^']*'|[A-Za-z0-9\xa0-\U0010ffff](?: *[^ ,\[\]{}#:"'?])*)"""
_FLOW_SEQUENCE = re.compile(rf"\[ *(?:{_FLOW_ITEM} *(?:, *{_FLOW_ITEM} *)*)?\]")
_FLOW_ITEMS = re.compile(_FLOW_ITEM)
_STR_TAG = BaseResolver.DEFAULT_SCALAR_TAG
_NO_RESOLVERS: list[tuple[str, re.Pattern[str]]] = []


class _Unsupported(Exception):
    """The text is not of the flat shape :func:`_simple_yaml` reads; the loaders decide."""


# Constructors are called on this object exactly as a loader calls them on itself.
_SCALARS = _StrictRules()


def _plain(text: str) -> object:
    """A plain scalar's value: the implicit resolvers pick the tag (as ``BaseResolver.resolve``
    does: first those for its first character, then the wildcard ones), the loader's
    constructor for that tag builds the value."""
    resolvers = _StrictLoader.yaml_implicit_resolvers
    tag = _STR_TAG
    for candidate, regexp in resolvers.get(text[:1], _NO_RESOLVERS) + resolvers.get(
        None, _NO_RESOLVERS
    ):
        if regexp.match(text):
            tag = candidate
            break
    if tag == _STR_TAG:
        return text
    constructor = _StrictLoader.yaml_constructors.get(tag)
    if constructor is None:  # pragma: no cover - every implicit tag has a constructor
        raise _Unsupported(tag)
    return constructor(_SCALARS, ScalarNode(tag, text))


@lru_cache(maxsize=1024)
def _plain_key(text: str) -> str:
    """A plain key as text, typed first like any plain scalar (``Null:`` → ``"null"``). Cached:
    every post repeats the same few keys."""
    return _key(_plain(text))


def _flow_item(text: str) -> object:
    if text[0] in "\"'":
        return text[1:-1]
    return _plain(text)


def _simple_value(text: str) -> object:
    """The value after ``key: `` (trailing spaces already removed)."""
    if not text:
        return _plain("")  # an empty value is null
    first = text[0]
    if first == '"':
        match = _DOUBLE_QUOTED.fullmatch(text)
    elif first == "'":
        match = _SINGLE_QUOTED.fullmatch(text)
    elif first == "[":
        if _FLOW_SEQUENCE.fullmatch(text) is None:
            raise _Unsupported(text)
        return [_flow_item(item) for item in _FLOW_ITEMS.findall(text)]
    elif _BLOCK_PLAIN.fullmatch(text) is not None:
        return _plain(text)
    else:
        raise _Unsupported(text)
    if match is None:
        raise _Unsupported(text)
    return match.group(1)


def _simple_yaml(source: str) -> dict[str, Any] | None:
    """``source`` read as flat ``key: value`` lines, or ``None`` if it is of any other shape.

    Each line is blank, a ``#`` comment, or ``key: value`` with a plain key at column 0 and a
    value that is empty, a plain scalar, a quoted string without escapes, or a one-line list
    of such items. These are the YAML constructs whose meaning needs no context beyond the
    line, and for them the result equals the loaders' (``tests/test_parse_speed_equivalence.py``
    compares the two on generated text): keys and plain values are typed through the loaders' own
    resolvers and constructors, a later duplicate key wins as in ``construct_mapping``.
    Text with no key at all is left to the loaders (the value is then ``None``, not ``{}``).
    """
    if _NOT_SIMPLE.search(source) is not None:
        return None
    mapping: dict[str, Any] = {}
    try:
        for line in source.split("\n"):
            if not line or line[0] == "#" or not line.strip(" "):
                continue
            match = _SIMPLE_KEY.match(line)
            if match is None:
                return None
            key = _plain_key(match.group(1))
            mapping[key] = _simple_value(line[match.end() :].rstrip(" "))
    except Exception:  # _Unsupported, or a constructor failing: the loaders say what is wrong
        return None
    return mapping or None


def _load_yaml(source: str, first_line: int) -> object:
    done, value = _fast_yaml(source)
    if done:
        return value
    try:
        return yaml.load(source, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        line = _error_line(source, first_line, exc)
        problem = exc.problem or exc.context or "syntax error"
        if isinstance(exc, _AliasRefused):
            raise FrontMatterError(problem, line) from None
        raise FrontMatterError(f"front matter is not valid YAML: {problem}", line) from None
    except RecursionError:
        raise FrontMatterError("front matter is nested too deeply", first_line) from None
    except Exception as exc:
        raise FrontMatterError(f"front matter is not valid YAML: {exc}", first_line) from None


def _error_line(source: str, first_line: int, exc: yaml.MarkedYAMLError) -> int | None:
    """The file line a YAML error is about, as an editor numbers lines.

    PyYAML's ``mark.line`` also counts NEL, U+2028 and U+2029 as line breaks, which editors and
    ``str.split("\n")`` do not, so an error after one was reported a line too late: the line
    is counted from the mark's character index instead. An error found only at the end of the
    stream (an unclosed quote or bracket) points at where the unclosed thing began, and a line
    that is neither ``key: value`` nor a continuation at that line, not at the next one.
    """
    mark = exc.problem_mark
    context = exc.context_mark
    if context is not None and (
        mark is None
        or mark.index >= len(source.rstrip())
        or exc.context == "while scanning a simple key"  # a key line without ":"
    ):
        mark = context
    if mark is None:
        return None
    return first_line + source.count("\n", 0, mark.index)


def _load_toml(source: str, first_line: int) -> object:
    try:
        # Floats as text: `version = 1.10` must stay "1.10", as in YAML.
        return tomllib.loads(source, parse_float=str)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_LINE.search(message)
        line = first_line + int(match.group(1)) - 1 if match else first_line
        message = _TOML_LINE.sub("", message) if match else message
        raise FrontMatterError(f"front matter is not valid TOML: {message}", line) from None
    except RecursionError:
        raise FrontMatterError("front matter is nested too deeply", first_line) from None


def _as_mapping(meta: object) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise FrontMatterError(f"front matter is {_kind(meta)}, not a mapping", 2)
    return {_key(k): v for k, v in meta.items()}


class StrictYAMLHandler(YAMLHandler):
    """python-frontmatter's YAML handler with feedsmith's safe, non-guessing loader.

    Only ``---`` opens a block (python-frontmatter's default also takes ``----…``)."""

    FM_BOUNDARY = re.compile(r"^---[ \t]*$", re.M)

    def load(self, fm: str, **kwargs: object) -> dict[str, Any]:
        simple = _simple_yaml(fm)
        if simple is not None:  # a mapping with text keys already
            return simple
        return _as_mapping(_load_yaml(fm, 2))


class StrictTOMLHandler(BaseHandler):
    """A python-frontmatter handler for ``+++`` TOML on the standard library's ``tomllib``
    (its own ``TOMLHandler`` needs the third-party ``toml`` package), floats kept as text."""

    FM_BOUNDARY = re.compile(r"^\+\+\+[ \t]*$", re.M)
    START_DELIMITER = END_DELIMITER = "+++"

    def load(self, fm: str, **kwargs: object) -> dict[str, Any]:
        return _as_mapping(_load_toml(fm, 2))


YAML_HANDLER = StrictYAMLHandler()
TOML_HANDLER = StrictTOMLHandler()
_HANDLERS: dict[str, tuple[str, BaseHandler]] = {
    "---": ("yaml", YAML_HANDLER),
    "+++": ("toml", TOML_HANDLER),
}


def parse_document(text: str) -> Document:
    """Split ``text`` (as returned by ``sources.decode``) into front matter and body.

    A first line that is not ``---`` or ``+++`` means there is no front matter: the whole text
    is body. Otherwise the block must be closed, at most 64 KB, parse, and be a mapping.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    opening = _OPEN.match(text)
    if opening is None:
        return Document({}, text, 1, None)
    fmt, handler = _HANDLERS[opening.group(1)]
    start = opening.end()
    closing = (_YAML_CLOSE if fmt == "yaml" else _TOML_CLOSE).search(text, start)
    if closing is None or not opening.group(0).endswith("\n"):
        raise FrontMatterError("front matter is not closed (opened on line 1)", 1)
    source = text[start : closing.start()]
    if len(source) > MAX_FRONT_MATTER_BYTES // 4 and (
        len(source.encode("utf-8", "surrogatepass")) > MAX_FRONT_MATTER_BYTES
    ):
        raise FrontMatterError(
            f"front matter is larger than {MAX_FRONT_MATTER_BYTES // 1024} KB", 1
        )
    close_line = text.count("\n", 0, closing.start()) + 1
    end = closing.end()
    if end < len(text) and text[end] == "\n":
        end += 1
    body = text[end:]
    body_line = close_line + 1

    return Document(handler.load(source), body, body_line, fmt)
