"""Hostile experiment specs and ``--out`` paths: refused in one line with exit 2, nothing
deleted, nothing started. ``botify experiment run`` deletes only what it created."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from botify.cli import main
from botify.experiments.output import LOCK_FILE, MARKER_FILE, OutputDirectory, OutputError

SPEC = """
name = {name}
seed = 5

[world]
tracks = 200
users = 20
{world}

[[days]]
sessions = 5
arms = {{ C = "random", T1 = "sticky_artist" }}
{extra}
"""


def write_spec(directory: Path, name: str = '"small"', world: str = "", extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    spec = directory / "spec.toml"
    spec.write_text(SPEC.format(name=name, world=world, extra=extra), encoding="utf-8")
    return spec


def victim(directory: Path) -> Path:
    """A directory of someone's files that no run may touch."""
    (directory / "keep").mkdir(parents=True)
    (directory / "keep" / "precious.txt").write_text("mine")
    (directory / "notes.txt").write_text("mine too")
    return directory


def untouched(directory: Path) -> bool:
    return (directory / "keep" / "precious.txt").read_text() == "mine" and (
        directory / "notes.txt"
    ).read_text() == "mine too"


def refused(capsys, *args: str) -> str:
    """Run ``botify experiment run ARGS``; assert exit 2 with one line; return that line."""
    assert main(["experiment", "run", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    "name",
    [
        '"/abs/dir"',
        '".."',
        '"."',
        '"a/b"',
        '"../up"',
        '""',
        '"nul\\u0000byte"',
        '"naïve"',
        '".hidden"',
        '"' + "x" * 101 + '"',
        "7",
    ],
)
def test_a_name_that_is_not_a_plain_name_is_refused(tmp_path, capsys, monkeypatch, name):
    # The reproduction: with experiment-output/ present, name ".." cleared the working
    # directory, and an absolute name deleted that directory.
    work = victim(tmp_path / "work")
    (work / "experiment-output").mkdir()
    monkeypatch.chdir(work)
    spec = write_spec(
        tmp_path / "spec", name=name.replace("/abs/dir", str(victim(tmp_path / "abs")))
    )
    assert "name must be a plain name" in refused(capsys, str(spec))
    assert untouched(work) and untouched(tmp_path / "abs")


@pytest.mark.parametrize(
    ("world", "message"),
    [
        ('out = "/elsewhere"', "world.out: not a world parameter"),
        ('o = "/elsewhere"', "world.o: not a world parameter"),
        ("check = 1", "world.check: not a world parameter"),
        ("help = 1", "world.help: not a world parameter"),
        ('"--out" = 1', "world.--out: not a world parameter"),
        ('"tracks x" = 1', "not a world parameter"),
        ('budget = "--out"', "world.budget must be a number"),
        ('consume_bias = [0.1, "--out"]', "world.consume_bias must be a number"),
        ("budget = true", "world.budget must be a number"),
        ("budget = nan", "world.budget must be a number"),
        ("budget = inf", "world.budget must be a number"),
        ("seed = 18446744073709551615", "world.seed must be an integer between 0 and"),
        ("seed = 4294967296", "world.seed must be an integer between 0 and"),
        ("dim = 100000", "world: --dim: dim must be between 2 and 512"),
        ("budget = 1e300", "world: error: argument --budget: invalid int value"),
    ],
)
def test_world_keys_never_become_the_runners_own_flags(tmp_path, capsys, world, message):
    # The reproduction: `[world] out = PATH` reached `sim world` as a second --out and
    # overwrote another world's tracks.jsonl.
    elsewhere = victim(tmp_path / "elsewhere")
    spec = write_spec(tmp_path / "spec", world=world.replace("/elsewhere", str(elsewhere)))
    assert message in refused(capsys, str(spec), "--out", str(tmp_path / "out"))
    assert untouched(elsewhere) and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[service]\nworkers = 1000000", "service.workers must be an integer between 1 and 64"),
        ("[service]\nworkers = 0", "service.workers must be an integer between 1 and 64"),
        ("[robustness]\nworlds = 1000000", "robustness.worlds must be an integer between 0"),
        ("[service]\nthreads = 4", "service.threads: unknown key"),
        ("[report]\nday = 9223372036854775807", "report.day must be at most 1"),
    ],
)
def test_every_number_of_a_spec_is_bounded(tmp_path, capsys, extra, message):
    spec = write_spec(tmp_path / "spec", extra=extra)
    assert message in refused(capsys, str(spec), "--out", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_huge_sessions_and_seeds_are_refused(tmp_path, capsys):
    spec = write_spec(tmp_path / "spec")
    text = spec.read_text()
    spec.write_text(text.replace("sessions = 5", "sessions = 9223372036854775807"))
    assert "sessions must be an integer between 1 and 10,000,000" in refused(capsys, str(spec))
    spec.write_text(text.replace("seed = 5", "seed = 99999999999"))
    assert "seed must be an integer between 0 and 4,294,967,295" in refused(capsys, str(spec))
    spec.write_text(text.replace("seed = 5\n", "").replace("[world]", "[world]\nseed = -1"))
    assert "world.seed must be an integer between 0" in refused(capsys, str(spec))


@pytest.mark.parametrize(
    ("flag", "value"), [("--workers", "1000000"), ("--workers", "0"), ("--worlds", "1000")]
)
def test_command_line_numbers_are_bounded_like_the_spec(tmp_path, capsys, flag, value):
    spec = write_spec(tmp_path / "spec")
    assert f"{flag} must be an integer between" in refused(capsys, str(spec), flag, value)


def test_a_directory_that_is_not_the_runners_is_refused_untouched(tmp_path, capsys):
    spec = write_spec(tmp_path / "spec")
    mine = victim(tmp_path / "mine")
    assert "is not empty and was not made by" in refused(capsys, str(spec), "--out", str(mine))
    assert untouched(mine) and not (mine / MARKER_FILE).exists()

    link = tmp_path / "link"
    link.symlink_to(mine, target_is_directory=True)
    assert "is a symlink" in refused(capsys, str(spec), "--out", str(link))

    (tmp_path / "file").write_text("a file")
    assert "is not a directory" in refused(capsys, str(spec), "--out", str(tmp_path / "file"))
    assert (tmp_path / "file").read_text() == "a file"

    # The working directory itself, by a relative path with "..".
    inner = mine / "keep"
    assert "not empty" in refused(capsys, str(spec), "--out", str(inner / ".." / "."))
    assert untouched(mine)


def test_another_experiments_output_is_refused(tmp_path, capsys):
    spec = write_spec(tmp_path / "spec")
    other = tmp_path / "other"
    OutputDirectory(other, "someone-else").claim().release()
    (other / "report.md").write_text("their report")
    assert "holds the output of experiment 'someone-else'" in refused(
        capsys, str(spec), "--out", str(other)
    )
    assert (other / "report.md").read_text() == "their report"


def test_a_directory_in_use_by_another_run_is_refused(tmp_path, capsys):
    spec = write_spec(tmp_path / "spec")
    out = tmp_path / "out"
    with OutputDirectory(out, "small"):
        (out / "logs").mkdir()
        assert "in use by another botify experiment run" in refused(
            capsys, str(spec), "--out", str(out)
        )
        assert (out / "logs").is_dir()


def test_a_rerun_clears_only_its_own_directory_and_never_follows_symlinks(tmp_path):
    outside = victim(tmp_path / "outside")
    out = tmp_path / "out"
    OutputDirectory(out, "small").claim().release()
    assert json.loads((out / MARKER_FILE).read_text()) == {"experiment": "small"}
    (out / "logs").mkdir()
    (out / "logs" / "events-1.jsonl").write_text("{}\n")
    (out / "worlds").symlink_to(outside, target_is_directory=True)
    (out / "logs" / "elsewhere").symlink_to(outside, target_is_directory=True)

    OutputDirectory(out, "small").claim().release()

    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER_FILE, LOCK_FILE])
    assert untouched(outside)


def test_an_empty_directory_is_taken_and_marked(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    with OutputDirectory(out, "small") as claimed:
        assert claimed.path == out and (out / MARKER_FILE).is_file()
        with pytest.raises(OutputError, match="in use"):
            OutputDirectory(out, "small").claim()
    assert sorted(os.listdir(out)) == sorted([MARKER_FILE, LOCK_FILE])
