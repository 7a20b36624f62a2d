"""feedsmith: Jekyll-style Markdown posts in, Atom / RSS 2.0 / JSON Feed out, served over HTTP."""

__version__ = "0.2.0"
