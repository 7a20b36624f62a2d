"""``feedsmith serve``: one builder process and the web workers that answer pollers.

The builder (:mod:`.schedule`, :mod:`.trigger`) runs the pipeline on a schedule, on saves and on
the webhook; the web workers (granian or gunicorn, started by :mod:`.server`) only read what it
published — from ``output_dir`` or, on replicas, from the bucket — through one ``Store``, and
answer with the HTTP pollers rely on (ETag, 304, gzip, HEAD, 410). Nothing here is imported by
the stages below: serving may use publishing and the pipeline, never the reverse.
"""
