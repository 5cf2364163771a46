"""The data files the pipeline ships with: rules profiles, deadlines, the đề án's Word
template and the Dagster instance settings.

They are package data, read through ``importlib.resources`` rather than a path built
from a module's location, so an installed wheel finds them as a checkout does. A
province never edits them in place: it passes its own file (``--rules-override``,
``--template``), which is merged over or used instead of the shipped one.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_path(name: str) -> Path:
    """The shipped file ``name`` as a filesystem path.

    Readers need a real path (python-docx, shutil, error messages naming the file);
    a wheel installs unzipped, so the resource is one. A zipped install is refused
    loudly rather than read half-way.
    """
    resource = files(__name__) / name
    if not isinstance(resource, Path):
        raise RuntimeError(f"hamlets_config is not installed as files: cannot open {name}")
    if not resource.is_file():
        raise FileNotFoundError(f"hamlets_config/{name} is not shipped with this install")
    return resource
