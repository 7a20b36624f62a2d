"""The local machine edge the stages share: private files, disk errors, child processes.

``state_dir`` holds what decides the next build and the hub's secrets, so every file written
there is created ``0600`` through :mod:`.statedir`, and a folder others can write is refused.
:mod:`.diskerrors` turns an ``OSError`` into one line naming the operation, the path and, for a
full disk, the free space. :mod:`.lifeline` ties every process feedsmith starts (pool workers,
the forkserver, the web server) to the one that started it, so a ``kill -9`` leaves nothing.

Kept light on purpose: a web worker imports :mod:`.lifeline` (through granian's master) before
anything else, so nothing here may import the pipeline or the web stack.
"""
