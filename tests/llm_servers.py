"""Real HTTP servers for the LLM tests, all on 127.0.0.1: llama.cpp's OpenAI-compatible server running the
SmolLM2 GGUF, and a fault-injecting proxy in front of it (429, 500, timeouts, cut connections, bad bodies).
"""

from __future__ import annotations

import collections
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO

FAULTS = ("429", "500", "503", "timeout", "cut", "malformed", "no-choices", "slow")
"""What the proxy can do to one request instead of (or before) forwarding it."""

SERVE = (
    "import runpy\n"
    "from dysen_core.llama_loading import model_defaults\n"
    "with model_defaults(use_extra_bufts=False):\n"  # as the in-process LLM does (its `repack` option)
    "    runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)\n"
)
"""``python -m llama_cpp.server`` without llama.cpp's weight repacking, which crashes on CPUs with AMX."""

HANG_S = 60.0  # longest a "timeout" fault holds its request (the proxy lets go at once when it stops)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def llama_server(gguf: Path, *, api_key: str, alias: str = "smollm2", ready_s: float = 60.0) -> Iterator[str]:
    """Run llama.cpp's server (``SERVE``) on a free port; yield its ``/v1`` base URL; stop it afterwards."""
    port = free_port()
    cmd = [
        sys.executable, "-c", SERVE, "--model", str(gguf), "--model_alias", alias,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1",
        "--seed", "0", "--api_key", api_key, "--verbose", "False",
    ]  # fmt: skip
    log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a full pipe would stall the server
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(proc, f"{base}/models", api_key, ready_s, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_ready(proc: subprocess.Popen, url: str, api_key: str, ready_s: float, log: IO[str]) -> None:
    deadline = time.monotonic() + ready_s
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"llama.cpp server exited with {proc.returncode}: {log.read()[-2000:]}")
        try:
            with urllib.request.urlopen(request, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"llama.cpp server not ready at {url} after {ready_s} s")


class FaultProxy:
    """An OpenAI-compatible endpoint that forwards to ``upstream`` unless a queued fault says otherwise.

    ``inject(*faults)`` queues faults; each chat request takes the next one (or none). It counts the chat
    requests it saw, the most it held at once, and the Authorization headers it received.
    """

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self._faults: collections.deque[str] = collections.deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.auth_headers: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def inject(self, *faults: str) -> None:
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {FAULTS}")
        with self._lock:
            self._faults.extend(faults)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests = self.max_in_flight = 0
            self.auth_headers.clear()

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _begin(self, auth: str) -> str | None:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.auth_headers.append(auth)
            return self._faults.popleft() if self._faults else None

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fault = proxy._begin(self.headers.get("Authorization", ""))
                try:
                    self._serve(fault, body)
                finally:
                    proxy._end()

            def _serve(self, fault: str | None, body: bytes) -> None:
                if fault in ("429", "500", "503"):
                    error = {"error": {"message": f"injected {fault}", "type": "injected", "code": int(fault)}}
                    self._send(int(fault), json.dumps(error).encode(), {"Retry-After": "0"} if fault == "429" else {})
                elif fault == "timeout":
                    proxy._stop.wait(HANG_S)
                    self.close_connection = True
                elif fault == "cut":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                elif fault == "malformed":
                    self._send(200, b'{"id": "x", "choices": [{"message": {"content": "tru')
                elif fault == "no-choices":
                    self._send(200, json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode())
                else:
                    if fault == "slow":
                        time.sleep(0.3)
                    self._forward(body)

            def _forward(self, body: bytes) -> None:
                request = urllib.request.Request(
                    proxy.upstream + self.path.removeprefix("/v1"),
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "Authorization": self.headers.get("Authorization", ""),
                    },
                )
                try:
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        self._send(answer.status, answer.read())
                except urllib.error.HTTPError as exc:
                    self._send(exc.code, exc.read())

            def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler
