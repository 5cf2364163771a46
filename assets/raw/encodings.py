"""Text encodings of provincial files: detect, decode, and end as Unicode NFC.

Commune offices still keep spreadsheets typed in the pre-Unicode Vietnamese encodings:
TCVN3 (ABC; the ".Vn" fonts) and VNI (the "VNI-" fonts), besides Windows-1258 and the
Unicode forms. A file's bytes are decoded under each candidate and the candidate whose
text looks most like Vietnamese wins: its header must match the data dictionary and its
letters must be Vietnamese letters rather than the stray Latin-1 glyphs a wrong guess
leaves behind.

A landing file of millions of records is never held whole (``choose_encoding``,
``nfc_pieces``): the candidates are scored on the file's opening text, which is all the
score reads, and the file is then decoded and normalised a chunk at a time.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

# TCVN 5712:1993 (VN1), whose upper half TCVN3/ABC shares: byte 0x80 + i -> character i.
# Bytes 0xB0-0xB4 are combining tone marks, which NFC composes with the letter before.
_TCVN3_UPPER = (
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"
    "\xa0ĂÂÊÔƠƯĐăâêôơưđẰ\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽéẹềểễếệìỉỄẾỒĩíịò"
    "ỔỏõóọồổỗốộờởỡớợùỖủũúụừửữứựỳỷỹýỵỐ"
)
assert len(_TCVN3_UPPER) == 128
_TCVN3_DECODE = {0x80 + i: c for i, c in enumerate(_TCVN3_UPPER)}

# VNI Windows: a base letter followed by a modifier byte, read through the cp1252 glyph
# the byte shows in the VNI font. Each glyph is either a whole letter or a mark.
_VNI_GLYPHS = {
    # Letters of their own.
    "ñ": "đ", "Ñ": "Đ", "ô": "ơ", "Ô": "Ơ", "ö": "ư", "Ö": "Ư",
    "í": "í", "Í": "Í", "ì": "ì", "Ì": "Ì", "æ": "ỉ", "Æ": "Ỉ",
    "ó": "ĩ", "Ó": "Ĩ", "ò": "ị", "Ò": "Ị", "î": "ỵ", "Î": "Ỵ",
    # Tone marks.
    "ù": "\u0301", "Ù": "\u0301", "ø": "\u0300", "Ø": "\u0300", "û": "\u0309", "Û": "\u0309",
    "õ": "\u0303", "Õ": "\u0303", "ï": "\u0323", "Ï": "\u0323",
    # Circumflex, alone or with a tone.
    "â": "\u0302", "Â": "\u0302", "á": "\u0302\u0301", "Á": "\u0302\u0301",
    "à": "\u0302\u0300", "À": "\u0302\u0300", "å": "\u0302\u0309", "Å": "\u0302\u0309",
    "ã": "\u0302\u0303", "Ã": "\u0302\u0303", "ä": "\u0302\u0323", "Ä": "\u0302\u0323",
    # Breve, alone or with a tone.
    "ê": "\u0306", "Ê": "\u0306", "é": "\u0306\u0301", "É": "\u0306\u0301",
    "è": "\u0306\u0300", "È": "\u0306\u0300", "ú": "\u0306\u0309", "Ú": "\u0306\u0309",
    "ü": "\u0306\u0303", "Ü": "\u0306\u0303", "ë": "\u0306\u0323", "Ë": "\u0306\u0323",
}  # fmt: skip
_VNI_TRANSLATION = str.maketrans(_VNI_GLYPHS)

_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_WORD = re.compile(r"[^\W\d_]+")

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "windows-1258", "tcvn3", "vni")
SAMPLE_CHARS = 200_000  # characters of a candidate's text its letters are scored on
CHUNK_BYTES = 1 << 22  # bytes of a file decoded at a time
OPENING_CHUNK_BYTES = 1 << 16  # bytes decoded at a time while a candidate is scored


class EncodingError(ValueError):
    """No candidate encoding gives readable text."""


# The glyph a legacy font shows for each byte: cp1252, Latin-1 where cp1252 has none.
_CP1252 = [
    bytes([b]).decode("cp1252") if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else chr(b)
    for b in range(256)
]
_CP1252_TABLE = {b: c for b, c in enumerate(_CP1252)}


def _tcvn3_text(data: bytes, final: bool = False) -> str:
    """TCVN3 bytes as text, not yet NFC (one byte, one character: any cut is safe)."""
    return data.decode("latin-1").translate(_TCVN3_DECODE)


def _vni_text(data: bytes, final: bool = False) -> str:
    """VNI bytes as text, not yet NFC (each byte's glyph mapped alone: any cut is safe)."""
    return data.decode("latin-1").translate(_CP1252_TABLE).translate(_VNI_TRANSLATION)


def decode_tcvn3(data: bytes) -> str:
    return unicodedata.normalize("NFC", _tcvn3_text(data))


def decode_vni(data: bytes) -> str:
    return unicodedata.normalize("NFC", _vni_text(data))


def encode_tcvn3(text: str) -> bytes:
    """Unicode to TCVN3 bytes (for tests and the synthetic generator's legacy files).

    Capitals with tones that TCVN3 has no code for were typed in the ".VnH" capital
    fonts with the lower-case code, so they come back lower case, as in real files.
    """
    table = {c: bytes([b]) for b, c in _TCVN3_DECODE.items() if unicodedata.combining(c) == 0}
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        if ord(char) < 0x80:
            out += char.encode("ascii")
        elif char in table:
            out += table[char]
        elif char.lower() in table:
            out += table[char.lower()]
        else:
            raise UnicodeEncodeError("tcvn3", text, 0, 1, f"no TCVN3 byte for {char!r}")
    return bytes(out)


def _vni_forms() -> dict[str, str]:
    """Every Vietnamese letter that VNI spells, mapped to its glyph string."""
    forms: dict[str, str] = {}
    letters = {g: v for g, v in _VNI_GLYPHS.items() if not unicodedata.combining(v[0])}
    marks = {g: v for g, v in _VNI_GLYPHS.items() if unicodedata.combining(v[0])}
    for glyph, letter in letters.items():
        forms.setdefault(letter, glyph)
    bases = {c: c for c in "aeiouyAEIOUY"} | {"ô": "ơ", "Ô": "Ơ", "ö": "ư", "Ö": "Ư"}
    for base_glyph, base in bases.items():
        for glyph, combining in marks.items():
            if glyph.islower() != base_glyph.islower():
                continue
            composed = unicodedata.normalize("NFC", base + combining)
            if len(composed) == 1:
                forms.setdefault(composed, base_glyph + glyph)
    return forms


def encode_vni(text: str) -> bytes:
    """Unicode to VNI bytes (for tests and the synthetic generator's legacy files)."""
    forms = _vni_forms()
    out = []
    for char in unicodedata.normalize("NFC", text):
        if ord(char) < 0x80:
            out.append(char)
        elif char in forms:
            out.append(forms[char])
        else:
            raise UnicodeEncodeError("vni", text, 0, 1, f"no VNI form for {char!r}")
    return "".join(out).encode("cp1252")


def encode_windows_1258(text: str) -> bytes:
    """Unicode to Windows-1258, which keeps â/ă/ê/ô/ơ/ư/đ whole but writes tones as marks."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        decomposed = unicodedata.normalize("NFD", char)
        tones = "".join(c for c in decomposed if c in _TONE_MARKS)
        rest = "".join(c for c in decomposed if c not in _TONE_MARKS)
        out.append(unicodedata.normalize("NFC", rest) + tones)
    return "".join(out).encode("cp1258")


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str
    score: float


# Vietnamese syllable structure (tones stripped): onset, vowel nucleus, coda.
_ONSETS = "ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|b|c|d|đ|g|h|k|l|m|n|p|r|s|t|v|x"
_NUCLEI = (
    "uyê|uya|uyu|iêu|yêu|oai|oay|oao|oeo|uây|uôi|ươi|ươu|"
    "ai|ao|au|ay|âu|ây|eo|êu|ia|iê|iu|oa|oă|oe|oi|oo|ôi|ơi|ua|uâ|uê|ui|uô|uơ|uy|ưa|ưi|ươ|ưu|yê|"
    "a|ă|â|e|ê|i|o|ô|ơ|u|ư|y"
)
_SYLLABLE = re.compile(rf"^(?:{_ONSETS})?(?:{_NUCLEI})(?:ng|nh|ch|c|m|n|p|t)?$")


def _is_syllable(word: str) -> bool:
    if not (word.islower() or word.isupper() or word.istitle()):
        return False  # "HaÌ": a mark glyph of the wrong case, typical of a wrong guess
    decomposed = unicodedata.normalize("NFD", word.lower())
    if sum(c in _TONE_MARKS for c in decomposed) > 1:
        return False
    bare = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
    return bool(_SYLLABLE.match(bare))


def vietnamese_score(text: str) -> float:
    """From -1 to 1: how many words with non-ASCII letters are valid Vietnamese syllables.

    A wrong guess among the legacy encodings still yields Vietnamese letters, but in
    impossible places ("Nguyêịn", "Haè"); spelling, not the alphabet, tells them apart.
    """
    words = {w for w in _WORD.findall(text) if not w.isascii()}
    if not words:
        return 0.0
    valid = sum(_is_syllable(w) for w in words)
    return (2 * valid - len(words)) / len(words)


def _candidates(data: bytes) -> list[tuple[str, str]]:
    if data.startswith(codecs.BOM_UTF8):
        return [("utf-8-sig", data.decode("utf-8-sig"))]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return [("utf-16", data.decode("utf-16"))]
    try:
        return [("utf-8", data.decode("utf-8"))]
    except UnicodeDecodeError:
        pass
    out = [("tcvn3", decode_tcvn3(data)), ("vni", decode_vni(data))]
    with contextlib.suppress(UnicodeDecodeError):
        out.append(("windows-1258", data.decode("cp1258")))
    return out


def _score(text: str, header_score: Callable[[str], float] | None) -> float:
    """A candidate's NFC text scored on its first ``SAMPLE_CHARS`` characters and, when
    ``header_score`` is given, its first line (twice, to outweigh the letters)."""
    score = vietnamese_score(text[:SAMPLE_CHARS])
    if header_score is not None:
        end = text.find("\n")
        score += 2 * header_score(text if end < 0 else text[:end])
    return score


def detect_and_decode(data: bytes, *, header_score=None) -> DecodedText:
    """Decode ``data`` under the encoding that yields the most Vietnamese-looking text.

    ``header_score`` (optional) scores the first line, e.g. by how many headers the
    data dictionary recognises; it outweighs the letter statistics.
    """
    best: DecodedText | None = None
    for name, text in _candidates(data):
        text = unicodedata.normalize("NFC", text)
        score = _score(text, header_score)
        if best is None or score > best.score:
            best = DecodedText(text=text, encoding=name, score=score)
    if best is None:
        raise EncodingError("no encoding candidate")
    return best


def choose_encoding(handle: BinaryIO, *, header_score: Callable[[str], float] | None = None) -> str:
    """The encoding :func:`detect_and_decode` gives the whole file ``handle`` reads,
    found without holding the file: a BOM decides alone; else the candidates are those
    that decode every byte (UTF-8 alone when it does), checked a chunk at a time, and
    are scored on their opening text (:func:`_opening_text`), all the score reads.

    So a UTF-8 file with a bad byte far into it is read under the best legacy
    candidate, as when it was decoded whole, and the choice is final before any record
    is read (a file without a BOM is read once more for it). With a BOM there is no
    other candidate: a bad byte is refused where the decoding meets it (``nfc_pieces``).
    """
    handle.seek(0)
    start = handle.read(len(codecs.BOM_UTF8))
    if start.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes_whole(handle, "utf-8"):
        return "utf-8"
    names = ["tcvn3", "vni"]
    if _decodes_whole(handle, "cp1258"):
        names.append("windows-1258")
    scores = {name: _score(_opening_text(handle, name), header_score) for name in names}
    return max(names, key=scores.__getitem__)  # the first of equals, as detect_and_decode


def _decodes_whole(handle: BinaryIO, codec: str) -> bool:
    """Whether every byte of the file decodes under ``codec``, checked a chunk at a
    time up to the first that does not (the text is not kept)."""
    handle.seek(0)
    decode = codecs.getincrementaldecoder(codec)("strict").decode
    try:
        while chunk := handle.read(CHUNK_BYTES):
            decode(chunk)
        decode(b"", True)
    except UnicodeDecodeError:
        return False
    return True


def _opening_text(handle: BinaryIO, encoding: str) -> str:
    """The file's NFC text under ``encoding`` up to a line feed after the first
    ``SAMPLE_CHARS`` characters (the whole file when shorter): the text decoded whole
    starts with it, and its score reads no further."""
    pieces, size = [], 0
    for piece in nfc_pieces(handle, encoding, OPENING_CHUNK_BYTES):
        pieces.append(piece)
        size += len(piece)
        if size >= SAMPLE_CHARS:  # a piece before the last ends in a line feed
            break
    return "".join(pieces)


def _decoder(encoding: str) -> Callable[[bytes, bool], str]:
    """An incremental decoder for ``encoding`` (one of ``ENCODINGS``): text of each
    chunk, not yet NFC; the bytes of a character a chunk's end cuts are kept for the next."""
    if encoding == "tcvn3":
        return _tcvn3_text
    if encoding == "vni":
        return _vni_text
    codec = "cp1258" if encoding == "windows-1258" else encoding
    return codecs.getincrementaldecoder(codec)("strict").decode


def nfc_pieces(handle: BinaryIO, encoding: str, chunk_bytes: int | None = None) -> Iterator[str]:
    """The text of the file ``handle`` reads, from its start, decoded under
    ``encoding`` ``chunk_bytes`` (``CHUNK_BYTES``) at a time and NFC, in pieces that
    end just after a line feed (the last aside): no character composes across a line
    feed, so the pieces joined are the whole text normalised.

    A byte the encoding cannot decode raises EncodingError naming its offset and line.
    """
    decode = _decoder(encoding)
    handle.seek(0)
    pending: list[str] = []  # decoded since the last line feed
    offset = lines = 0  # bytes read; line feeds in the pieces given
    while True:
        chunk = handle.read(chunk_bytes or CHUNK_BYTES)
        try:
            text = decode(chunk, not chunk)
        except UnicodeDecodeError as exc:
            raise EncodingError(_bad_byte(exc, encoding, offset + len(chunk), lines)) from exc
        offset += len(chunk)
        if not chunk:
            rest = "".join([*pending, text])
            if rest:
                yield unicodedata.normalize("NFC", rest)
            return
        cut = text.rfind("\n") + 1
        if not cut:
            pending.append(text)
            continue
        piece = unicodedata.normalize("NFC", "".join([*pending, text[:cut]]))
        pending = [text[cut:]]
        lines += piece.count("\n")
        yield piece


def _bad_byte(exc: UnicodeDecodeError, encoding: str, end: int, lines: int) -> str:
    """Where the byte a decoder refused lies: its error's bytes end at offset ``end``
    of the file, after ``lines`` line feeds decoded before them."""
    offset = end - len(exc.object) + exc.start
    before = exc.object[: exc.start]
    line = lines + 1 + codecs.decode(before, exc.encoding, "replace").count("\n")
    return (
        f"byte 0x{exc.object[exc.start]:02x} at byte offset {offset:,} (line {line:,}) "
        f"is not {encoding} text ({exc.reason})"
    )
