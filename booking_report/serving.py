"""The receiver's HTTP server: waitress, guarded so that one client cannot close the door
on Cal.com's deliveries, and stopped gracefully.

- **A cap per client.** waitress refuses new connections once `connection_limit` are
  open; one client trickling a header line every few seconds on a thousand connections
  took them all, and every genuine delivery timed out (Cal.com does not retry). A
  client (by its socket's address; not the trusted proxy, which speaks for many) may
  hold at most `per_client` connections; the next is closed at once.
- **A deadline for a whole request.** waitress closes a connection idle for
  `channel_timeout`, but a client that sends one byte at a time is never idle. A
  request whose headers and body have not all arrived within `request_seconds` of its
  first byte is closed.
- **SIGTERM finishes what it started.** The listening socket is closed at once (a
  restart's new process can bind), requests already received or being received are
  completed and answered (up to `grace_seconds`), then the process exits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

log = logging.getLogger("booking_report.serving")


class GuardedChannel(HTTPChannel):
    """A connection that remembers when the request it is receiving began."""

    request_began: float | None = None
    _released = False

    def received(self, data):
        if data and self.request is None:
            self.request_began = time.monotonic()
        result = super().received(data)
        if self.request is None:  # none in progress: it completed, or none began
            self.request_began = None
        return result

    def del_channel(self, map=None):
        super().del_channel(map)
        if not self._released:
            self._released = True
            self.server.release(self.addr)

    def busy(self) -> bool:
        """Still receiving a request, working on one, or sending an answer."""
        return bool(self.request is not None or self.requests or self.total_outbufs_len)


class GuardedServer(TcpWSGIServer):
    channel_class = GuardedChannel

    def __init__(self, *args, per_client: int, request_seconds: float,
                 exempt: set[str] | None = None, **kwargs):
        self.per_client = per_client
        self.request_seconds = request_seconds
        self.exempt = exempt or set()
        self.open_by_client: Counter[str] = Counter()
        self._refusals_logged_at = 0.0
        self._refused_since_log = 0
        super().__init__(*args, **kwargs)

    def handle_accept(self):
        try:
            accepted = self.accept()
            if accepted is None:
                return
            conn, addr = accepted
            self.set_socket_options(conn)
        except OSError:
            return
        addr = self.fix_addr(addr)
        client = addr[0] if isinstance(addr, tuple) else str(addr)
        if client not in self.exempt and self.open_by_client[client] >= self.per_client:
            conn.close()
            self._refused(client)
            return
        self.open_by_client[client] += 1
        self.channel_class(self, conn, addr, self.adj, map=self._map)

    def release(self, addr: Any) -> None:
        client = addr[0] if isinstance(addr, tuple) else str(addr)
        self.open_by_client[client] -= 1
        if self.open_by_client[client] <= 0:
            del self.open_by_client[client]

    def _refused(self, client: str) -> None:
        # one log line a minute at most, however many are refused
        self._refused_since_log += 1
        now = time.monotonic()
        if now - self._refusals_logged_at >= 60:
            log.warning("refused %d connections from %s: more than %d open at once",
                        self._refused_since_log, client, self.per_client)
            self._refusals_logged_at, self._refused_since_log = now, 0

    def maintenance(self, now):
        super().maintenance(now)
        cutoff = time.monotonic() - self.request_seconds
        for channel in list(self.active_channels.values()):
            began = getattr(channel, "request_began", None)
            if began is not None and began < cutoff and not channel.requests:
                channel.will_close = True  # a request trickled in too slowly

    def busy_channels(self) -> int:
        return sum(1 for channel in list(self.active_channels.values())
                   if isinstance(channel, GuardedChannel) and channel.busy())


def create_guarded_server(app, *, host: str, port: int, threads: int, per_client: int,
                          request_seconds: float, exempt: set[str] | None = None,
                          **adjustments: Any) -> GuardedServer:
    adj = Adjustments(host=host, port=port, threads=threads, **adjustments)
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    (sockinfo,) = adj.listen[:1]
    return GuardedServer(app, {}, True, None, dispatcher=dispatcher, adj=adj,
                         sockinfo=sockinfo, per_client=per_client,
                         request_seconds=request_seconds, exempt=exempt)


def serve_until_stopped(server: GuardedServer, stopping: threading.Event, *,
                        grace_seconds: float = 20.0) -> None:
    """Serve until ``stopping`` is set; then stop accepting, finish the requests in
    hand (or being received) for up to ``grace_seconds``, and shut the workers down."""
    loop = dict(timeout=server.adj.asyncore_loop_timeout, map=server._map,
                use_poll=server.adj.asyncore_use_poll, count=1)
    try:
        while not stopping.is_set():
            wasyncore.loop(**loop)
        server.accepting = False
        server.del_channel()  # the listening socket: new connections are refused now
        server.socket.close()
        deadline = time.monotonic() + grace_seconds
        while server.busy_channels() and time.monotonic() < deadline:
            wasyncore.loop(**{**loop, "timeout": 0.05})
        left = server.busy_channels()
        if left:
            log.warning("stopped with %d requests unfinished after %.0f s", left,
                        grace_seconds)
    finally:
        server.task_dispatcher.shutdown(timeout=5)
