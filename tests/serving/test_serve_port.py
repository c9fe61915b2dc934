"""The port check before SO_REUSEPORT worker slots bind: refusing a taken port."""

from __future__ import annotations

import socket

import pytest

from botify.serving.redis_server import free_port
from botify.serving.serve import check_port_free


def listener(port: int, reuse_port: bool = False) -> socket.socket:
    sock = socket.socket()
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_a_free_port_passes():
    check_port_free("127.0.0.1", free_port())


@pytest.mark.parametrize("reuse_port", [False, True])
def test_a_port_someone_listens_on_is_refused(reuse_port):
    port = free_port()
    with listener(port, reuse_port), pytest.raises(RuntimeError, match="cannot listen"):
        check_port_free("127.0.0.1", port)


def test_port_zero_is_refused():
    with pytest.raises(ValueError, match="--port 0"):
        check_port_free("127.0.0.1", 0)


def test_an_unknown_host_is_a_clear_error():
    with pytest.raises(RuntimeError, match="cannot listen on no-such-host.invalid"):
        check_port_free("no-such-host.invalid", free_port())
