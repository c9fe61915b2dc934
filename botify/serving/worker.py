"""The gunicorn worker of ``botify serve``: gthread, but a thread takes a request only once
it has arrived whole, and a worker takes connections only once it is ready.

gunicorn's gthread worker hands a connection to a thread as soon as its first bytes arrive,
and the thread then blocks reading the rest of the request: 8 clients that send a request
line and stop hold all 2 × 4 threads, and every other client waits for as long as they do.
Here the worker's event loop (the one that already watches kept-alive connections) reads
each request into a buffer without blocking, and a thread gets the connection only when
the head and its whole body (by Content-Length, or chunked up to the last chunk, checked by
gunicorn's own parser so that the two agree on what is whole and what is malformed) are
there: a stalled client costs a descriptor and a buffer, not a thread. A 100-continue under
HTTP/1.0 is ignored, as gunicorn ignores it: its body is awaited like any other. A request
that has not arrived whole within ``REQUEST_READ_TIMEOUT_S`` of its connection becoming readable is
dropped (closed without an answer).

Readiness: a forked worker (a respawn after a crash, ``SIGHUP``) brings the deployed lists
and the active experiment up to date *before* it accepts connections, then tells the arbiter
(``botify.serving.arbiter``), which retires the workers it replaces only then. It accepts on
its slot's socket only (``post_fork``), which the arbiter holds open: connections the kernel
queues there while no worker of the slot is ready wait instead of being refused or reset.

A worker out of descriptors (``accept`` failing with EMFILE, ENFILE, ENOBUFS or ENOMEM)
stops accepting for ``ACCEPT_BACKOFF_S`` and then tries again, logging it at most every
``LOG_EVERY_S``: gthread would die, cutting every client it holds.

Errors that gunicorn answers itself (a request line or headers too long, a bad header or
chunk size) are sent as the API's ``{"message": ...}`` JSON instead of an HTML page.
"""

from __future__ import annotations

import contextlib
import errno
import html
import json
import math
import os
import re
import selectors
import time
from functools import partial

from gunicorn import http
from gunicorn.config import Config
from gunicorn.http.errors import ChunkMissingTerminator, NoMoreData, ParseException
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

# A request must arrive whole within this long; a client that stalls is dropped after it.
REQUEST_READ_TIMEOUT_S = 10.0
# Past this many buffered bytes a thread takes the request anyway: the parser refuses a
# head over gunicorn's limits (414, 431) and the app a body over its own (413).
MAX_BUFFERED_BYTES = 1024 * 1024
RECV_BYTES = 64 * 1024
# accept() failing for want of descriptors or memory stops accepting this long; the event
# loop ticks every second, so this is also the granularity of the retry.
ACCEPT_RESOURCE_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
ACCEPT_BACKOFF_S = 1.0
# A stopping worker closes a connection that has sent nothing for this long.
IDLE_AT_STOP_S = 1.0
LOG_EVERY_S = 10.0
# gunicorn's defaults, for checking a buffer outside a worker (tests).
DEFAULT_CONFIG = Config()


class MalformedRequest(ValueError):
    """A request whose framing is broken (a bad chunk size): answered 400 by the worker."""


def _chunked_body_complete(buffer: bytes, cfg: Config) -> bool:
    """Whether ``buffer`` (a whole head) holds its whole chunked body, as gunicorn's own
    parser reads it: the worker's idea of a complete, well-formed body is the parser's, so
    the body the application reads later parses. ``MalformedRequest`` if it never will
    (a chunk size with whitespace, a bad extension or terminator)."""
    try:
        request = Request(cfg, IterUnreader([buffer]), ("", 0))
    except ParseException:
        return True  # a bad head: the thread's parser refuses it the same way
    try:
        while request.body.read(RECV_BYTES):
            pass
    except NoMoreData:
        return False
    except ChunkMissingTerminator as e:
        # At the end of the buffer the terminator may still be on its way.
        if len(e.term) < 2 and b"\r\n".startswith(bytes(e.term)):
            return False
        raise MalformedRequest(str(e)) from None
    except ParseException as e:
        raise MalformedRequest(str(e)) from None
    return True


def take_expectation(buffer: bytes) -> bytes | None:
    """If the buffered head of an HTTP/1.1 request expects ``100-continue``, the buffer
    without that header line: the worker answers the expectation itself (the client sends
    its body only then) and the request goes on as one without it. None otherwise."""
    head_end = buffer.find(b"\r\n\r\n")
    # Nearly every request expects nothing: one search instead of splitting the head.
    if head_end < 0 or b"100-continue" not in buffer[:head_end].lower():
        return None
    request_line, *fields = buffer[:head_end].split(b"\r\n")
    kept = [
        line
        for line in fields
        if [part.strip().lower() for part in line.partition(b":")[::2]]
        != [b"expect", b"100-continue"]
    ]
    if len(kept) == len(fields) or not request_line.endswith(b"HTTP/1.1"):
        return None
    return b"\r\n".join([request_line, *kept]) + buffer[head_end:]


def request_complete(buffer: bytes, cfg: Config = DEFAULT_CONFIG) -> bool:
    """Whether ``buffer`` starts with a whole HTTP/1 request a thread can handle without
    waiting for the client: its head and, by ``Content-Length`` or chunked encoding, its
    body. A request expecting something other than 100-continue is complete once its head
    is, and gunicorn refuses it (417); one whose head or body is too large to buffer too,
    and the parser or the app refuses it. A 100-continue left in the head is one of
    HTTP/1.0 (``take_expectation`` answers those of HTTP/1.1): gunicorn ignores it and
    reads the body, so its body is awaited here too.
    ``MalformedRequest`` when its chunked body is malformed."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return len(buffer) > MAX_BUFFERED_BYTES
    body = head_end + 4
    length, chunked = 0, False
    for line in buffer[:head_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"expect" and value != b"100-continue":
            return True
        if name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"content-length":
            if not value.isdigit():
                return True
            length = int(value)
    if chunked:
        return len(buffer) > MAX_BUFFERED_BYTES or _chunked_body_complete(buffer, cfg)
    return length > MAX_BUFFERED_BYTES or len(buffer) - body >= length


def json_answer(status_line: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer with the API's error body, closing the connection."""
    body = json.dumps({"message": message}).encode()
    head = (
        f"{status_line}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def json_error(raw: bytes) -> bytes:
    """gunicorn's HTML error answer (``gunicorn.util.write_error``) as the API's JSON:
    the same status line, ``{"message": ...}`` with the page's message (or its reason)."""
    text = raw.decode("latin-1")
    status_line = text.split("\r\n", 1)[0]
    reason = status_line.split(" ", 2)[2] if status_line.count(" ") >= 2 else "Error"
    page = re.search(r"</h1>(.*)</body>", text, re.DOTALL)
    message = html.unescape(page.group(1)).strip() if page else ""
    return json_answer(status_line, message or reason)


class _Captured:
    """Stands in for a client socket while gunicorn writes an error page to it."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> None:
        return None

    def setblocking(self, _flag: bool) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.data += data


class BotifyWorker(ThreadWorker):
    """gthread with whole requests, readiness before listening, JSON error pages, and
    accept paused (not the worker dead) when descriptors run out."""

    # When accepting may resume, and when a pause was last logged (monotonic seconds).
    _accept_paused_until = 0.0
    _accept_paused_logged = -math.inf

    def run(self) -> None:
        """Get ready (deployed lists, active experiment), then listen and serve; past its
        memory limit, finish the requests and exit (the arbiter starts a fresh worker)."""
        service = self.wsgi.extensions["botify"]
        service.memory.on_exceeded = self._retire
        service.get_ready()
        os.write(self.ready_write, b"1")
        os.close(self.ready_write)
        super().run()

    def _retire(self) -> None:
        # gthread's loop stops at its next tick (within a second) and shuts down gracefully.
        self.alive = False

    def set_accept_enabled(self, enabled: bool) -> None:
        """gthread's switch of its listeners, held off while an accept backoff lasts
        (the event loop asks to enable them again on every tick)."""
        if enabled and time.monotonic() < self._accept_paused_until:
            return
        super().set_accept_enabled(enabled)

    def _pause_accepting(self, error: OSError) -> None:
        """Out of descriptors or memory: stop accepting for ``ACCEPT_BACKOFF_S`` (new
        connections wait in the listen backlog) instead of dying with every open client."""
        now = time.monotonic()
        if now - self._accept_paused_logged >= LOG_EVERY_S:
            self.log.warning(
                "cannot accept connections (%s): pausing accept for %.1f s; open connections "
                "are served",
                error.strerror,
                ACCEPT_BACKOFF_S,
            )
            self._accept_paused_logged = now
        self._accept_paused_until = now + ACCEPT_BACKOFF_S
        self.set_accept_enabled(False)

    def accept(self, listener) -> None:
        """Accept a connection and wait, in the event loop, for its first request."""
        try:
            client, address = listener.accept()
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno in ACCEPT_RESOURCE_ERRORS:
                self._pause_accepting(e)
            elif e.errno != errno.ECONNABORTED:
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())
        # The bytes of the next request received so far.
        conn.buffer = b""
        self._wait_for_request(conn)

    def _wait_for_request(self, conn) -> None:
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + REQUEST_READ_TIMEOUT_S
        self.pending_conns.append(conn)
        self.poller.register(
            conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn)
        )

    def _receive(self, conn) -> bool:
        """Append what the client sent to the connection's buffer; False once it closed."""
        try:
            data = conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        conn.buffer += data
        return bool(data)

    def on_client_socket_readable(self, conn, client) -> None:
        """A kept-alive connection has bytes: buffer its next request."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if not self._receive(conn):
            self.nr_conns -= 1
            conn.close()
            return
        self.enqueue_req(conn)

    def _whole(self, conn) -> bool:
        """Whether the connection's buffer holds a whole request (``MalformedRequest`` if
        its framing is broken); answers a 100-continue expectation on the way."""
        rewritten = take_expectation(conn.buffer)
        if rewritten is not None:
            conn.buffer = rewritten
            # A client gone or unable to take 25 bytes stalls, and is dropped in time.
            with contextlib.suppress(OSError):
                conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        return request_complete(conn.buffer, self.cfg)

    def on_pending_socket_readable(self, conn, client) -> None:
        """More of a request arrived: hand it to a thread once it is whole."""
        received = self._receive(conn)
        try:
            if received and not self._whole(conn):
                return
        except MalformedRequest:
            pass  # enqueue_req answers it
        self.poller.unregister(client)
        self.pending_conns.remove(conn)
        if not received:
            self.nr_conns -= 1
            conn.close()
            return
        self.enqueue_req(conn)

    def enqueue_req(self, conn) -> None:
        """Give the connection to a thread if a whole request is buffered, else wait for it.

        gthread also calls this after an answer when the client had already sent (part of)
        its next request, which is then in the parser's buffer.
        """
        if conn.parser is not None:
            conn.buffer = conn.parser.unreader.take_buffered() + conn.buffer
        try:
            complete = self._whole(conn)
        except MalformedRequest as e:
            self._refuse(conn, str(e))
            return
        if not complete:
            self._wait_for_request(conn)
            return
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(conn.buffer)
        conn.buffer = b""
        conn.data_ready = True
        super().enqueue_req(conn)

    def _refuse(self, conn, message: str) -> None:
        """Answer 400 with ``message`` and close (the rest of the body cannot be framed)."""
        self.log.warning("Invalid request from ip=%s: %s", conn.client[0], message)
        try:
            conn.sock.setblocking(True)
            conn.sock.sendall(json_answer("HTTP/1.1 400 Bad Request", message))
        except OSError:
            self.log.debug("Failed to send error message.")
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Drop requests that did not arrive in time; once stopping, idle connections too."""
        super().murder_pending()
        if not self.alive:
            # Idle for a while: a connection just taken from the listen queue has its
            # request on the way.
            idle_since = time.monotonic() + REQUEST_READ_TIMEOUT_S - IDLE_AT_STOP_S
            for conn in [c for c in self.pending_conns if not c.buffer and c.timeout < idle_since]:
                self.pending_conns.remove(conn)
                self.poller.unregister(conn.sock)
                self.nr_conns -= 1
                conn.close()

    def handle_error(self, req, client, addr, exc) -> None:
        """gunicorn's own error answers (400, 414, 431, ...) as JSON."""
        captured = _Captured()
        super().handle_error(req, captured, addr, exc)
        if captured.data:
            try:
                client.sendall(json_error(captured.data))
            except OSError:
                self.log.debug("Failed to send error message.")


def post_fork(arbiter, worker) -> None:
    """In the new worker: keep its slot's listening socket (``BotifyArbiter.assign_slot``)
    and the writing end of its readiness pipe; close its copies of the rest (the other
    slots' sockets, the arbiter's ends of the readiness pipes)."""
    for pipe in [worker.ready_read, *arbiter.ready_pipes.values()]:
        os.close(pipe)
    for slot, listener in enumerate(worker.sockets):
        if slot != worker.slot:
            listener.close()
    worker.sockets = [worker.sockets[worker.slot]]
