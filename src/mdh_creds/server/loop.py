"""One thread that serves many connections: a ``selectors`` loop with a bound on connections, a
deadline on every connection, and the unauthenticated closed first.

Why not ``ThreadingHTTPServer``: a thread per connection and a listen backlog of 5 let 32 SDK
clients at once wait past the JavaScript SDK's one second, and let a local user with no token
hold every thread (and the process's files) with idle connections. Here an idle connection costs
one file descriptor and no thread, answers come from memory so nothing blocks, and:

- the listen backlog is the system's largest (``socket.SOMAXCONN``);
- at most ``max_connections`` are open; a new one first evicts the oldest connection that has
  not shown the token, else the oldest idle one;
- a request head must arrive whole within ``REQUEST_DEADLINE`` of the connection opening (or of
  the previous answer); a connection that has shown the token may idle ``IDLE_DEADLINE``;
- a request head is at most 16 KiB (``wire``); a bad one gets one JSON answer (400, 431, 505),
  one debug log line, and the connection closes. No traceback, whatever a client does.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mdh_creds.server.threads import leave_signals_to_the_main_thread
from mdh_creds.server.wire import BadRequest, Request, answer_bytes, head_end, parse_head

REQUEST_DEADLINE = 5.0  # s to send a whole request head
IDLE_DEADLINE = 30.0  # s a connection that showed the token may stay idle between requests
MAX_CONNECTIONS = 256
_READ_SIZE = 64 * 1024
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """What the application answers to one request: ``trusted`` when it carried the token."""

    status: int
    document: dict[str, object]
    trusted: bool = False
    headers: dict[str, str] = field(default_factory=dict)


Application = Callable[[Request], Reply]


@dataclass
class Connection:
    """One client connection's state."""

    sock: socket.socket
    opened: float
    deadline: float
    buffer: bytearray = field(default_factory=bytearray)
    pending: bytes = b""
    trusted: bool = False
    closing: bool = False
    writing: bool = False  # registered for EVENT_WRITE: a send did not take everything


class ServerLoop:
    """Serves ``app`` on a listening socket until ``stop()``; ``run()`` is the thread's body."""

    def __init__(
        self,
        listener: socket.socket,
        app: Application,
        *,
        max_connections: int = MAX_CONNECTIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._listener, self._app, self._clock = listener, app, clock
        self._max = max_connections
        self._selector = selectors.DefaultSelector()
        self._connections: dict[socket.socket, Connection] = {}
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._stopping = False
        listener.setblocking(False)
        self._wake_reader.setblocking(False)
        self._selector.register(listener, selectors.EVENT_READ)
        self._selector.register(self._wake_reader, selectors.EVENT_READ)

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    def stop(self) -> None:
        """Ask the loop to end (from any thread)."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"x")

    def run(self) -> None:
        leave_signals_to_the_main_thread()
        try:
            while not self._stopping:
                for key, events in self._selector.select(self._timeout()):
                    self._dispatch(key.fileobj, events)  # type: ignore[arg-type]
                self._expire()
        finally:
            self._close_all()

    def _timeout(self) -> float:
        now = self._clock()
        soonest = min((c.deadline for c in self._connections.values()), default=now + 1.0)
        return min(max(soonest - now, 0.0), 1.0)

    def _dispatch(self, sock: socket.socket, events: int) -> None:
        if sock is self._listener:
            self._accept()
        elif sock is self._wake_reader:
            with contextlib.suppress(OSError):
                sock.recv(64)
        elif (conn := self._connections.get(sock)) is not None:
            try:
                if events & selectors.EVENT_WRITE:
                    self._flush(conn)
                if events & selectors.EVENT_READ and not conn.closing:
                    self._read(conn)
            except Exception:  # a client must never take the loop down
                _log.debug("endpoint: connection dropped", exc_info=True)
                self._close(conn)

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, _ = self._listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # EMFILE and friends: make room, try again next round
                _log.debug("endpoint: accept failed: %s", errno.errorcode.get(exc.errno or 0))
                self._evict()
                return
            if len(self._connections) >= self._max:
                self._evict()
            self._open(sock)

    def _open(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        now = self._clock()
        conn = Connection(sock, now, now + REQUEST_DEADLINE)
        self._connections[sock] = conn
        self._selector.register(sock, selectors.EVENT_READ)

    def _evict(self) -> None:
        """Close one connection to make room: the oldest that has not shown the token, else the
        oldest idle one (nothing buffered, nothing to send)."""
        conns = sorted(self._connections.values(), key=lambda c: c.opened)
        victim = next((c for c in conns if not c.trusted), None)
        if victim is None:
            victim = next((c for c in conns if not c.buffer and not c.pending), None)
        if victim is not None:
            self._close(victim)

    def _read(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset by the peer
            self._close(conn)
            return
        if not data:
            self._close(conn)
            return
        conn.buffer += data
        self._serve_buffered(conn)

    def _serve_buffered(self, conn: Connection) -> None:
        """Answer every whole request in the buffer (pipelining), in order."""
        while not conn.closing:
            try:
                end = head_end(conn.buffer)
                if end < 0:
                    return
                head, conn.buffer = bytes(conn.buffer[:end]), conn.buffer[end:]
                request = parse_head(head)
            except BadRequest as exc:
                self._refuse(conn, exc)
                return
            self._answer(conn, request)

    def _answer(self, conn: Connection, request: Request) -> None:
        reply = self._app(request)
        conn.trusted = conn.trusted or reply.trusted
        keep = request.keep_alive and reply.trusted and not request.has_body
        body = request.method != "HEAD"
        data = answer_bytes(
            reply.status, reply.document, keep_alive=keep, body=body, extra=reply.headers
        )
        conn.closing = not keep
        conn.deadline = self._clock() + (IDLE_DEADLINE if conn.trusted else REQUEST_DEADLINE)
        self._send(conn, data)

    def _refuse(self, conn: Connection, exc: BadRequest) -> None:
        _log.debug("endpoint: bad request (%s): %s", exc.status, exc)
        document: dict[str, object] = {"Code": "BadRequest", "Message": str(exc)}
        conn.closing = True
        conn.buffer.clear()
        self._send(conn, answer_bytes(exc.status, document, keep_alive=False))

    def _send(self, conn: Connection, data: bytes) -> None:
        conn.pending += data
        self._flush(conn)

    def _flush(self, conn: Connection) -> None:
        try:
            sent = conn.sock.send(conn.pending) if conn.pending else 0
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._close(conn)
            return
        conn.pending = conn.pending[sent:]
        if not conn.pending and conn.closing:
            self._close(conn)
        elif bool(conn.pending) != conn.writing:  # a syscall only when the interest changes
            conn.writing = bool(conn.pending)
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.writing else 0)
            self._selector.modify(conn.sock, events)

    def _expire(self) -> None:
        now = self._clock()
        for conn in [c for c in self._connections.values() if c.deadline <= now]:
            self._close(conn)

    def _close(self, conn: Connection) -> None:
        if self._connections.pop(conn.sock, None) is None:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(conn.sock)
        with contextlib.suppress(OSError):
            conn.sock.close()

    def _close_all(self) -> None:
        for conn in list(self._connections.values()):
            self._close(conn)
        for sock in (self._wake_reader, self._wake_writer):
            with contextlib.suppress(OSError):
                sock.close()
        self._selector.close()
