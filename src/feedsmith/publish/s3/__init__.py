"""``publish.s3``: the published tree mirrored into an S3-compatible bucket, by one builder.

* :mod:`.client` — boto3 (imported only when a bucket is configured: the ``s3`` extra), its
  retries, one-line errors (:class:`~.client.BucketError` names bucket and endpoint), and
  reading one object back (replicas, a fresh clone recovering the id map).
* :mod:`.sink` — ``S3Sink`` (``name = "s3"``): uploads what the bucket lacks (each file with a
  ``.gz`` twin), ``index.json`` after everything it lists, gone documents, their deletion after
  ``gone_days``. What it delivered is kept in ``state_dir/s3-publish.json``, so the next build
  sends only what is missing; ``plan_delivery`` (what to send) is pure.
* :mod:`.lease_rule` / :mod:`.lease` — one publisher among several builders: the pure rule
  (create, renew, take over, wait) on observed time, and the keeper that applies it with
  conditional writes of ``.feedsmith/<prefix>lease.json``. ``configured_sinks(config,
  lease=keeper)`` wraps every sink in ``Leased``: a follower builds its own ``output_dir`` and
  delivers nothing; the leader's manifest PUT is conditional (``If-Match`` on the ETag it last
  wrote) and stamped with the fencing token. Safety rests on observed time, not synchronized
  clocks, except for one-shot ``build`` (see :mod:`.lease`).
"""
