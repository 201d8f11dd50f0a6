"""The wheel's explicit package list must name every subpackage, and ship the bundled data."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "remixmusic").rglob("__init__.py")
    }
    listed = set(config["packages"])
    assert on_disk <= listed
    for package, folder in config["package-dir"].items():
        assert package in listed and (ROOT / folder).is_dir()
