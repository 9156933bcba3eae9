"""Floor-plan images (户型图) for the demo's flat types, drawn as PNG with the standard library.

Each plan is a schematic: the outer walls, rooms as rectangles tinted by kind (living room, bedrooms,
kitchen, bathroom) with door gaps, and a balcony on the south side. Drawn once per flat type at
demo build time (no binary file in the repository).
"""

from __future__ import annotations

import struct
import zlib

WIDTH, HEIGHT = 360, 250
WALL = (60, 64, 72)
TINT = {
    "living": (250, 240, 220),
    "bed": (226, 238, 250),
    "kitchen": (232, 246, 232),
    "bath": (236, 232, 248),
    "balcony": (246, 246, 240),
}
# Rooms as (kind, x0, y0, x1, y1) in a 12 x 8 grid of the plan; layouts by number of bedrooms.
LAYOUTS: dict[int, tuple[tuple[str, int, int, int, int], ...]] = {
    1: (
        ("bed", 0, 0, 5, 5),
        ("living", 5, 0, 12, 5),
        ("kitchen", 0, 5, 4, 8),
        ("bath", 4, 5, 6, 8),
        ("balcony", 6, 5, 12, 8),
    ),
    2: (
        ("bed", 0, 0, 4, 5),
        ("bed", 4, 0, 8, 5),
        ("living", 8, 0, 12, 8),
        ("kitchen", 0, 5, 3, 8),
        ("bath", 3, 5, 5, 8),
        ("balcony", 5, 5, 8, 8),
    ),
    3: (
        ("bed", 0, 0, 4, 4),
        ("bed", 4, 0, 8, 4),
        ("bed", 8, 0, 12, 4),
        ("kitchen", 0, 4, 3, 8),
        ("bath", 3, 4, 5, 8),
        ("living", 5, 4, 10, 8),
        ("balcony", 10, 4, 12, 8),
    ),
    4: (
        ("bed", 0, 0, 3, 4),
        ("bed", 3, 0, 6, 4),
        ("bed", 6, 0, 9, 4),
        ("bed", 9, 0, 12, 4),
        ("kitchen", 0, 4, 3, 8),
        ("bath", 3, 4, 5, 8),
        ("living", 5, 4, 10, 8),
        ("balcony", 10, 4, 12, 8),
    ),
}


def _png(pixels: bytearray, width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    stride = width * 3
    raw = b"".join(b"\x00" + bytes(pixels[y * stride : (y + 1) * stride]) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def floor_plan_png(bedrooms: int) -> bytes:
    """A schematic plan with ``bedrooms`` bedrooms (1 to 4) as a 360 x 250 PNG."""
    layout = LAYOUTS[max(1, min(4, bedrooms))]
    pixels = bytearray(b"\xff" * (WIDTH * HEIGHT * 3))
    margin, cell_w, cell_h = 20, (WIDTH - 40) // 12, (HEIGHT - 40) // 8

    def fill(x0: int, y0: int, x1: int, y1: int, colour: tuple[int, int, int]) -> None:
        for y in range(max(0, y0), min(HEIGHT, y1)):
            row = y * WIDTH * 3
            pixels[row + x0 * 3 : row + x1 * 3] = bytes(colour) * (x1 - x0)

    for kind, gx0, gy0, gx1, gy1 in layout:
        x0, y0 = margin + gx0 * cell_w, margin + gy0 * cell_h
        x1, y1 = margin + gx1 * cell_w, margin + gy1 * cell_h
        fill(x0, y0, x1, y1, TINT[kind])
        for ax0, ay0, ax1, ay1 in (
            (x0, y0, x1, y0 + 3),
            (x0, y1 - 3, x1, y1),
            (x0, y0, x0 + 3, y1),
            (x1 - 3, y0, x1, y1),
        ):
            fill(ax0, ay0, ax1, ay1, WALL)
        door = (x0 + x1) // 2
        fill(door - 9, y1 - 3, door + 9, y1, TINT[kind])  # a door gap in the wall towards the hall
    return _png(pixels, WIDTH, HEIGHT)
