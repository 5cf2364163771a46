"""A landing CSV is read a chunk of bytes and a block of lines at a time, never whole,
and reads as it reads whole: the encoding the whole file's detection chooses, letters
and quoted cells cut by a chunk's edge put back together, a bad byte past the opening
either a reason to take the next candidate (no BOM) or refused with its line and offset."""

from __future__ import annotations

import io
import random
import tracemalloc
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_encodings import ENCODERS, HEADER

import assets.raw.encodings as encodings
import assets.raw.records as records_module
from assets.raw.encodings import (
    EncodingError,
    choose_encoding,
    detect_and_decode,
    encode_tcvn3,
    encode_vni,
    encode_windows_1258,
    nfc_pieces,
)
from assets.raw.headers import LandingFileError
from assets.raw.landing import _header_share, read_landed_blocks
from assets.raw.records import TextRecords, count_lines, read_records, record_blocks
from assets.raw.safety import open_landing_stream

NAMES = ("Nguyễn Văn Ấn", "Triệu Thị Bích Ngọc", "Lường Văn Đức", "Hoàng Thị Hương")


def _line(i: int, name: str) -> str:
    return f"0040900{i:05d},{name},05/03/1990,Nam,H{i // 3},Con,Tày"


def _persons_text(rows: int, seed: int = 0, eol: str = "\r\n") -> str:
    """Persons lines, some with a quoted cell over two lines (Alt+Enter), a stray quote
    or the wrong width, so that blocks must start at clean lines."""
    rng = random.Random(seed)
    lines = [HEADER]
    for i in range(rows):
        name = rng.choice(NAMES)
        kind = rng.random()
        if kind < 0.1:
            name = f'"{name}\nxóm Nà Rẻo"'
        elif kind < 0.13:
            name = f'"{name}'
        elif kind < 0.15:
            name = f"{name},thừa"
        lines.append(_line(i, name))
    return eol.join(lines) + eol


def _records_whole(data: bytes) -> tuple[str, TextRecords]:
    """What the whole file gives, decoded and read at once (the definition)."""
    decoded = detect_and_decode(data, header_score=_header_share)
    return decoded.encoding, read_records(decoded.text)


def _records_streamed(data: bytes, lines: int) -> tuple[str, TextRecords]:
    handle = io.BytesIO(data)
    encoding = choose_encoding(handle, header_score=_header_share)
    blocks = list(record_blocks(nfc_pieces(handle, encoding), lines))
    assert len(blocks) > 1 or lines > 100
    values = pd.concat([b.values for b in blocks], ignore_index=True)
    joined = TextRecords(
        header=blocks[0].header,
        values=values,
        row_number=pd.concat([pd.Series(b.row_number) for b in blocks]).to_numpy(),
        problem=pd.concat([b.problem for b in blocks], ignore_index=True),
        text=pd.concat([b.text for b in blocks], ignore_index=True),
        data_lines=sum(b.data_lines for b in blocks),
        continuation_lines=sum(b.continuation_lines for b in blocks),
        delimiter=blocks[0].delimiter,
    )
    return encoding, joined


def _assert_same(streamed: tuple[str, TextRecords], whole: tuple[str, TextRecords]) -> None:
    (encoding, records), (whole_encoding, expected) = streamed, whole
    assert encoding == whole_encoding
    assert records.header == expected.header
    pd.testing.assert_frame_equal(records.values, expected.values)
    assert records.row_number.tolist() == expected.row_number.tolist()
    pd.testing.assert_series_equal(records.problem, expected.problem)
    pd.testing.assert_series_equal(records.text, expected.text)
    assert (records.data_lines, records.continuation_lines) == (
        expected.data_lines,
        expected.continuation_lines,
    )


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_chunks_and_blocks_read_as_the_whole_file(monkeypatch, encoding, chunk):
    """Every chunk edge falls somewhere: inside a UTF-8 or UTF-16 letter, between a
    letter and its tone mark (Windows-1258, VNI write tones as marks), inside a CRLF and
    inside a quoted cell over two lines."""
    monkeypatch.setattr(encodings, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(encodings, "OPENING_CHUNK_BYTES", chunk)
    data = ENCODERS[encoding](_persons_text(24, seed=chunk))
    _assert_same(_records_streamed(data, 3), _records_whole(data))


@pytest.mark.parametrize("letter", ["ễ", "e\u0302\u0303"])  # NFC, and NFD across the edge
def test_a_quoted_cell_over_lines_cut_inside_a_letter_reads_as_whole(monkeypatch, letter):
    text = _persons_text(30, seed=3, eol="\n").replace("Nguyễn", f"Nguy{letter}n")
    quoted = f'"Nguy{letter}n Văn Ấn\nxóm Nà Rẻo"'
    text += _line(99, quoted) + "\n" + _line(100, "Lò Văn Hai") + "\n"
    data = text.encode("utf-8")
    inside = data.rindex(letter.encode("utf-8")) + 1  # after the letter's first byte
    monkeypatch.setattr(encodings, "CHUNK_BYTES", inside)
    handle = io.BytesIO(data)
    pieces = list(nfc_pieces(handle, "utf-8"))
    assert len(pieces) > 1 and all(p.endswith("\n") for p in pieces)
    assert "".join(pieces) == unicodedata.normalize("NFC", text)
    _assert_same(_records_streamed(data, 2), _records_whole(data))
    assert "Nguyễn Văn Ấn\nxóm Nà Rẻo" in _records_streamed(data, 2)[1].values[1].tolist()


def _long(encoding: str, rows: int = 120, seed: int = 1) -> bytes:
    return ENCODERS[encoding](_persons_text(rows, seed=seed))


def _bad_byte_late(data: bytes, byte: bytes) -> bytes:
    at = len(data) * 3 // 4
    at = data.index(b"\n", at) + 1
    return data[:at] + byte + data[at:]


DECISIONS = {
    **{f"all {name}": (lambda name=name: _long(name)) for name in ENCODERS},
    "utf-8 with a bad byte far in": lambda: _bad_byte_late(_long("utf-8"), b"\xff"),
    "utf-8 then windows-1258": lambda: (
        _long("utf-8") + _long("windows-1258", 40, seed=2)[len(encode_windows_1258(HEADER)) :]
    ),
    "windows-1258 with a byte it lacks far in": lambda: _bad_byte_late(
        _long("windows-1258"), b"\x81"
    ),
    "tcvn3 then vni": lambda: _long("tcvn3") + _long("vni", 40)[len(encode_vni(HEADER)) :],
    "NFD utf-8": lambda: unicodedata.normalize("NFD", _persons_text(120)).encode("utf-8"),
    "lone CR, tcvn3": lambda: encode_tcvn3(_persons_text(120, eol="\r")),
    "a header longer than the sample": lambda: encode_vni(
        HEADER + ",Ghi chú" * 60 + "\n" + _persons_text(60).split("\n", 1)[1]
    ),
    "empty": lambda: b"",
}


@pytest.mark.parametrize("case", sorted(DECISIONS))
def test_the_encoding_chosen_from_the_opening_is_the_whole_file_choice(monkeypatch, case):
    """The score reads a sample and the header line; that sample (made small here, so
    the file runs far past it) is all the streamed choice decodes for each candidate,
    while UTF-8 and Windows-1258 must still decode every byte to be candidates."""
    monkeypatch.setattr(encodings, "SAMPLE_CHARS", 300)
    monkeypatch.setattr(encodings, "OPENING_CHUNK_BYTES", 64)
    monkeypatch.setattr(encodings, "CHUNK_BYTES", 256)
    data = DECISIONS[case]()
    assert len(data) > 6 * 300 or case == "empty"
    whole = detect_and_decode(data, header_score=_header_share).encoding
    assert choose_encoding(io.BytesIO(data), header_score=_header_share) == whole
    if case.endswith("far in"):
        assert whole not in ("utf-8", "windows-1258")  # the whole file's choice, kept
    if case.startswith("all"):
        assert whole == case.removeprefix("all ")
    if data:
        _assert_same(_records_streamed(data, 500), _records_whole(data))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_bad_byte_after_the_opening_is_refused_with_its_line_and_offset(
    tmp_path, monkeypatch, encoding
):
    """A file with a BOM has no other candidate: a byte it cannot decode far into the
    file is refused, naming the file, the line and the byte's offset."""
    monkeypatch.setattr(encodings, "CHUNK_BYTES", 1000)
    text = _persons_text(400, eol="\n")
    data = ENCODERS[encoding](text)
    line = 300  # the bad byte opens this line of the file (the header is line 1)
    at = len(ENCODERS[encoding]("\n".join(text.split("\n")[: line - 1]) + "\n"))
    bad = b"\xff" if encoding == "utf-8-sig" else b"\x00\xdc"  # a lone low surrogate
    (tmp_path / "persons.csv").write_bytes(data[:at] + bad + data[at:])
    with pytest.raises(LandingFileError) as error:
        list(read_landed_blocks(tmp_path / "persons.csv", lines=50))
    message = str(error.value)
    assert message.startswith("persons.csv: cannot be read:")
    assert f"byte offset {at:,} (line {line})" in message
    assert encoding in message


def test_the_decoder_names_the_byte_it_cannot_read():
    good = "Họ và tên\nLò Văn Hai\n".encode()
    handle = io.BytesIO(good + b"\xe1\x80")  # a letter cut short at the end
    with pytest.raises(EncodingError, match=rf"0xe1 at byte offset {len(good)} \(line 3\)"):
        list(nfc_pieces(handle, "utf-8", chunk_bytes=4))


def test_the_reader_never_holds_the_whole_file(tmp_path, monkeypatch):
    """Choosing the encoding, decoding and cutting blocks (what ``_read_csv`` does
    before each block is parsed) hold a small part of the file: before, its bytes, its
    text and the NFC copy were held whole. The blocks' parsing is left out (stubbed) to
    measure the rest alone; what it receives is a block, never the file."""
    monkeypatch.setattr(encodings, "CHUNK_BYTES", 1 << 16)
    received: list[str] = []

    def parsed(text: str) -> TextRecords:
        received.append(len(text))
        return TextRecords(
            [],
            pd.DataFrame(),
            np.zeros(0, "int64"),
            pd.Series(),
            pd.Series(),
            count_lines(text) - 1,
            0,
            ",",
        )

    monkeypatch.setattr(records_module, "read_records", parsed)
    path = tmp_path / "persons.csv"
    text = _persons_text(100_000, eol="\n")
    path.write_bytes(text.encode("utf-8-sig"))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with open_landing_stream(path) as handle:
            encoding = choose_encoding(handle, header_score=_header_share)
            lines = sum(b.data_lines for b in record_blocks(nfc_pieces(handle, encoding), 1_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (encoding, lines) == ("utf-8-sig", text.count("\n") - 1)
    assert len(received) >= 100 and max(received) < len(text) / 40
    assert peak < size / 4, f"peak {peak:,} bytes for a file of {size:,}"


def test_blocks_take_pieces_only_as_they_need_them():
    """The pieces are pulled lazily: the first block is read before the last piece."""
    pulled: list[int] = []

    def pieces():
        for i, piece in enumerate(_persons_text(100, eol="\n").splitlines(keepends=True)):
            pulled.append(i)
            yield piece

    first = next(record_blocks(pieces(), 10))
    assert len(first.values) >= 10 and max(pulled) < 30


def test_a_path_outside_the_landing_folder_is_not_read(tmp_path: Path):
    outside = tmp_path / "secret.csv"
    outside.write_text(HEADER + "\n", encoding="utf-8")
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "persons.csv").symlink_to(outside)
    with pytest.raises(LandingFileError, match="cannot be opened safely"):
        list(read_landed_blocks(tmp_path / "landing" / "persons.csv", lines=10))
