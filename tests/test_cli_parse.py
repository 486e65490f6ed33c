"""`grammarvae parse` as a user runs it."""

import subprocess
import sys
import tempfile


def run(*args):
    # From a neutral folder, so the installed package is the one that runs.
    return subprocess.run([sys.executable, "-m", "grammarvae.cli.main", *args],
                          capture_output=True, text=True, cwd=tempfile.gettempdir())


def test_parse_prints_rules_and_round_trip():
    r = run("parse", "c1ccccc1O")
    assert r.returncode == 0, r.stderr
    assert "aromatic_organic -> 'c'" in r.stdout
    assert "round trip: c1ccccc1O (identical)" in r.stdout


def test_parse_error_is_one_line():
    r = run("parse", "C1CC")
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0
    assert "ring bond 1 is opened but never closed" in r.stderr and "Traceback" not in r.stderr


def test_bad_usage_exits_2():
    r = run("parse")
    assert r.returncode == 2
