"""Names as offices and residents may type them, and the checks that exports keep them
harmless: script for the HTML maps, OWASP's CSV-injection starts for the workbooks.
Written here, independent of the synthetic generator."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from assets.exports.safe import looks_like_formula

SCRIPT = (
    "<img src=x onerror=window.__pwned=1>",
    "</script><script>window.__pwned=1</script>",
    '"><svg onload=window.__pwned=1>',
)
FORMULAS = ('=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1")
HOSTILE = (*SCRIPT, *FORMULAS)


def workbook_cells(path: Path) -> list:
    return [cell for sheet in load_workbook(path) for row in sheet.iter_rows() for cell in row]


def assert_text_not_formulas(path: Path, planted: list[str] | tuple[str, ...]) -> None:
    """No formula cell; every planted text shown as it is (a CR comes back as LF when
    openpyxl writes without lxml: XML normalises raw line ends; with lxml, installed for
    python-docx, it writes ``&#13;`` and the CR stays); each formula-like text kept text
    on editing (quotePrefix)."""
    cells = workbook_cells(path)
    assert not [(c.coordinate, c.value) for c in cells if c.data_type == "f"]
    shown = {c.value for c in cells if c.data_type == "s"}
    missing = {t for t in planted if t not in shown and t.replace("\r", "\n") not in shown}
    assert not missing, missing
    risky = [c for c in cells if looks_like_formula(c.value)]
    assert risky and all(c.quotePrefix for c in risky)
