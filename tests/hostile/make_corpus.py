"""Generate the hostile-image corpus: every file is synthetic or a benign corpus photo cut up.

``python -m tests.hostile.make_corpus DIR`` writes the files; tests call ``images()`` and
generate them in memory at test time, so no binary is committed. Each case names the outcomes
it may have: ``ok`` (decoded) or the ``MediaError`` subclass the decoder must raise. No case
may crash the process, take more than a few seconds, or allocate its claimed pixel count.
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "photos"
# Small files found by fuzzing (tests/fuzz), kept as regression cases.
FOUND = Path(__file__).with_name("cases")
OK, TOO_LARGE, UNSUPPORTED, UNDECODABLE = ("ok", "MediaTooLarge", "UnsupportedMedia",
                                           "UndecodableMedia")
Case = tuple[str, bytes, tuple[str, ...]]


def _save(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kwargs)
    return out.getvalue()


def _photo() -> Image.Image:
    return Image.open(sorted(CORPUS.glob("*.jpg"))[0]).convert("RGB").resize((320, 240))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height; the zlib stream inflates to a few GB of 0s."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    row = b"\0" * (1 + (width + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(min(height, 2000))) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def jpeg_with_size(width: int, height: int) -> bytes:
    data = bytearray(_save(Image.new("RGB", (8, 8)), "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_with_screen(width: int, height: int) -> bytes:
    data = bytearray(_save(Image.new("P", (4, 4)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    data[data.find(b",") + 5:data.find(b",") + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def animated_gif(frames: int) -> bytes:
    imgs = [Image.new("P", (8, 8), i % 256) for i in range(frames)]
    return _save(imgs[0], "GIF", save_all=True, append_images=imgs[1:], duration=10, loop=0)


def with_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return _save(_photo(), "JPEG", exif=exif.tobytes())


def corrupt(data: bytes, every: int = 97) -> bytes:
    out = bytearray(data)
    for i in range(len(out) // 3, len(out) - 4, every):
        out[i] ^= 0x5A
    return bytes(out)


def images() -> Iterator[Case]:
    photo = _photo()
    jpeg, png = _save(photo, "JPEG", quality=80), _save(photo, "PNG")
    gif, webp = _save(photo.convert("P"), "GIF"), _save(photo, "WEBP")
    yield "zero-bytes", b"", (UNDECODABLE,)
    yield "one-byte", b"\xff", (UNSUPPORTED, UNDECODABLE)
    yield "png-bomb-50k", png_bomb(50_000, 50_000), (TOO_LARGE,)
    yield "png-bomb-just-over-cap", png_bomb(8000, 8000), (TOO_LARGE,)
    yield "jpeg-header-65500", jpeg_with_size(65_500, 65_500), (TOO_LARGE,)
    yield "gif-screen-65535", gif_with_screen(65_535, 65_535), (TOO_LARGE, UNDECODABLE)
    yield "animated-gif-3000-frames", animated_gif(3000), (OK,)
    for name, data in (("jpeg", jpeg), ("png", png), ("gif", gif), ("webp", webp)):
        yield f"{name}-ok", data, (OK,)
        yield f"{name}-truncated-third", data[:len(data) // 3], (UNDECODABLE,)
        yield f"{name}-header-only", data[:40], (UNDECODABLE, UNSUPPORTED)
        # Flipped bytes in entropy-coded data may still decode (JPEG is forgiving).
        yield f"{name}-corrupt", corrupt(data), (OK, UNDECODABLE)
    yield "polyglot-jpeg-html", jpeg + b"<html><script>alert(1)</script></html>", (OK,)
    yield "polyglot-gif-js", b"GIF89a/*" + gif[8:] + b"*/=1;alert(1)", (OK, UNDECODABLE)
    yield "polyglot-png-zip", png + b"PK\x03\x04" + b"\0" * 26 + b"PK\x05\x06" + b"\0" * 18, (OK,)
    yield "svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>', (UNSUPPORTED,)
    yield "svg-xxe", (b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                      b"<svg>&x;</svg>"), (UNSUPPORTED,)
    yield "html", b"<!doctype html><p>hi", (UNSUPPORTED,)
    yield "pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", (UNSUPPORTED,)
    yield "eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", (UNSUPPORTED,)
    yield "ico", _save(Image.new("RGB", (16, 16)), "ICO"), (UNSUPPORTED,)
    yield "tga", _save(Image.new("RGB", (16, 16)), "TGA"), (UNSUPPORTED,)
    yield "pcx", _save(Image.new("RGB", (16, 16)), "PCX"), (UNSUPPORTED,)
    for value in (0, 3, 6, 8, 9, 255, 65535):
        yield f"exif-orientation-{value}", with_orientation(value), (OK,)
    yield "png-16bit-grey", _save(Image.new("I;16", (64, 48), 40000), "PNG"), (OK,)
    yield "tiff-32bit-int", _save(Image.new("I", (64, 48), 70000), "TIFF"), (OK,)
    yield "tiff-float", _save(Image.new("F", (64, 48), 0.5), "TIFF"), (OK,)
    yield "jpeg-cmyk", _save(photo.convert("CMYK"), "JPEG"), (OK,)
    yield "png-palette-transparent", _save(photo.convert("P"), "PNG", transparency=0), (OK,)
    yield "png-la", _save(photo.convert("LA"), "PNG"), (OK,)
    yield "png-1bit", _save(photo.convert("1"), "PNG"), (OK,)
    for path in sorted(FOUND.glob("*")):
        yield f"found-{path.stem}", path.read_bytes(), (UNDECODABLE, UNSUPPORTED, TOO_LARGE)
    yield "bmp-1x60000", _save(Image.new("RGB", (1, 60_000)), "BMP"), (OK, UNDECODABLE)
    yield "png-60000x1", _save(Image.new("L", (60_000, 1)), "PNG"), (OK, UNDECODABLE)


def main(argv: list[str]) -> int:
    target = Path(argv[1] if len(argv) > 1 else "hostile-corpus")
    target.mkdir(parents=True, exist_ok=True)
    for name, data, expected in images():
        (target / f"{name}.bin").write_bytes(data)
        print(f"{name:32} {len(data):>9} bytes  expect {'/'.join(expected)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
