"""Split a byte stream into JSONL lines on ``\\n`` only.

httpx's ``aiter_lines`` decodes text and splits like ``str.splitlines``: on ``\\r``,
``\\x1c``, U+2028 and more. JSON allows U+2028 raw inside strings, so a model's output
containing it would be cut into two broken lines. JSONL lines end at ``\\n``; that is
the only separator used here, and it is safe to search for in UTF-8 bytes.
"""

from __future__ import annotations


class LineSplitter:
    """Feed chunks, get complete lines back; ``finish()`` returns an unterminated last line."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """Complete lines (without ``\\n`` or a trailing ``\\r``) ended by this chunk."""
        self._pending += chunk
        if b"\n" not in chunk:
            return []
        *lines, rest = bytes(self._pending).split(b"\n")
        self._pending = bytearray(rest)
        return [line[:-1] if line.endswith(b"\r") else line for line in lines]

    def finish(self) -> bytes | None:
        """The last line if the stream did not end with ``\\n``; None otherwise."""
        if not self._pending:
            return None
        line = bytes(self._pending)
        self._pending.clear()
        return line[:-1] if line.endswith(b"\r") else line

    @property
    def buffered(self) -> int:
        """Bytes of the current unfinished line held in memory."""
        return len(self._pending)
