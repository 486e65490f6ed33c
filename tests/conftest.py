"""Shared fixtures: the grammar, and the data in ../shared/data (tests skip without it)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of test output
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("GRAMMARVAE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def shared_file(rel: str) -> Path:
    """Path of a file under ../shared/data, or skip the test with the reason."""
    path = SHARED / rel
    if not path.is_file():
        pytest.skip(f"needs {path} (the shared data folder beside the project root); not present")
    return path


@pytest.fixture(scope="session")
def grammar():
    from grammarvae import Grammar

    return Grammar.load("zinc")
