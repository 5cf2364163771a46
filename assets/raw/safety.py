"""Nothing outside the landing folder is opened.

A landing folder is written by offices and sometimes by scripts; an entry there may be
a symbolic link to ``/etc/shadow`` or to another province's folder, a FIFO that blocks
a reader for ever, or a zip archive that expands to terabytes or names ``../`` paths.
Each entry is checked before it is read, and files are opened without following links.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from assets.raw.headers import LandingFileError

MAX_ARCHIVE_MEMBERS = 1_000
MAX_ARCHIVE_BYTES = 2 << 30  # uncompressed: a province's boundaries are megabytes
MAX_ARCHIVE_RATIO = 500  # uncompressed / compressed: padded DBF text ~100x, bombs ~1000x


def checked_entry(path: Path, root: Path, *, directory: bool = False) -> Path:
    """``path`` when it is a regular file (or ``directory``) inside ``root``, reached
    without a symbolic link; otherwise LandingFileError naming it."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        raise LandingFileError(f"{path}: cannot be read: {exc.strerror}") from exc
    if stat.S_ISLNK(mode):
        raise LandingFileError(
            f"{path}: is a symbolic link; put the file itself in the landing folder"
        )
    kind_ok = stat.S_ISDIR(mode) if directory else stat.S_ISREG(mode)
    if not kind_ok:
        expected = "a folder" if directory else "a regular file"
        raise LandingFileError(f"{path}: is not {expected} (a device, FIFO or socket?)")
    if not path.resolve().is_relative_to(root.resolve()):
        raise LandingFileError(f"{path}: lies outside the landing folder {root}")
    return path


def open_landing_file(path: Path) -> int:
    """A read-only descriptor of a regular file, never through a link (the check above
    could race with a swap; this cannot)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise LandingFileError(f"{path}: cannot be opened safely: {exc.strerror}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise LandingFileError(f"{path}: is not a regular file")
    return fd


def open_landing_stream(path: Path) -> BinaryIO:
    """The file as a binary stream over :func:`open_landing_file`'s descriptor, to be
    read in chunks (a province's persons file is a gigabyte) and closed by the caller."""
    return os.fdopen(open_landing_file(path), "rb")


def read_landing_bytes(path: Path) -> bytes:
    """The whole file: for the small ones (workbooks); CSVs are read in chunks."""
    with open_landing_stream(path) as handle:
        return handle.read()


def checked_archive(path: Path) -> None:
    """Refuse a zip whose members escape (absolute, ``..``, links), are too many, or
    expand beyond the size or ratio a real Shapefile archive has."""
    with open_landing_stream(path) as handle:
        try:
            archive = zipfile.ZipFile(handle)
        except zipfile.BadZipFile as exc:
            raise LandingFileError(f"{path.name}: is not a readable zip archive: {exc}") from exc
        members = archive.infolist()
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise LandingFileError(
            f"{path.name}: the archive holds {len(members)} members (limit {MAX_ARCHIVE_MEMBERS})"
        )
    for member in members:
        name = PurePosixPath(member.filename.replace("\\", "/"))
        if name.is_absolute() or ".." in name.parts or ":" in member.filename:
            raise LandingFileError(
                f"{path.name}: member {member.filename!r} points outside the archive"
            )
        if stat.S_ISLNK(member.external_attr >> 16):
            raise LandingFileError(f"{path.name}: member {member.filename!r} is a symbolic link")
    expanded = sum(m.file_size for m in members)
    packed = max(sum(m.compress_size for m in members), 1)
    if expanded > MAX_ARCHIVE_BYTES or expanded / packed > MAX_ARCHIVE_RATIO:
        raise LandingFileError(
            f"{path.name}: the archive expands to {expanded:,} bytes from {packed:,} "
            f"(limits {MAX_ARCHIVE_BYTES:,} bytes, ratio {MAX_ARCHIVE_RATIO})"
        )
