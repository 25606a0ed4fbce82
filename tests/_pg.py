"""A throwaway PostgreSQL cluster from the system binaries, in a temp dir.

PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres``
OS user (Debian's package creates it). `.ci/run` / `./dev.sh test` install Debian's
``postgresql`` when the binaries are missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def _bindir() -> Path | None:
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgCluster:
    root: Path
    port: int
    bindir: Path
    run_as: str | None
    user: str = "agnes"
    password: str = "s3cret-pg-pass"
    dbname: str = "agnes_test"

    @property
    def dsn(self) -> str:
        return (f"host=127.0.0.1 port={self.port} user={self.user} password={self.password} "
                f"dbname={self.dbname}")

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.dbname}"

    def _run(self, *args: str, input_text: str | None = None) -> str:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        done = subprocess.run(cmd, input=input_text, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr or done.stdout}")
        return done.stdout

    def psql(self, sql: str, dbname: str | None = None) -> str:
        cmd = ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-X", "-h", "127.0.0.1", "-p", str(self.port),
               "-U", self.user, "-d", dbname or self.dbname, "-f", "-"]
        env = {**os.environ, "PGPASSWORD": self.password}
        done = subprocess.run(cmd, input=sql, capture_output=True, text=True, env=env, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr}")
        return done.stdout

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop")
        except RuntimeError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> PgCluster:
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed; install Debian's "
                           "'postgresql' package (./dev.sh test does when run as root)")
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise RuntimeError("running as root needs the 'postgres' OS user to run PostgreSQL; install "
                               "Debian's 'postgresql' package") from exc
        run_as = "postgres"
    root = Path(tempfile.mkdtemp(prefix="agnes-pg-"))
    os.chmod(root, 0o777)
    cluster = PgCluster(root=root, port=_free_port(), bindir=bindir, run_as=run_as)
    pwfile = root / "pw"
    pwfile.write_text(cluster.password)
    os.chmod(pwfile, 0o644)
    cluster._run("initdb", "-D", str(root / "data"), "-U", cluster.user, "--pwfile", str(pwfile),
                 "-A", "scram-sha-256", "-E", "UTF8", "--no-sync")
    (root / "sock").mkdir()
    os.chmod(root / "sock", 0o777)
    cluster._run("pg_ctl", "-D", str(root / "data"), "-l", str(root / "log"), "-w", "-t", "60", "-o",
                 f"-p {cluster.port} -c listen_addresses=127.0.0.1 -k {root / 'sock'} -c fsync=off "
                 "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50", "start")
    deadline = time.monotonic() + 60
    while True:
        try:
            cluster.psql(f"CREATE DATABASE {cluster.dbname}", dbname="postgres")
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)  # polling for the server to accept connections, with a deadline
    return cluster
