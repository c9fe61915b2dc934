"""A bad BOTIFY_* variable: every command says which in one line and exits 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from botify.cli import main

COMMANDS = [
    ["serve", "--port", "5999"],
    ["deploy", "contextual", "lists.jsonl"],
    ["activate", "AB"],
    ["report", "--logs", "logs"],
    ["train", "contextual", "--logs", "logs", "--out", "lists.jsonl"],
    ["experiment", "run", "spec.toml"],
]
BAD = [
    ({"BOTIFY_EXPERIMENTS": "{not json"}, "BOTIFY_EXPERIMENTS"),
    ({"BOTIFY_EXPERIMENTS": '{"X": {"T1": "random"}}'}, "BOTIFY_EXPERIMENTS"),
    ({"BOTIFY_EXPERIMENT": "NOPE"}, "BOTIFY_EXPERIMENT="),
    ({"BOTIFY_SEED": "abc"}, "BOTIFY_SEED"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(("env", "variable"), BAD, ids=lambda v: str(v)[:24])
def test_a_bad_variable_is_one_line_and_exit_2(command, env, variable, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"botify {command[0]}: ")
    assert variable in err


def test_no_traceback_from_the_console_command(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "botify", "serve"],
        env={"BOTIFY_SEED": "abc", "PATH": ""},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == "botify serve: BOTIFY_SEED must be an integer, got 'abc'\n"
