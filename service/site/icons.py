"""The site's icon: the brand mark (an "L" on the accent colour) as SVG for the pages'
``<link rel="icon">`` and as a 32x32 ``/favicon.ico`` (a PNG inside an ICO container)
for the agents that ask for that by default."""

from __future__ import annotations

import struct
import zlib

ICON_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}

FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="8" fill="#4f46e5"/>'
    '<path d="M11 8h4v13h7v4H11z" fill="#fff"/></svg>'
)

SIZE = 32
ACCENT = (0x4F, 0x46, 0xE5)


def _pixel(x: int, y: int) -> tuple[int, int, int, int]:
    radius = 8
    cx = min(max(x, radius), SIZE - 1 - radius)
    cy = min(max(y, radius), SIZE - 1 - radius)
    if (x - cx) ** 2 + (y - cy) ** 2 > radius**2:
        return (0, 0, 0, 0)  # outside the rounded corners
    in_stem = 11 <= x < 15 and 8 <= y < 25
    in_foot = 11 <= x < 22 and 21 <= y < 25
    return (255, 255, 255, 255) if in_stem or in_foot else (*ACCENT, 255)


def _png() -> bytes:
    rows = b"".join(
        b"\x00" + b"".join(bytes(_pixel(x, y)) for x in range(SIZE)) for y in range(SIZE)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _ico(png: bytes) -> bytes:
    directory = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", SIZE, SIZE, 0, 0, 1, 32, len(png), 6 + 16)
    return directory + entry + png


FAVICON_ICO = _ico(_png())
