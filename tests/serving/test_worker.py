"""The serving worker's pure parts: when a buffered request is whole, JSON error answers."""

from __future__ import annotations

import json

import pytest

from botify.serving.worker import (
    MAX_BUFFERED_BYTES,
    MalformedRequest,
    json_error,
    request_complete,
    take_expectation,
)

BODY = b'{"track": 3, "time": 0.5}'
HEAD = b"POST /next/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


def with_length(body: bytes, declared: int | None = None) -> bytes:
    length = len(body) if declared is None else declared
    return HEAD + b"Content-Length: %d\r\n\r\n" % length + body


def chunked(*chunks: bytes, end: bytes = b"0\r\n\r\n") -> bytes:
    framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    return HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + framed + end


@pytest.mark.parametrize(
    "buffer",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        with_length(BODY),
        with_length(BODY) + b"GET / HTTP/1.1\r\n",  # the start of a pipelined next request
        chunked(BODY[:10], BODY[10:]),
        chunked(BODY, end=b"0\r\nX-Trailer: 1\r\n\r\n"),
        HEAD + b"Expect: something-else\r\n\r\n",  # refused by the parser (417)
        with_length(b"", declared=MAX_BUFFERED_BYTES + 1),  # refused by the app, not buffered
        HEAD + b"X: " + b"a" * MAX_BUFFERED_BYTES,  # a head too long: the parser refuses it
    ],
)
def test_a_whole_request_goes_to_a_thread(buffer):
    assert request_complete(buffer)


@pytest.mark.parametrize(
    "buffer",
    [
        b"",
        b"POST /next/1 HTTP/1.1\r\n",  # a stalled client: request line, then nothing
        HEAD,
        with_length(BODY[:-1], declared=len(BODY)),  # Content-Length larger than the body
        chunked(BODY, end=b""),
        chunked(BODY, end=b"0\r\n"),
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"19\r\n" + BODY[:5],
    ],
)
def test_a_partial_request_waits_in_the_event_loop(buffer):
    assert not request_complete(buffer)


@pytest.mark.parametrize(
    "framing", [b"zz\r\n{}\r\n0\r\n\r\n", b"-1\r\n", b"2\r\n{}}\r\n0\r\n\r\n", b"0x2\r\n{}\r\n"]
)
def test_a_malformed_chunked_body_is_refused(framing):
    with pytest.raises(MalformedRequest):
        request_complete(HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + framing)


def test_gunicorns_error_page_becomes_the_apis_json():
    page = (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
        b"Content-Type: text/html\r\nContent-Length: 9\r\n\r\n<html><head><title>x</title></head>"
        b"<body><h1><p>Request Header Fields Too Large</p></h1>\n"
        b"Error parsing headers: &#x27;limit&#x27;\n</body></html>"
    )
    head, body = json_error(page).split(b"\r\n\r\n", 1)

    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"Content-Type: application/json" in head
    assert b"Content-Length: %d" % len(body) in head
    assert json.loads(body) == {"message": "Error parsing headers: 'limit'"}


def test_a_100_continue_expectation_is_answered_by_the_worker_and_the_body_awaited():
    head = HEAD + b"Expect: 100-Continue\r\nContent-Length: 25\r\n\r\n"

    rewritten = take_expectation(head)

    assert rewritten == HEAD + b"Content-Length: 25\r\n\r\n"
    assert not request_complete(rewritten)
    assert request_complete(rewritten + BODY)
    assert take_expectation(rewritten) is None
    assert take_expectation(head.replace(b"HTTP/1.1", b"HTTP/1.0")) is None
