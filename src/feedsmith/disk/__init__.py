"""The local disk edge shared by the stages: private atomic writes and one-line disk errors.

``state_dir`` holds what decides the next build and the hub's secrets, so every file written
there is created ``0600`` through :mod:`.statedir`, and a folder others can write is refused.
:mod:`.errors` turns an ``OSError`` into one line naming the operation, the path and, for a
full disk, the free space — the form ``build``, ``serve`` and the logs print.
"""
