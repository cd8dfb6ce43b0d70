"""Running uvicorn: one process, or a supervisor and `workers` processes.

With several workers uvicorn binds the listening socket itself with protocol 0; accepted
sockets inherit it and asyncio then leaves Nagle's algorithm on (it sets TCP_NODELAY only
for IPPROTO_TCP sockets), so every keep-alive response waits ~40 ms for the client's
delayed ACK (uvicorn issue #3149; measured in bench/README.md). The socket is created
here as IPPROTO_TCP instead, and handed to uvicorn's own supervisor.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "api.app:app_from_env"


def _tcp_socket(config: uvicorn.Config) -> socket.socket:
    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        sock.set_inheritable(True)
    return sock


def run_server(host: str, port: int, workers: int) -> None:
    # access_log off: the app writes its own structured line per request (api/access_log.py).
    config = uvicorn.Config(
        APP, factory=True, host=host, port=port, workers=workers, log_level="info", access_log=False
    )
    if config.workers <= 1:
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[_tcp_socket(config)]).run()
