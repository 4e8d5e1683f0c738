"""Real processes for tests: Azurite and the local host, on ports of their own.

The suite never touches `make run`'s ports (10000-10002, 7071), so both can
run at once.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from local_host.defaults import azurite_connection_string

if TYPE_CHECKING:
    from local_host.diagnostics import Diagnostics

ROOT = Path(__file__).resolve().parents[1]
AZURITE_BIN = ROOT / "node_modules" / ".bin" / "azurite"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


@dataclass
class Azurite:
    blob: int
    queue: int
    table: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(blob=self.blob, queue=self.queue, table=self.table)

    def start(self) -> None:
        if not AZURITE_BIN.exists():
            raise RuntimeError("Azurite is not installed: run `npm ci` (make test does)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "azurite.log", "ab")  # noqa: SIM115 (lives as long as the process)
        self.proc = subprocess.Popen(
            [
                str(AZURITE_BIN),
                "--silent",
                "--skipApiVersionCheck",
                "--loose",
                "--disableProductStyleUrl",
                "--location",
                str(self.workdir),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.blob),
                "--queueHost",
                "127.0.0.1",
                "--queuePort",
                str(self.queue),
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                str(self.table),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for port in (self.blob, self.queue, self.table):
            wait_for_port(port, proc=self.proc)

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds (at once with grace=0)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM if grace > 0 else signal.SIGKILL)
            try:
                self.proc.wait(grace if grace > 0 else 5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    @classmethod
    def create(cls) -> Azurite:
        return cls(free_port(), free_port(), free_port(), Path(tempfile.mkdtemp(prefix="azurite-test-")))

    def destroy(self, grace: float = 3.0) -> None:
        self.stop(grace)
        shutil.rmtree(self.workdir, ignore_errors=True)


# The tests' speed-ups over the local host's defaults: a sweep every 2 s, a feed read every
# 0.2 s, a reconciliation every 2 s. The benchmarks run without them (fast=False).
FAST = {
    "JOBS_SWEEP_SCHEDULE": "*/2 * * * * *",
    "WATCH_POLL_SECONDS": "0.2",
    "WATCH_RECONCILE_SECONDS": "2",
}


def isolated_settings(azurite: Azurite, *, fast: bool = True, **overrides: str) -> dict[str, str]:
    """App settings for one isolated system: its own tables and queue on the test Azurite;
    with the tests' speed-ups (`FAST`) unless fast=False."""
    suffix = secrets.token_hex(4)
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "JOBS_QUEUE_BACKEND": "storage",
        "JOBS_QUEUE_NAME": f"jobs-{suffix}",
        "JOBS_TABLE_PREFIX": f"t{suffix}",
        "AUTH_MODE": "none",
        "STREAM_TOKEN_SIGNING_KEY": "test-signing-key-" + "x" * 32,
        "CORS_ALLOWED_ORIGINS": "http://localhost:4200",
        **(FAST if fast else {}),
    }
    env.update(overrides)
    return env


@dataclass
class LocalHostProcess:
    """`python -m local_host` in a subprocess: the same thing `make run` starts."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    args: tuple[str, ...] = ()
    module: str = "local_host"  # what `python -m` runs (the benchmarks' profiler and peers use others)
    ready_path: str = "/local/diagnostics"  # ready once a GET of it answers 200
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalHostProcess:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        if self.log_path is None:
            self.log_path = Path(tempfile.mkstemp(prefix="local-host-", suffix=".log")[1])
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, "--port", str(self.port), *self.args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, timeout, self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}{self.ready_path}", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.module} did not answer {self.ready_path} in {timeout}s")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def close(self, timeout: float = 15.0) -> None:
        """Stop, and delete the log after printing its tail: pytest shows a fixture's
        teardown output only when its test failed, which is when the log matters."""
        self.stop(timeout)
        if self.log_path is not None:
            print(f"--- {self.module} on port {self.port}, last lines of its log ---")
            print("\n".join(self.log().splitlines()[-60:]))
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    def diagnostics(self) -> Diagnostics:
        from local_host.diagnostics import Diagnostics  # the app's modules, only when a host is read

        return Diagnostics.model_validate(httpx.get(f"{self.base_url}/local/diagnostics", timeout=5).json())
