"""Notebook parameters as planners type them (tables as they read them:
``assets.exports.notebook_tables``).

papermill parses ``-p commune 04002`` as the number 4002 and ``-p province 04`` as 4:
codes are text whose leading zeros matter, so a code parameter is coerced back to its
fixed width and validated here, with a message saying what was expected.
"""

from __future__ import annotations

CODE_WIDTHS = {"province": 2, "commune": 5, "hamlet": 8}


def code_parameter(name: str, value: object, *, optional: bool = False) -> str | None:
    """``value`` as the code ``name`` names ("province": 2 digits, "commune": 5…), from
    text or the number papermill made of it; None stays None when ``optional``."""
    width = CODE_WIDTHS[name]
    if value is None or value == "":
        if optional:
            return None
        raise ValueError(f"parameter {name}: a {width}-digit code is required")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(
            f"parameter {name}: expected a {width}-digit code such as "
            f"{'0' * (width - 1)}4, got {value!r}"
        )
    text = str(value).strip()
    if not text.isdigit() or len(text) > width:
        raise ValueError(f"parameter {name}: expected a {width}-digit code, got {value!r}")
    return text.zfill(width)
