"""The worker's idea of a whole request is gunicorn's parser's: an HTTP/1.0 100-continue
waits for its body, and a chunked body is complete or malformed exactly as the parser
reads it."""

from __future__ import annotations

import pytest

from botify.serving.worker import MalformedRequest, request_complete

BODY = b'{"track": 3, "time": 0.5}'
CHUNKED = b"POST /next/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_an_http_1_0_expectation_waits_for_the_body():
    head = (
        b"POST /next/1 HTTP/1.0\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Content-Length: %d\r\n\r\n" % len(BODY)
    )

    assert not request_complete(head)
    assert request_complete(head + BODY)


@pytest.mark.parametrize("size", [b" 19", b"19 ", b"19\t", b"1 9", b"19;a=", b'19;a="x'])
def test_a_chunk_size_gunicorn_refuses_is_malformed(size):
    with pytest.raises(MalformedRequest):
        request_complete(CHUNKED + size + b"\r\n" + BODY + b"\r\n0\r\n\r\n")


@pytest.mark.parametrize(
    "framing",
    [b"19 ;a=b\r\n" + BODY + b"\r\n0\r\n\r\n", b"19\r\n" + BODY + b"\r\n0\r\nX: 1\r\n\r\n"],
)
def test_what_gunicorn_accepts_is_complete(framing):
    assert request_complete(CHUNKED + framing)


@pytest.mark.parametrize("cut", [1, 3, 4, 20, 29, 30, 31, 33, 34])
def test_a_chunked_body_cut_anywhere_waits(cut):
    whole = b"19\r\n" + BODY + b"\r\n0\r\n\r\n"

    assert not request_complete(CHUNKED + whole[:cut])
