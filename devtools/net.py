"""Network helpers for tests and benchmarks: free ports, a `serve` process to talk to,
waiting for a server, and clients that trickle (slow or idle connections)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen | None = None, timeout: float = 30,
                 statuses: tuple[int, ...] = (200,)) -> None:
    """Until ``url``/healthz answers one of ``statuses``; a RuntimeError with the
    process's output when it exits or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
                if resp.status in statuses:
                    return
        except urllib.error.HTTPError as err:
            if err.code in statuses:
                return
        except OSError:
            pass
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            output = ""
            if proc is not None:
                if proc.poll() is None:
                    proc.kill()
                out = proc.communicate(timeout=10)[0]
                output = out.decode() if isinstance(out, bytes) else (out or "")
            raise RuntimeError(f"the server at {url} did not become healthy:\n{output}")
        time.sleep(0.1)


def start_serve(env_extra: dict[str, str], *, args: tuple[str, ...] = (),
                statuses: tuple[int, ...] = (200, 503), output: bool = True,
                timeout: float = 30, preexec_fn=None) -> tuple[subprocess.Popen, str]:
    """`booking-report serve` on a free port with this environment added; waits until
    /healthz answers. ``output``: keep stdout and stderr (stop_serve returns them)."""
    port = free_port()
    env = dict(os.environ, **env_extra)
    env.pop("BOOKING_REPORT_DATABASE", None)
    pipe = subprocess.PIPE if output else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "booking_report.cli", "serve",
                             "--port", str(port), *args], env=env, cwd=REPO, stdout=pipe,
                            stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
                            text=True, preexec_fn=preexec_fn)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, timeout=timeout, statuses=statuses)
    return proc, url


def stop_serve(proc: subprocess.Popen, timeout: float = 20) -> str:
    """SIGTERM, then the process's output (killed if it does not stop in time)."""
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


class SlowClients:
    """Connections that never finish a request: ``idle`` ones that send nothing, and
    ones that send a body (``slow_body``) or header lines (``slow_headers``) one byte
    every ``interval`` seconds. A context manager: the trickling stops and every
    socket is closed on exit."""

    def __init__(self, port: int, *, idle: int = 0, slow_body: int = 0,
                 slow_headers: int = 0, interval: float = 0.5, body_size: int = 5000,
                 host: str = "127.0.0.1", source: str | None = None):
        self.stop = threading.Event()
        self.interval = interval
        self.socks: list[tuple[socket.socket, bytes]] = []
        self.refused = 0
        for kind, count in (("idle", idle), ("body", slow_body), ("headers", slow_headers)):
            for _ in range(count):
                try:
                    sock = socket.create_connection(
                        (host, port), timeout=5,
                        source_address=(source, 0) if source else None)
                except OSError:
                    self.refused += 1
                    continue
                if kind == "idle":
                    data = b""
                elif kind == "body":
                    sock.sendall(b"POST /webhooks/calcom HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n" % body_size)
                    data = b"x" * body_size
                else:
                    data = b"POST /webhooks/calcom HTTP/1.1\r\n" + b"X-Slow: x\r\n" * 10_000
                self.socks.append((sock, data))
        self.thread = threading.Thread(target=self._trickle, daemon=True)

    def _trickle(self) -> None:
        position = 0
        while not self.stop.wait(self.interval):
            for sock, data in self.socks:
                if position < len(data):
                    try:
                        sock.send(data[position:position + 1])
                    except OSError:
                        pass
            position += 1

    def still_open(self) -> int:
        """How many of the connections the server has not closed (a read of 0 bytes)."""
        alive = 0
        for sock, _ in self.socks:
            try:
                sock.setblocking(False)
                try:
                    alive += sock.recv(1, socket.MSG_PEEK) != b""
                except BlockingIOError:
                    alive += 1
            except OSError:
                pass
        return alive

    def __enter__(self) -> SlowClients:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock, _ in self.socks:
            sock.close()


def open_from(host: str, port: int, source: str, timeout: float = 5) -> socket.socket:
    """A connection to ``host:port`` from the local address ``source`` (127.0.0.2, …:
    another client, as the server sees it)."""
    return socket.create_connection((host, port), timeout=timeout, source_address=(source, 0))
