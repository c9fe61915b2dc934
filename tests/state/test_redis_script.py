"""ThreadLocalScript against a real redis-server: connections, reloads, restarts, forks."""

from __future__ import annotations

import os
import shutil
import signal
import threading

import pytest
import redis

from botify.serving.redis_server import RedisServer
from botify.state.script import ThreadLocalScript

ECHO = "return ARGV[1]"


def script_connections(client: redis.Redis) -> int:
    """How many connections' last command was EVALSHA."""
    return sum(1 for c in client.client_list() if c["cmd"] == "evalsha")


@pytest.fixture
def own_server(tmp_path):
    """A redis-server of this test only, which the test may stop, pause and restart."""
    server = RedisServer(tmp_path / "redis", binary=shutil.which("redis-server")).start()
    yield server
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGCONT)
    server.close()


def test_each_thread_keeps_one_connection(own_server):
    client = redis.Redis.from_url(own_server.url)
    script = ThreadLocalScript(client, ECHO)
    replies: dict[str, set[bytes]] = {}
    # A thread's connection is closed once the thread has ended and the garbage collector
    # ran, so the threads stay alive until their connections are counted.
    called, counted = threading.Barrier(5), threading.Event()

    def calls(name: str) -> None:
        replies[name] = {script([], [name]) for _ in range(20)}
        called.wait()
        counted.wait()

    threads = [threading.Thread(target=calls, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    called.wait()
    connections = script_connections(client)
    counted.set()
    for thread in threads:
        thread.join()

    assert replies == {f"t{i}": {f"t{i}".encode()} for i in range(4)}
    assert connections == 4


def test_the_script_is_loaded_again_after_script_flush(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    script = ThreadLocalScript(client, ECHO)
    assert script([], ["a"]) == b"a"

    client.script_flush()

    assert script([], ["b"]) == b"b"


def test_a_restarted_redis_is_reconnected_within_the_call(own_server):
    script = ThreadLocalScript(redis.Redis.from_url(own_server.url), ECHO)
    assert script([], ["before"]) == b"before"

    own_server.stop()
    with pytest.raises(redis.ConnectionError):
        script([], ["down"])
    own_server.start()

    assert script([], ["after"]) == b"after"


def test_a_late_reply_never_answers_the_next_call(own_server):
    client = redis.Redis.from_url(own_server.url, socket_timeout=0.2)
    script = ThreadLocalScript(client, ECHO)
    assert script([], ["warm"]) == b"warm"

    own_server.process.send_signal(signal.SIGSTOP)
    with pytest.raises(redis.TimeoutError):
        script([], ["late"])
    own_server.process.send_signal(signal.SIGCONT)

    assert script([], ["next"]) == b"next"


def test_a_forked_child_opens_its_own_connection(own_server):
    client = redis.Redis.from_url(own_server.url)
    script = ThreadLocalScript(client, ECHO)
    assert script([], ["parent"]) == b"parent"

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            reply = script([], ["child"])
            seen = script_connections(redis.Redis.from_url(own_server.url))
            os.write(write_end, b"ok" if reply == b"child" and seen == 2 else b"no")
        finally:
            os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 2)
    os.waitpid(pid, 0)

    assert answer == b"ok"
    assert script([], ["parent again"]) == b"parent again"
