"""SSE framing, byte for byte."""

import pytest

from notify import sse


def test_event_with_id_and_data():
    assert sse.event('{"a":1}', id="7") == b'id: 7\ndata: {"a":1}\n\n'


def test_named_event():
    assert sse.event("x", event="reconnect") == b"event: reconnect\ndata: x\n\n"


def test_multiline_data_becomes_several_data_lines():
    assert sse.data_block("a\nb\r\nc") == b"data: a\ndata: b\ndata: c\n"


def test_retry_and_comment():
    assert sse.retry(3000) == b"retry: 3000\n\n"
    assert sse.comment() == b": keep-alive\n\n" == sse.KEEP_ALIVE


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\0b"])
def test_ids_and_names_cannot_break_the_frame(bad):
    with pytest.raises(ValueError):
        sse.event("x", id=bad)
    with pytest.raises(ValueError):
        sse.event("x", event=bad)
