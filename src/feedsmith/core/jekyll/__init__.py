"""Jekyll's own rules, pure: Liquid as Jekyll renders it, its URLs, defaults and folder names.

Used only when the config has ``jekyll:`` (:class:`feedsmith.core.config.JekyllSite`); without
it nothing here runs. No I/O: includes arrive through :class:`~.liquid.IncludeSource`, given by
the pipeline (:mod:`feedsmith.pipeline.includes`), which confines them to the site.
"""
