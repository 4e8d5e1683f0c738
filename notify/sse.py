"""Server-sent event framing (WHATWG HTML, "server-sent events").

Frames are bytes so one encoded `data:` block can be shared by every stream
that carries the same change.
"""

from __future__ import annotations


def _clean(field: str, value: str) -> str:
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"SSE {field} must be one line without NUL")
    return value


def data_block(data: str) -> bytes:
    """`data:` lines for a payload; a newline in it starts another data line."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "".join(f"data: {line}\n" for line in lines).encode()


def event(data: str | bytes, *, id: str | None = None, event: str | None = None) -> bytes:
    """One complete event. `data` may be a pre-encoded data_block()."""
    head = ""
    if event is not None:
        head += f"event: {_clean('event', event)}\n"
    if id is not None:
        head += f"id: {_clean('id', id)}\n"
    block = data if isinstance(data, bytes) else data_block(data)
    return head.encode() + block + b"\n"


def retry(milliseconds: int) -> bytes:
    return f"retry: {int(milliseconds)}\n\n".encode()


def comment(text: str = "keep-alive") -> bytes:
    return f": {_clean('comment', text)}\n\n".encode()


KEEP_ALIVE = comment()
