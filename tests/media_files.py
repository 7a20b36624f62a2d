"""Tiny media files of known facts, written byte by byte (no ffmpeg): MP3 frames, MP4 atoms.

Pictures come from Pillow itself (``picture``)."""

from __future__ import annotations

import struct
from pathlib import Path

from PIL import Image

#: MPEG-1 Layer III, no CRC; 128 kbit/s, 44.1 kHz, no padding; mono.
_MP3_HEADER = bytes([0xFF, 0xFB, 0x90, 0xC0])
MP3_FRAME_BYTES = 144 * 128_000 // 44_100  # 417
MP3_FRAME_SECONDS = 1152 / 44_100


def mp3(path: Path, seconds: float) -> Path:
    """An MP3 of about ``seconds`` (whole frames of silence-shaped zeros)."""
    frames = round(seconds / MP3_FRAME_SECONDS)
    frame = _MP3_HEADER + bytes(MP3_FRAME_BYTES - len(_MP3_HEADER))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(frame * frames)
    return path


def _atom(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def m4a(path: Path, seconds: float, timescale: int = 44_100) -> Path:
    """An MP4 audio file whose sound track lasts ``seconds`` (``mdhd``), no samples."""
    duration = round(seconds * timescale)
    ftyp = _atom(b"ftyp", b"M4A " + struct.pack(">I", 0) + b"M4A mp42isom")
    mvhd = _atom(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, timescale, duration) + bytes(80),
    )
    mdhd = _atom(b"mdhd", struct.pack(">B3xIIIIHH", 0, 0, 0, timescale, duration, 0x55C4, 0))
    hdlr = _atom(b"hdlr", struct.pack(">B3xI", 0, 0) + b"soun" + bytes(12) + b"SoundHandler\0")
    trak = _atom(b"trak", _atom(b"mdia", mdhd + hdlr))
    moov = _atom(b"moov", mvhd + trak)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ftyp + moov)
    return path


def picture(path: Path, width: int, height: int, fmt: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (200, 30, 60)).save(path, fmt)
    return path
