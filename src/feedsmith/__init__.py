"""feedsmith: Jekyll-style Markdown posts in, Atom / RSS 2.0 / JSON Feed out, served over HTTP."""

__version__ = "0.2.0"

#: Bumped whenever feedsmith itself starts rendering a post to other bytes (a Markdown extension,
#: a sanitizer rule). It is part of ``Config.fingerprint()``, so the caches keyed on it (the parse
#: cache holds each post's HTML) are rebuilt once after the upgrade instead of serving the old
#: rendering until each post is edited; and the early no-change answer (``pipeline/early.py``)
#: is not given across it. The version string alone is not enough: it changes on releases, not
#: on every change. 1: footnotes. 2: kramdown attribute lists and markdown="1" blocks.
RENDERING_REVISION = 2
