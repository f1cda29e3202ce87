"""A transaction-mode pgbouncer in front of a Postgres server, as Supabase's pooler is
(its transaction mode, port 6543): stock settings (no `ignore_startup_parameters`, so a
startup `options` parameter is refused as Supabase's pooler refuses it), trust
authentication for tests, a random port, run as the `postgres` system user when
started by root. Stopped and removed by `stop()` (or the context manager)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from devtools.net import free_port

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


class PgBouncer:
    def __init__(self, server_dsn: str, *, pool_size: int = 4, max_clients: int = 400):
        params = conninfo_to_dict(server_dsn)
        self.dir = Path(tempfile.mkdtemp(prefix="brpooler-"))
        os.chmod(self.dir, 0o777)
        self.port = free_port()
        self.server_host = params.get("host") or "127.0.0.1"
        self.server_port = int(params.get("port") or 5432)
        self.user = params.get("user") or "postgres"
        (self.dir / "users.txt").write_text(f'"{self.user}" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={self.server_host} port={self.server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            f"unix_socket_dir = {self.dir}\n"
            "auth_type = trust\n"
            f"auth_file = {self.dir / 'users.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {pool_size}\n"
            f"max_client_conn = {max_clients}\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\n"
            f"pidfile = {self.dir / 'pgbouncer.pid'}\n")
        for name in ("users.txt", "pgbouncer.ini"):
            os.chmod(self.dir / name, 0o644)
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.proc = subprocess.Popen([*prefix, PGBOUNCER, str(self.dir / "pgbouncer.ini")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                psycopg.connect(self.dsn_for(params.get("dbname") or "postgres"),
                                connect_timeout=2, prepare_threshold=None).close()
                return
            except psycopg.Error:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = self.log()
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not start:\n{log}") from None
                time.sleep(0.1)

    def dsn_for(self, dbname: str) -> str:
        """A URL for ``dbname`` through the pooler."""
        return make_conninfo(host="127.0.0.1", port=str(self.port), user=self.user,
                             dbname=dbname)

    def pooled(self, server_dsn: str) -> str:
        """The pooled URL of a database given by its direct URL."""
        return self.dsn_for(conninfo_to_dict(server_dsn)["dbname"])

    def log(self) -> str:
        try:
            return (self.dir / "pgbouncer.log").read_text()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PgBouncer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
