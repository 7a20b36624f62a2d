"""After a build: the change set and the sinks that deliver it.

A build ends in a :class:`~feedsmith.publish.changes.ChangeSet` (the whole published tree and
what changed). Every destination is a ``Sink`` consuming it: the local writer first
(:mod:`.output`: staged files renamed into place, the manifest last), then the ones the config
asks for (:mod:`.sinks`): the bucket (:mod:`.s3`) and WebSub (:mod:`.websub`). A new destination
is a new sink here, never a branch in the orchestrator.
"""
