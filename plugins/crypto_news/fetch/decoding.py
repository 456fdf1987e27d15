"""Content decoding (gzip, deflate, brotli) with an output limit, so that a compression bomb stops at the cap and
a stream cut short in transit is noticed."""

from __future__ import annotations

import zlib
from typing import Any

import brotli


class BodyDecodeError(Exception):
    pass


class Decoder:
    """Incremental decoder for one Content-Encoding; ``decode`` never returns more than ``room + 1`` bytes
    (brotli: ``room`` plus one internal block), so the caller can tell "over the cap" without inflating more."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        self._first = True
        self._zlib: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        elif encoding == "br":
            self._zlib = None
            self._brotli = brotli.Decompressor()
        else:
            raise ValueError(encoding)

    def decode(self, data: bytes, room: int) -> bytes:
        try:
            if self._zlib is None:
                out = bytearray(self._brotli.process(data, output_buffer_limit=room + 1))
                while len(out) <= room and not self._brotli.is_finished():
                    more = self._brotli.process(b"", output_buffer_limit=room + 1 - len(out))
                    if not more:
                        break
                    out += more
                return bytes(out)
            try:
                out = self._zlib.decompress(data, room + 1)
            except zlib.error:
                if not (self._first and self.encoding == "deflate"):
                    raise
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate without the zlib header
                out = self._zlib.decompress(data, room + 1)
            self._first = False
            return out  # shorter than room + 1 means all input was consumed
        except (zlib.error, brotli.error) as exc:
            raise BodyDecodeError(f"cannot decode {self.encoding} body: {exc}") from exc

    def flush(self) -> bytes:
        return self._zlib.flush() if self._zlib is not None else b""

    def finished(self) -> bool:
        """Whether the compressed stream reached its end marker (false for a body cut short in transit)."""
        return self._zlib.eof if self._zlib is not None else self._brotli.is_finished()


def decoders_for(content_encoding: str) -> list[Decoder]:
    """Decoders to apply, in order, for a Content-Encoding header; unknown codings leave the body as is."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings or any(c not in ("gzip", "x-gzip", "deflate", "br") for c in codings):
        return []
    return [Decoder(c) for c in reversed(codings)]
