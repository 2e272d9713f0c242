"""A JSON document read piece by piece, so an AWS offer file of gigabytes never sits in memory whole.

Pure module: no Django imports, no third-party JSON library (ijson is not a dependency). The caller
walks the structure it expects: ``members()`` yields the keys of an object one at a time and
``items()`` the positions of an array's elements; at each one the caller either descends (``members``
/ ``items`` again) or reads the whole value with ``value()``, which runs the standard library's C
decoder on a buffered window of text. Memory is bounded by the largest single value read whole (one
product or one SKU's terms, a few KB), plus a 1 MiB read buffer. Numbers with a fraction are parsed as
``Decimal``, so published prices stay exact.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from finops.core.inputs import DECOMPRESS_ERRORS
from pricing.importers.errors import PriceImportError
from pricing.importers.files import InputFile

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_AFTER = frozenset(" \t\n\r,]}")  # what may follow a complete number
_CHUNK = 1 << 20
# A decode error this far before the end of the buffered text is a real syntax error, not a value cut
# off by the end of the buffer.
_LOOKAHEAD = 1 << 20


class JsonStream:
    def __init__(self, file: InputFile, chunk: int = _CHUNK) -> None:
        file.head(16)  # an empty (decompressed) file is refused as such, not as bad JSON
        self.file = file
        self._stream, self._tell = file.binary()
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._decoder = json.JSONDecoder(parse_float=Decimal)
        self._chunk = chunk
        self._buf = ""
        self._pos = 0
        self._dropped = 0  # characters discarded before the buffer (for error offsets)
        self._eof = False

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> JsonStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def bytes_read(self) -> int:
        """Bytes of the file on disk consumed so far."""
        return min(self._tell(), self.file.size)

    # ------------------------------------------------------------------------------------ buffering

    def _more(self, size: int | None = None) -> bool:
        """Append more text to the buffer; False at the end of the file."""
        if self._eof:
            return False
        try:
            data = self._stream.read(size or self._chunk)
        except DECOMPRESS_ERRORS as exc:
            raise self.file.decompress_error(exc) from None
        try:
            text = self._utf8.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise self.file.error(f"not UTF-8 text ({exc.reason} near character {self._offset()})") from None
        if not data:
            self._eof = True
        if self._pos:
            self._dropped += self._pos
            self._buf = self._buf[self._pos :]
            self._pos = 0
        self._buf += text
        return True

    def _offset(self) -> int:
        return self._dropped + self._pos

    def peek(self) -> str:
        """The next non-blank character ("" at the end of the file), without consuming it."""
        while True:
            self._pos = _WHITESPACE.match(self._buf, self._pos).end()
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._more():
                return ""

    def syntax_error(self, message: str) -> PriceImportError:
        return self.file.error(f"invalid JSON at character {self._offset()}: {message}")

    def _expect(self, char: str, what: str) -> None:
        found = self.peek()
        if found != char:
            shown = repr(found) if found else "the end of the file"
            raise self.syntax_error(f"expected {what}, found {shown}")
        self._pos += 1

    # ---------------------------------------------------------------------------------------- reads

    def value(self) -> Any:
        """The next complete JSON value."""
        if not self.peek():
            raise self.syntax_error("unexpected end of the file (truncated?)")
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if len(self._buf) - exc.pos < _LOOKAHEAD and self._more(max(self._chunk, len(self._buf) - self._pos)):
                    continue
                self._pos = exc.pos
                raise self.syntax_error(exc.msg) from None
            # A number is not self-delimiting: "2" may be the start of "2.5" cut by the end of the buffer.
            cut = end == len(self._buf) or self._buf[end] not in _AFTER
            if isinstance(value, (int, float, Decimal)) and cut and self._more():
                continue
            self._pos = end
            return value

    def members(self) -> Iterator[str]:
        """Keys of the object that starts here. After each key the caller consumes its value."""
        self._expect("{", "'{'")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            if self.peek() != '"':
                raise self.syntax_error("expected a key")
            key = self.value()
            self._expect(":", "':'")
            yield key
            found = self.peek()
            self._pos += 1
            if found == ",":
                continue
            if found == "}":
                return
            self._pos -= 1
            raise self.syntax_error("expected ',' or '}'")

    def items(self) -> Iterator[int]:
        """0-based indices of the elements of the array that starts here; the caller consumes each one."""
        self._expect("[", "'['")
        if self.peek() == "]":
            self._pos += 1
            return
        index = 0
        while True:
            yield index
            index += 1
            found = self.peek()
            self._pos += 1
            if found == ",":
                continue
            if found == "]":
                return
            self._pos -= 1
            raise self.syntax_error("expected ',' or ']'")

    def end(self) -> None:
        """Nothing but blanks may follow the top-level value."""
        if self.peek():
            raise self.syntax_error("unexpected data after the end of the document")
