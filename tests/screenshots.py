"""The README's screenshots, taken by the tests that drive the real thing (the map editor
in Chromium, the đề án through LibreOffice): each is checked to be a real picture, and
kept only when ``HAMLETS_SCREENSHOTS`` names a folder (``make screenshots`` sets
``docs``). Otherwise nothing is written outside the test's tmp_path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from matplotlib.image import imread

SHOTS = "HAMLETS_SCREENSHOTS"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_real_picture(
    path: Path, min_size: tuple[int, int] = (300, 300), min_colours: int = 20
) -> tuple[int, int]:
    """``path`` is a PNG at least ``min_size`` (width, height) pixels, neither blank nor
    one colour: many colours, and no single colour covering nearly all of it. Returns
    its size."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    pixels = imread(path)
    height, width = pixels.shape[:2]
    assert width >= min_size[0] and height >= min_size[1], (
        f"{path.name} is {width}×{height} px, smaller than {min_size[0]}×{min_size[1]}"
    )
    rgb = np.round(np.asarray(pixels)[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    colours, counts = np.unique(rgb, axis=0, return_counts=True)
    assert len(colours) >= min_colours, f"{path.name} has only {len(colours)} colours"
    commonest = counts.max() / counts.sum()
    assert commonest < 0.99, f"{path.name} is {commonest:.1%} one colour: blank"
    return width, height


def keep_screenshot(path: Path, name: str, **checks: object) -> Path | None:
    """Check the screenshot at ``path`` (``assert_real_picture``) and copy it, as
    ``name``, to the folder ``HAMLETS_SCREENSHOTS`` names; None when it names none."""
    assert_real_picture(path, **checks)
    folder = os.environ.get(SHOTS)
    if not folder:
        return None
    target = Path(folder) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return target
