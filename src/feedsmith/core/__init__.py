"""The pure core: posts in, feed documents out — no I/O here.

Like Flask's ``sansio``: nothing in this package opens a file or a socket, starts a thread or a
process, reads the clock or the environment. Everything it needs (the :class:`Config`, the
post's bytes, ``now``) is passed in, and it returns plain data (dataclasses, ``str``,
``bytes``), so every rule about posts and feeds is testable without a server or a disk, and the
pipeline can run any step in a worker process or from a cache. ``make test`` enforces it
(``lint-imports``: no web, HTTP, database, process or bucket library; nothing from the stages
above).

Where a change belongs: how a post is read (:mod:`.decoding`, :mod:`.frontmatter`,
:mod:`.dates`, :mod:`.markdown`, :mod:`.posts`), which feeds exist (:mod:`.groups`,
:mod:`.archive`), what a feed document looks like (the renderers, :mod:`.pages`), and every
published name and URL (:mod:`.layout`, :mod:`.formats`).
"""
