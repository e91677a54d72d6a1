"""Run the reward server on uvicorn, with graceful shutdown.

On SIGTERM / SIGINT the server stops accepting (the listening socket closes, ``/ready`` and new
requests answer 503), lets every accepted request finish, then stops the workers and exits 0.
"""

from __future__ import annotations

import signal
import socket
import sys
from typing import Any

import uvicorn

from rewardsmith.serve.app import ServeConfig, create_app

__all__ = ["run_server", "LISTENING"]

#: First line the server prints once its workers are up and it serves (then the URL): scripts and
#: tests wait for it.
LISTENING = "rewardsmith serve: listening on"


class _DrainingServer(uvicorn.Server):
    """uvicorn's server that marks the app draining as soon as a stop signal arrives."""

    def __init__(self, config: uvicorn.Config, state: Any) -> None:
        super().__init__(config)
        self._rs_state = state

    announce = ""

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)  # runs the lifespan: workers are up after this
        if self.started and self.announce:
            print(self.announce, flush=True)

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._rs_state.draining = True
        super().handle_exit(sig, frame)


def run_server(cfg: ServeConfig, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning") -> None:
    """Serve ``cfg`` on ``host:port`` (port 0: any free port) until SIGTERM / SIGINT."""
    app = create_app(cfg)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"--host/--port: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on",
                            timeout_keep_alive=30, timeout_graceful_shutdown=None)
    server = _DrainingServer(config, app.state.rs)
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    server.announce = (f"{LISTENING} http://{shown}:{bound} (rules {app.state.rs.ruleset.name}, "
                       f"{app.state.rs.service.workers} workers)")
    # uvicorn re-raises the stop signal once it has drained; a clean drain then exits 0, not -15
    prev = {sig: signal.signal(sig, _exit_clean) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, h in prev.items():
            signal.signal(sig, h)
    sys.stdout.flush()


def _exit_clean(signum: int, frame: Any) -> None:
    sys.stdout.flush()
    raise SystemExit(0)
