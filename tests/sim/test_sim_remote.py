import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sim.env import ListeningSessionEnv
from sim.remote import RemoteAgent, RemoteAgentError
from sim.stepwise import run_session


class StubService(BaseHTTPRequestHandler):
    """Answers /next with track + 1 and /last with the user; 400 for user 666."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        endpoint, user = self.path.strip("/").split("/")
        self.server.requests.append((endpoint, int(user), body, self.client_address))
        if user == "666":
            self._answer(400, {"message": "track: not in the catalog"})
        elif endpoint == "next":
            self._answer(200, {"user": int(user), "track": body["track"] + 1, "recommender": "s"})
        else:
            self._answer(200, {"user": int(user)})

    def _answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubService)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_session_follows_the_next_last_protocol(world, stub):
    agent = RemoteAgent(f"http://127.0.0.1:{stub.server_port}")
    outcome = run_session(ListeningSessionEnv(world), agent, key=5)
    requests = stub.requests
    assert outcome.requests == len(requests) == outcome.tracks + 1
    assert [r[0] for r in requests] == ["next"] * outcome.tracks + ["last"]
    assert {r[1] for r in requests} == {outcome.user}
    assert requests[0][2] == {"track": outcome.first_track, "time": 1.0}
    assert requests[-1][2]["track"] == outcome.first_track + outcome.tracks
    assert sum(r[2]["time"] for r in requests[1:]) == pytest.approx(outcome.time)
    assert len({r[3] for r in requests}) == 1, "one keep-alive connection for the session"
    agent.close()


def test_connections_have_tcp_nodelay(stub):
    agent = RemoteAgent(f"http://127.0.0.1:{stub.server_port}")
    agent.next_track(1, 10, 1.0)
    assert agent.connection.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    agent.close()


def test_a_connection_closed_by_the_service_is_replaced(stub):
    agent = RemoteAgent(f"http://127.0.0.1:{stub.server_port}", backoff=0.001)
    agent.next_track(1, 10, 1.0)
    agent.connection.sock.close()  # as if the service had dropped the idle connection

    assert agent.next_track(1, 11, 1.0) == 12
    assert [r[0] for r in stub.requests] == ["next", "next"]
    agent.close()


def test_a_request_without_an_answer_in_time_is_not_retried():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        agent = RemoteAgent(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.2)
        with pytest.raises(RemoteAgentError, match="no answer within 0.2 s"):
            agent.next_track(1, 2, 0.5)


def test_http_error_names_the_request(stub):
    agent = RemoteAgent(f"http://127.0.0.1:{stub.server_port}")
    with pytest.raises(RemoteAgentError, match=r"POST http://.*/next/666 .*HTTP 400.*catalog"):
        agent.next_track(666, 3, 0.5)


def test_connection_errors_are_retried_then_reported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    agent = RemoteAgent(f"http://127.0.0.1:{port}", retries=2, backoff=0.001)
    with pytest.raises(RemoteAgentError, match="no connection after 3 attempts"):
        agent.last_track(1, 2, 0.5)
