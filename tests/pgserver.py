"""A throwaway PostgreSQL server for the tests that need a real one (the assistant's store;
other features reuse it): ``postgres_server()`` starts one on a free port in a temporary data
directory and yields its URL; the ``postgres`` and ``postgres_url`` fixtures share one per test session.

PostgreSQL refuses to run as root, so as root the server runs as ``nobody``. The binaries are
looked for in /usr/local/bin, Debian's /usr/lib/postgresql/<version>/bin and PATH; without
them the test is skipped with the reason (``.ci/run`` installs them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest


class PgServer(NamedTuple):
    url: str
    """``postgresql://postgres@127.0.0.1:<port>/postgres``"""
    data_dir: Path
    """The server's data directory (tests may read its files)."""


def find_bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, newest version first."""
    dirs = [
        Path("/usr/local/bin"),
        *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True),
    ]
    dirs += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    for d in dirs:
        if all((d / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server():
    """Yield a :class:`PgServer` (url, data_dir) of a running PostgreSQL (trust auth, user ``postgres``,
    database ``postgres``, 127.0.0.1 only); stopped and deleted afterwards."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL binaries (initdb, pg_ctl, postgres) not found in /usr/local/bin, "
            "/usr/lib/postgresql/*/bin or PATH (apt-get install postgresql)"
        )
    root = Path(tempfile.mkdtemp(prefix="tunewise-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        import pwd

        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        prefix = ["runuser", "-u", "nobody", "--"]
    data, log, port = root / "data", root / "server.log", free_port()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=120, cwd=root
        )

    try:
        r = run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--no-locale", "-N")  # fmt: skip
        if r.returncode != 0:
            pytest.fail(f"initdb failed: {r.stderr.strip() or r.stdout.strip()}")
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        r = run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w",
                "-t", "60", "start")  # fmt: skip
        if r.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            pytest.fail(f"pg_ctl start failed: {r.stderr.strip()} {tail}")
        try:
            yield PgServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", data)
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    """A :class:`PgServer` started once per test session (import the fixture into a test
    module or conftest: ``from tests.pgserver import postgres, postgres_url``)."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres) -> str:
    """The URL of the session's PostgreSQL server."""
    return postgres.url
