"""The format renderers: a feed group's documents and entries in each published format.

One module per job: :mod:`.common` (titles, ids, dates and the links a document is handed),
:mod:`.atom_rss` (Atom and RSS through feedgen, which write the same entry object), :mod:`.jsonfeed`
(JSON Feed 1.1), :mod:`.hubs` (WebSub discovery inside documents) and :mod:`.entries` (serialised
entries kept between documents). Renderers never ask :mod:`feedsmith.core.layout` for a URL: the
format table (:mod:`feedsmith.core.formats`) holds them and layout reads that table, so every URL
arrives as an argument, and :mod:`feedsmith.core.documents` is where layout and renderers meet.
"""
