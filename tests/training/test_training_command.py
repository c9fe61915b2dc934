"""``botify train contextual`` on synthetic logs: quality, format, determinism, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic_logs import session_events

from botify.cli import main
from botify.training import offline_eval
from botify.training.als import train_lists
from botify.training.command import read_listens, train_contextual_command


def read_lists(path: Path) -> dict[int, list[int]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return {line["track"]: line["recommendations"] for line in lines}


def test_trained_lists_beat_popularity_and_random_on_held_out_sessions(
    synthetic_log_dir: Path,
) -> None:
    listens = read_listens(synthetic_log_dir)[0]
    split = offline_eval.split_by_time(listens)
    train, test = listens.select_sessions(~split.test), listens.select_sessions(split.test)
    anchors, targets = offline_eval.evaluation_pairs(test)
    seen = np.unique(train.track)
    trained = offline_eval.evaluate(train_lists(train, k=50, seed=0), anchors, targets, seen)
    popular = offline_eval.evaluate(
        offline_eval.popularity_lists(train, anchors), anchors, targets, seen
    )
    random = offline_eval.evaluate(
        offline_eval.random_lists(train, anchors, seed=0), anchors, targets, seen
    )
    assert anchors.size >= 100
    assert trained.hit_rate > 2 * popular.hit_rate
    assert trained.hit_rate > 2 * random.hit_rate
    assert trained.mrr > popular.mrr


@pytest.fixture(scope="module")
def lists_file(synthetic_log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lists ``botify train contextual`` writes for the synthetic logs, seed 7."""
    out = tmp_path_factory.mktemp("trained") / "deep" / "contextual.jsonl"
    argv = ["train", "contextual", "--logs", str(synthetic_log_dir), "--out", str(out)]
    assert main([*argv, "--seed", "7"]) == 0
    return out


def test_command_writes_lists_in_the_service_format(lists_file: Path) -> None:
    lines = [json.loads(line) for line in lists_file.read_text().splitlines()]
    assert len(lines) > 100
    assert [line["track"] for line in lines] == sorted(line["track"] for line in lines)
    for line in lines:
        assert set(line) == {"track", "recommendations"}
        recommendations = line["recommendations"]
        assert 1 <= len(recommendations) <= 50
        assert all(type(track) is int for track in recommendations)
        assert line["track"] not in recommendations
        assert len(set(recommendations)) == len(recommendations)
    assert not list(lists_file.parent.glob(".*.tmp"))
    assert lists_file.stat().st_mode & 0o777 == 0o644


def test_same_logs_and_seed_give_byte_identical_files(
    synthetic_log_dir: Path, lists_file: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again.jsonl"
    assert train_contextual_command(synthetic_log_dir, again, k=50, seed=7, test_logs=None) == 0
    assert again.read_bytes() == lists_file.read_bytes()


def test_k_bounds_every_list(synthetic_log_dir: Path) -> None:
    listens = read_listens(synthetic_log_dir)[0]
    lists = train_lists(listens, k=3, seed=0)
    assert max(ranked.size for ranked in lists.values()) == 3


def write_sessions(log_dir: Path, sessions: list[list[tuple[int, float, str]]]) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "events-test-1-0-00000.jsonl", "w") as f:
        for number, session in enumerate(sessions):
            for event in session_events(
                user=number, session_no=0, session=session, first_request=0, start_ms=0
            ):
                f.write(json.dumps(event) + "\n")


def test_only_tracks_played_in_the_logs_get_lists(tmp_path: Path) -> None:
    pair = [(1, 1.0, ""), (2, 0.9, "random")]
    sessions = [pair, pair, pair, [(1, 1.0, ""), (2, 0.8, "random"), (3, 0.9, "random")]]
    sessions.append([(4, 1.0, ""), (6, 0.1, "random")])
    write_sessions(tmp_path / "logs", sessions)
    out = tmp_path / "lists.jsonl"
    assert train_contextual_command(tmp_path / "logs", out, k=50, seed=0, test_logs=None) == 0
    lists = read_lists(out)
    # Track 5 was never played: no data, no list.
    assert set(lists) == {1, 2, 3, 4, 6}
    assert lists[1][0] == 2 and lists[2][0] == 1
    assert lists[4][0] == 6 and lists[6][0] == 4


def test_logs_of_a_single_track_give_no_lists(tmp_path: Path) -> None:
    write_sessions(tmp_path / "logs", [[(1, 1.0, ""), (1, 0.0, "random")]])
    out = tmp_path / "lists.jsonl"
    assert train_contextual_command(tmp_path / "logs", out, k=50, seed=0, test_logs=None) == 0
    assert out.read_text() == ""


def test_separate_test_logs_are_used_for_evaluation(
    synthetic_log_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_sessions(tmp_path / "test", [[(1, 1.0, ""), (2, 0.9, "random")]])
    out = tmp_path / "lists.jsonl"
    code = train_contextual_command(synthetic_log_dir, out, 50, 0, test_logs=tmp_path / "test")
    assert code == 0
    printed = capsys.readouterr().out
    assert f"tested on the sessions of {tmp_path / 'test'}" in printed
    assert "| contextual (ALS) | 1 |" in printed
    assert "| popularity | 1 |" in printed and "| random | 1 |" in printed


def test_missing_log_dir_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = train_contextual_command(tmp_path / "nope", tmp_path / "o.jsonl", 50, 0, None)
    assert code != 0
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_empty_log_dir_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "logs").mkdir()
    code = train_contextual_command(tmp_path / "logs", tmp_path / "o.jsonl", 50, 0, None)
    assert code != 0
    assert "no event files" in capsys.readouterr().err


def test_log_dir_of_garbage_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "events-x-1-0-00000.jsonl").write_text('torn {"mess\n[1, 2]\n{"a": 1}\n')
    code = train_contextual_command(tmp_path / "logs", tmp_path / "o.jsonl", 50, 0, None)
    assert code != 0
    assert "no valid events" in capsys.readouterr().err


def test_k_below_one_is_rejected(synthetic_log_dir: Path, tmp_path: Path) -> None:
    assert train_contextual_command(synthetic_log_dir, tmp_path / "o.jsonl", 0, 0, None) != 0


def test_train_offers_the_trainable_kinds_and_deploy_every_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["train", "indexed", "--logs", str(tmp_path), "--out", str(tmp_path / "x")])

    assert refused.value.code == 2
    assert "invalid choice: 'indexed' (choose from 'contextual')" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["deploy", "--help"])
    assert "{contextual,indexed}" in capsys.readouterr().out


def test_the_offline_evaluation_takes_good_listens_at_the_services_good_time(
    synthetic_log_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["train", "contextual", "--logs", str(synthetic_log_dir), "--out", str(tmp_path / "l")]

    def cases(good_time: str) -> int:
        monkeypatch.setenv("BOTIFY_GOOD_TIME", good_time)
        assert main(argv) == 0
        out = capsys.readouterr().out.splitlines()
        return int(next(row for row in out if row.startswith("| contextual")).split("|")[2])

    assert cases("0.3") > cases("0.8") > 0
    monkeypatch.setenv("BOTIFY_GOOD_TIME", "half")
    assert main(argv) == 2
    assert "BOTIFY_GOOD_TIME must be a number, got 'half'" in capsys.readouterr().err
