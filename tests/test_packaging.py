"""Every package folder of the source tree is installed (setup.cfg lists packages by name)."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_setup_cfg():
    if not (ROOT / "setup.cfg").is_file():
        pytest.skip(f"{ROOT / 'setup.cfg'} is not beside the tests")
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    mapped = {line.split("=")[1].strip(): line.split("=")[0].strip()
              for line in cfg["options"]["package_dir"].strip().splitlines()}
    found = set()
    for top in ("vae_core", "grammarvae", *mapped):
        for init in (ROOT / top).rglob("__init__.py"):
            folder = init.parent.relative_to(ROOT).as_posix()
            first, _, rest = folder.partition("/")
            name = ".".join(filter(None, [mapped.get(first, first), rest.replace("/", ".")]))
            found.add(name)
    assert found - listed == set(), f"package folders not in setup.cfg: {sorted(found - listed)}"
