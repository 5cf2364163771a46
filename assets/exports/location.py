"""Where exports are written: one folder per province under a root."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Exports:
    root: Path

    def folder_for(self, province_code: str) -> Path:
        folder = self.root / province_code
        folder.mkdir(parents=True, exist_ok=True)
        return folder
