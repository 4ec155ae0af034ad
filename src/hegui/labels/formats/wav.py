"""WAV: a RIFF sub-chunk with id ``AIGC`` holding the JSON (TC260-PG-202510A)."""

from __future__ import annotations

from collections.abc import Iterable

from hegui.labels.formats import Handler, riff

FORM = b"WAVE"


def read(data: bytes) -> list[str]:
    return [
        p.rstrip(b"\0").decode("utf-8", "replace") for cid, p in riff.chunks(data, FORM) if cid == b"AIGC"
    ]


def write(data: bytes, value: str) -> bytes:
    items = [(cid, p) for cid, p in riff.chunks(data, FORM) if cid != b"AIGC"]
    return riff.build(FORM, [*items, (b"AIGC", value.encode("utf-8"))])


def content(data: bytes) -> Iterable[bytes]:
    for cid, p in riff.chunks(data, FORM):
        if cid not in (b"AIGC", b"C2PA"):  # C2PA: the manifest store, embedded after the label
            yield cid + p


HANDLER = Handler(
    "wav", ("wav", "wave"), lambda d, e: d[:4] == b"RIFF" and d[8:12] == FORM, read, write, content, "audio"
)
