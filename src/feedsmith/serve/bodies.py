"""Request bodies are received in full, within a size cap and a deadline, before the app runs.

Why a layer of its own: a WSGI worker thread that reads ``wsgi.input`` waits for the client.
A client that announces ``Content-Length: 100000`` and then sends one byte a second would hold
that thread for a day, and granian runs only a few threads per worker: two such clients were
enough to stop ``serve`` from answering feed pollers. Headers are not the problem (granian
reads them itself, in Rust, with its own timeout); bodies reach Python unread.

So every request that may carry a body (any method but GET/HEAD/OPTIONS) goes through
:class:`BodyLimit` before Flask sees it:

* ``Content-Length`` over the cap → 413 at once, nothing read; a chunked body is counted as it
  arrives and answered 413 as soon as it passes the cap.
* The body must arrive within ``server.body_timeout_seconds`` → else 408 with
  ``Connection: close``. Under gunicorn the read runs in the worker thread on the connection's
  own socket, with the time left as its timeout, and the connection is then closed. Under
  granian the read (in Rust) cannot be cancelled and the connection cannot be closed from
  Python: the 408 is sent at the deadline, and the request holds its thread until the client
  finishes or goes away (see :meth:`BodyLimit._read_in_helper`).
* At most :data:`RECEIVING` requests per worker may be waiting for bodies: beyond that, 503 at
  once. This is what keeps feed GETs fast under a flood of slow bodies: the worker's other
  threads are never waiting for clients.

The app then reads the body from memory (``wsgi.input`` is replaced by a ``BytesIO`` and
``CONTENT_LENGTH`` set to what was received), so nothing downstream can block on the client.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

#: Requests per worker process that may be waiting for their bodies (a slow client keeps its
#: slot until its body arrived or it went away, also after its 408). Must stay below the
#: server's threads per worker (``server.THREADS_PER_WORKER``) so feed requests find a thread.
RECEIVING = 4
#: Methods whose bodies are never read by feedsmith (the feed responder ignores any body).
BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})
CHUNK = 16 * 1024


class _Refused(Exception):
    """The body cannot be accepted: carries the status line and the text to answer with.

    ``pending``: set when a helper thread is still reading the body; the answer must not end
    before it does (see :meth:`BodyLimit._read_in_helper`).
    """

    def __init__(self, status: str, text: str, pending: threading.Event | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.pending = pending


class BodyLimit:
    """WSGI middleware: the request body received in full (or refused) before ``app`` runs."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        max_bytes: int,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.clock = clock
        self._slots = threading.BoundedSemaphore(RECEIVING)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET") in BODILESS:
            return self.app(environ, start_response)
        try:
            declared = _content_length(environ)
            if declared is not None and declared > self.max_bytes:
                raise _Refused(
                    "413 Content Too Large",
                    f"request body too large: {declared} bytes, at most {self.max_bytes}\n",
                )
            chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
            body = self._receive(environ, declared) if declared or chunked else b""
        except _Refused as refused:
            return _refuse(refused, start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _receive(self, environ: Environ, declared: int | None) -> bytes:
        if not self._slots.acquire(blocking=False):
            raise _Refused("503 Service Unavailable", "too many request bodies in flight\n")
        sock = environ.get("gunicorn.socket")
        if not isinstance(sock, socket.socket):
            return self._read_in_helper(environ["wsgi.input"], declared)  # releases the slot
        try:
            return self._read_here(environ["wsgi.input"], sock, declared)
        finally:
            self._slots.release()

    def _read_in_helper(self, stream: Any, declared: int | None) -> bytes:
        """Read in a helper thread; this (worker) thread waits at most until the deadline.

        Why the 408 then waits for the helper: under granian a request whose response has
        ended while its body is still being read stalls the whole worker process (measured:
        every later request timed out until the slow client went away). So the 408 is sent
        in full at the deadline, but its iterable ends only when the read does (the client
        finishes or disconnects). The helper holds the request's slot until its read ended,
        which is what bounds the threads slow clients can hold (:data:`RECEIVING`), even if
        the server never iterates the 408.
        """
        outcome: list[bytes | BaseException] = []
        done = threading.Event()

        def read() -> None:
            try:
                outcome.append(_read_capped(stream, declared, self.max_bytes, None))
            except BaseException as exc:  # handed to the waiting thread
                outcome.append(exc)
            finally:
                self._slots.release()
                done.set()

        threading.Thread(target=read, name="feedsmith-body", daemon=True).start()
        if not done.wait(self.timeout):
            raise _Refused(
                "408 Request Timeout",
                f"request body not received within {self.timeout:g} s\n",
                pending=done,
            )
        return _result(outcome[0])

    def _read_here(self, stream: Any, sock: socket.socket, declared: int | None) -> bytes:
        """gunicorn: read in this thread, each read bounded by the time left on the socket."""
        deadline = self.clock() + self.timeout
        previous = sock.gettimeout()
        try:
            return _read_capped(stream, declared, self.max_bytes, (sock, deadline, self.clock))
        except TimeoutError:
            raise _Refused(
                "408 Request Timeout",
                f"request body not received within {self.timeout:g} s\n",
            ) from None
        finally:
            sock.settimeout(previous)


def _refuse(refused: _Refused, start_response: StartResponse) -> Iterable[bytes]:
    data = refused.text.encode("utf-8")
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(data))),
        # The rest of the body may still be on its way: this connection is done.
        ("Connection", "close"),
        ("Cache-Control", "no-store"),
    ]
    if refused.status.startswith("503"):
        headers.append(("Retry-After", "5"))
    start_response(refused.status, headers)
    if refused.pending is None:
        return [data]
    return _answer_then_wait(data, refused.pending)


def _answer_then_wait(data: bytes, pending: threading.Event) -> Iterator[bytes]:
    yield data
    pending.wait()


def _result(item: bytes | BaseException) -> bytes:
    if isinstance(item, BaseException):
        if isinstance(item, _Refused):
            raise item
        raise _Refused("400 Bad Request", "request body could not be read\n") from item
    return item


def _read_capped(
    stream: Any,
    declared: int | None,
    max_bytes: int,
    bounded: tuple[socket.socket, float, Callable[[], float]] | None,
) -> bytes:
    """The body, at most ``max_bytes`` (one byte more proves it too large: 413).

    ``bounded``: the socket, deadline and clock when every read must end by the deadline. Then
    reads are one byte at a time so a client trickling bytes cannot stretch one read past it
    (gunicorn's reader buffers what a ``recv`` brought, so this is not a syscall per byte).
    """
    want = max_bytes + 1 if declared is None else declared
    parts: list[bytes] = []
    got = 0
    while got < want:
        size = min(CHUNK, want - got)
        if bounded is not None:
            sock, deadline, clock = bounded
            left = deadline - clock()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            size = 1
        part = stream.read(size)
        if not part:
            break
        parts.append(part)
        got += len(part)
    if got > max_bytes:
        raise _Refused(
            "413 Content Too Large", f"request body too large: more than {max_bytes} bytes\n"
        )
    if declared is not None and got < declared:
        raise _Refused("400 Bad Request", "request body shorter than its Content-Length\n")
    return b"".join(parts)


def _content_length(environ: Environ) -> int | None:
    value = environ.get("CONTENT_LENGTH", "")
    if not value:
        return None
    try:
        length = int(value)
    except ValueError:
        raise _Refused("400 Bad Request", "invalid Content-Length\n") from None
    if length < 0:
        raise _Refused("400 Bad Request", "invalid Content-Length\n")
    return length
