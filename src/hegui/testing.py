"""Real HTTP servers for tests (this project's and yours): an ASGI app under uvicorn in a thread.

The gateway, the scripted upstream, the console and the service stand-ins (real-name provider, SMS
gateway) are all tested over real sockets; this is the one way they are started and stopped.
Throw-away stores are in ``hegui.store.testing``.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Self


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadedServer:
    """``app`` served on a free port of 127.0.0.1 while inside ``with``; ``base`` is its URL."""

    __test__ = False  # not a pytest test class, whatever a subclass is called

    def __init__(self, app: Any, *, name: str = "test server", start_timeout_s: float = 10.0,
                 stop_timeout_s: float = 10.0, **uvicorn_options: Any) -> None:
        import uvicorn

        self.name, self.start_timeout_s, self.stop_timeout_s = name, start_timeout_s, stop_timeout_s
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cfg = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error", access_log=False,
                             **uvicorn_options)
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=self.stop_timeout_s)
