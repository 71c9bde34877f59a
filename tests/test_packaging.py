"""What the package reads at run time ships in its wheel: every data file under graphmem/ is named by
pyproject's package-data (a model or schema missing from it works in a checkout and fails installed)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_data_file_of_the_package_is_in_its_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["graphmem"]
    package = ROOT / "graphmem"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    data = {
        Path(folder) / name
        for folder, dirs, files in os.walk(package, followlinks=True)
        if "__pycache__" not in folder
        for name in files
        if not name.endswith((".py", ".pyc"))
    }
    assert {p for p in data if p.suffix in {".json", ".sql", ".cypher"}}  # the walk found the data files
    assert sorted(map(str, data - shipped)) == []
