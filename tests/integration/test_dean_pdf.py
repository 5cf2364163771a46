"""The đề án as a commune prints it: the Word document converted to PDF by LibreOffice
(Debian's ``libreoffice-writer-nogui``, which .ci/run installs), read back with
poppler's tools, its first page kept as the README's screenshot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from docx import Document
from screenshots import SHOTS, keep_screenshot
from test_dean import write_dean
from test_decisions import copy_of, merging_commune

from assets.exports.dean import DRAFT_MARK
from assets.warehouse import Warehouse

MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
PACKAGES = {"soffice": "libreoffice-writer-nogui", "pdfinfo": "poppler-utils"}


def tool(name: str) -> str:
    """The program ``name``; in CI (.ci/run installs it) its absence fails the test."""
    if found := shutil.which(name):
        return found
    package = PACKAGES.get(name, PACKAGES["pdfinfo"])
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not installed; .ci/run must install Debian's {package}")
    pytest.skip(f"{name} is absent: apt-get install {package} to print the đề án to PDF")


def to_pdf(docx: Path, out: Path) -> Path:
    """``docx`` converted by LibreOffice, headless, its profile under ``out``."""
    profile = (out / "lo-profile").as_uri()
    options = ["--headless", "--convert-to", "pdf", "--outdir", str(out)]
    subprocess.run(
        [tool("soffice"), f"-env:UserInstallation={profile}", *options, str(docx)],
        capture_output=True,
        check=True,
        timeout=300,
        env={**os.environ, "HOME": str(out)},
    )
    return out / f"{docx.stem}.pdf"


def test_a_screenshot_is_kept_only_when_asked_and_never_blank(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    shot, blank = tmp_path / "shot.png", tmp_path / "blank.png"
    plt.imsave(shot, np.random.default_rng(0).random((400, 500, 3)))
    plt.imsave(blank, np.ones((400, 500, 3)))
    monkeypatch.delenv(SHOTS, raising=False)
    assert keep_screenshot(shot, "kept.png") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.png", "shot.png"]
    with pytest.raises(AssertionError, match="colours"):
        keep_screenshot(blank, "kept.png")
    with pytest.raises(AssertionError, match="smaller"):
        keep_screenshot(shot, "kept.png", min_size=(600, 400))
    monkeypatch.setenv(SHOTS, str(tmp_path / "docs"))
    kept = keep_screenshot(shot, "kept.png")
    assert kept == tmp_path / "docs" / "kept.png" and kept.read_bytes() == shot.read_bytes()


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


@pytest.mark.integration
def test_the_dean_prints_to_pdf_with_its_title_mark_and_motto(published, tmp_path):
    settings = copy_of(published, tmp_path)
    province = published[1].province_code
    code = merging_commune(Warehouse(settings.warehouse_url))
    docx, _ = write_dean(settings, province, code, tmp_path / "de_an")
    paragraphs = [p.text for p in Document(str(docx)).paragraphs]
    start = paragraphs.index("ĐỀ ÁN")
    title = " ".join(paragraphs[start : start + 2])  # "ĐỀ ÁN Sắp xếp thôn, … xã X, tỉnh Y"
    assert "Sắp xếp thôn, tổ dân phố" in title

    pdf = to_pdf(docx, tmp_path / "pdf")
    info = subprocess.run(
        [tool("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))
    assert pages > 1
    # Administrative documents are printed on A4 (Nghị định 30/2020/NĐ-CP), not Letter.
    assert re.search(r"^Page size:.*\(A4\)", info, re.MULTILINE), info
    text = _plain(
        subprocess.run(
            [tool("pdftotext"), "-enc", "UTF-8", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert _plain(title) in text
    assert DRAFT_MARK in text  # no council approval: a draft
    assert MOTTO in text

    first_page = ["-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"]
    subprocess.run(
        [tool("pdftoppm"), *first_page, str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=120,
    )
    # A4 at 60 dpi is 496 × 702 pixels.
    keep_screenshot(tmp_path / "page.png", "de_an_page.png", min_size=(480, 680))
