"""`tracepost api` and `tracepost worker` as operators start them: a fresh var folder is created."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_api_creates_its_var_folder_for_the_default_store(tmp_path):
    var = tmp_path / "fresh" / "var"
    port = free_port()
    env = {
        **os.environ,
        "TRACEPOST_VAR_DIR": str(var),
        "TRACEPOST_API_PORT": str(port),
        "TRACEPOST_CODEC": "off",
        "TRACEPOST_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # nobody: connects lazily
    }
    env.pop("TRACEPOST_STORE_URL", None)
    tracepost = Path(sys.executable).parent / "tracepost"
    proc = subprocess.Popen(
        [str(tracepost), "api"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        if status != 200 and proc.poll() is not None and proc.stdout is not None:
            raise AssertionError(proc.stdout.read().decode())
        assert status == 200
        assert var.is_dir()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_worker_creates_its_var_folder_for_the_default_store(tmp_path):
    """It gets past the store to the Temporal connection (nobody listens), not a SQLite error."""
    var = tmp_path / "fresh" / "var"
    env = {
        **os.environ,
        "TRACEPOST_VAR_DIR": str(var),
        "TRACEPOST_ERP": "sage500",
        "TRACEPOST_ERP_URL": f"sqlite:///{tmp_path / 'erp.db'}",
        "TRACEPOST_CODEC": "off",
        "TRACEPOST_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    env.pop("TRACEPOST_STORE_URL", None)
    tracepost = Path(sys.executable).parent / "tracepost"
    done = subprocess.run(
        [str(tracepost), "worker"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0  # no Temporal to connect to
    assert "unable to open database file" not in done.stderr, done.stderr
    assert "Failed client connect" in done.stderr, done.stderr
    assert (var / "store.db").is_file()  # the store was created there
