"""Podcast shows: Apple's and the Podcast Index's rules as plain data and pure functions.

``categories`` (Apple's list), ``episode`` (an episode's front-matter fields read and checked),
``show`` (a show's feed, GUID and chapters files), ``checks`` (what Apple would reject or
degrade). Reading cover art and media files is the pipeline's (:mod:`feedsmith.pipeline.podcast`);
rendering is :mod:`feedsmith.core.render.podcast`.
"""
