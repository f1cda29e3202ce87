"""The page's "Refresh now": a long-lived `booking-report refresh-worker` child.

Started on the first press and kept while presses keep coming, so dbt is imported and
the project parsed once, not on every press (a fresh `refresh` process spends about
half of a small refresh on that: docs/decisions/page.md). The worker is a child
process, not a thread of the server: dbt never runs inside the process that receives
Cal.com's webhooks. One line on its stdin starts a refresh; it answers with one JSON
line when the refresh is done. A worker that has ended (idle, or crashed) is reaped by
its reader thread and the next press starts a new one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any


class RefreshWorker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._busy = False
        self.last: dict[str, Any] | None = None  # the last answer (status, error, seconds, parses)
        self.answered = threading.Condition(self._lock)

    @property
    def running(self) -> bool:
        """A refresh asked of the worker has not been answered yet."""
        with self._lock:
            return self._busy

    @property
    def pid(self) -> int | None:
        with self._lock:
            alive = self._proc is not None and self._proc.poll() is None
            return self._proc.pid if alive else None

    def request(self, env: dict[str, str], log_path: Path, *, idle_seconds: float) -> bool:
        """Ask for a refresh; False when one asked earlier is still running."""
        with self._lock:
            if self._busy:
                return False
            for attempt in (1, 2):
                if self._proc is None or self._proc.poll() is not None:
                    self._proc = self._spawn(env, log_path, idle_seconds)
                with open(log_path, "ab") as logfile:
                    logfile.write(f"\n--- refresh requested {datetime.now().isoformat()}"
                                  f" (worker {self._proc.pid})\n".encode())
                try:
                    self._proc.stdin.write("refresh\n")
                    self._proc.stdin.flush()
                    break
                except (BrokenPipeError, ValueError):
                    # ended between the check and the write: start another, once
                    self._proc = None
                    if attempt == 2:
                        raise
            self._busy = True
            return True

    def _spawn(self, env: dict[str, str], log_path: Path,
               idle_seconds: float) -> subprocess.Popen:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as logfile:
            proc = subprocess.Popen(
                [sys.executable, "-m", "booking_report.cli", "refresh-worker",
                 "--idle-seconds", f"{idle_seconds:g}"],
                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logfile,
                text=True, bufsize=1, start_new_session=True)
        threading.Thread(target=self._read, args=(proc,), name="refresh-worker-reader",
                         daemon=True).start()
        return proc

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                self.last = answer
                self._busy = False
                self.answered.notify_all()
        proc.wait()  # reaped: no zombie under the server
        with self._lock:
            if self._proc is proc:
                if self._busy:  # it ended in the middle of a refresh
                    self.last = {"status": proc.returncode, "error": "the worker ended",
                                 "seconds": None}
                self._busy = False
                self._proc = None
                self.answered.notify_all()

    def wait(self, timeout: float) -> bool:
        """Until the refresh asked last is answered (for tests); False on timeout."""
        with self._lock:
            return self.answered.wait_for(lambda: not self._busy, timeout)

    def stop(self, timeout: float = 60) -> None:
        """Close the worker's input: it ends after the refresh in hand."""
        with self._lock:
            proc = self._proc
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
