"""The listening socket handed to uvicorn's workers is a TCP socket, so that asyncio sets
TCP_NODELAY on every accepted connection (a proto-0 socket costs ~40 ms per response)."""

from __future__ import annotations

import socket

import uvicorn

from api.server import APP, _tcp_socket


def test_the_workers_socket_is_ipproto_tcp() -> None:
    config = uvicorn.Config(APP, factory=True, host="127.0.0.1", port=0, workers=2)
    plain = config.bind_socket()
    try:
        assert plain.proto == 0  # what uvicorn does by itself: the reason for _tcp_socket
    finally:
        plain.close()
    sock = _tcp_socket(config)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.get_inheritable()
        sock.listen()
        client = socket.create_connection(sock.getsockname()[:2], timeout=2)
        accepted, _ = sock.accept()
        try:
            assert accepted.proto == socket.IPPROTO_TCP
        finally:
            accepted.close()
            client.close()
    finally:
        sock.close()
