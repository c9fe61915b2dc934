"""Hostile list files: whatever a file holds, ``deploy`` rejects it naming the line (never a
traceback), and the deployed version keeps serving."""

from __future__ import annotations

import json

import pytest

from botify.cli import main
from botify.data.catalog import build_catalog
from botify.data.lists import ListsError, load_lists
from botify.rollout.control import read_record
from botify.state.client import connect
from tests.helpers.worlds import tiny_tracks

CATALOG = build_catalog(tiny_tracks())
GOOD = b'{"track": 3, "recommendations": [4, 5]}\n'
# Bad second lines, and what the rejection says about them.
HOSTILE_LINES = {
    "invalid UTF-8": (b'{"track": 4, "recommendations": [5]}\xff\xfe\n', "not UTF-8"),
    "a lone surrogate byte sequence": (b'{"track": 4, "x": "\xed\xa0\x80"}\n', "not UTF-8"),
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deep"),
    "nested deep in a list": (
        b'{"track": 4, "recommendations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
        "nested too deep",
    ),
    "a 5,000-digit id": (
        b'{"track": 4, "recommendations": [' + b"9" * 5000 + b"]}\n",
        "not a JSON line",
    ),
    "NaN": (b'{"track": 4, "recommendations": [NaN]}\n', "list of track ids"),
    "a float id": (b'{"track": 4, "recommendations": [5.0]}\n', "list of track ids"),
    "a bool id": (b'{"track": 4, "recommendations": [true]}\n', "list of track ids"),
    "an id beyond int64": (
        b'{"track": 4, "recommendations": [' + str(2**64).encode() + b"]}\n",
        "unknown track ids",
    ),
    "a negative key": (b'{"track": -1, "recommendations": [5]}\n', "non-negative"),
    "NUL bytes": (b"\x00" * 1000 + b"\n", "not a JSON line"),
    "a string": (b'"track"\n', "expected an object"),
    "null": (b"null\n", "expected an object"),
    "a BOM mid-file": (b'\xef\xbb\xbf{"track": 4, "recommendations": [5]}\n', "not a JSON line"),
}


@pytest.mark.parametrize("line", [v[0] for v in HOSTILE_LINES.values()], ids=HOSTILE_LINES.keys())
def test_a_hostile_line_is_rejected_naming_it(tmp_path, line):
    words = {v[0]: v[1] for v in HOSTILE_LINES.values()}[line]
    path = tmp_path / "lists.jsonl"
    path.write_bytes(GOOD + line + GOOD.replace(b"3", b"7"))

    with pytest.raises(ListsError) as rejected:
        load_lists(path, CATALOG)

    assert f"{path}, line 2: " in str(rejected.value) and words in str(rejected.value)


@pytest.mark.parametrize("name", ["invalid UTF-8", "nested 100,000 deep"])
def test_deploy_says_rejected_and_the_line_and_keeps_the_version(
    name, tmp_path, config, redis_server, monkeypatch, capsys
):
    connect(redis_server.url, config).flushall()
    monkeypatch.setenv("BOTIFY_REDIS_URL", redis_server.url)
    monkeypatch.setenv("BOTIFY_DATA_DIR", str(config.data_dir))
    good = tmp_path / "good.jsonl"
    good.write_bytes(GOOD)
    assert main(["deploy", "contextual", str(good)]) == 0
    deployed = read_record(config.data_dir).head("contextual")
    capsys.readouterr()
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(GOOD + HOSTILE_LINES[name][0])

    assert main(["deploy", "contextual", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("botify deploy: rejected") and f"{bad}, line 2" in err
    assert read_record(config.data_dir).head("contextual") == deployed


def test_a_valid_file_with_unicode_elsewhere_still_loads(tmp_path):
    path = tmp_path / "lists.jsonl"
    line = {"track": 3, "recommendations": [4], "note": "é ✓"}
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n\n", encoding="utf-8")

    assert load_lists(path, CATALOG).get(3).tolist() == [4]
