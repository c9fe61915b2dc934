"""``train_lists``, the library function behind ``botify train contextual``: what it
returns, and a nightly retrain without the offline evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest

from botify.training import command
from botify.training.command import TrainingError, train_contextual_command, train_lists
from botify.training.models import DEFAULT_MODEL


def test_train_lists_returns_what_it_read_evaluated_and_wrote(
    synthetic_log_dir: Path, catalog_file: Path, tmp_path: Path
) -> None:
    trained = train_lists(synthetic_log_dir, tmp_path / "lists.jsonl", catalog_file, k=8)
    assert trained.out == tmp_path / "lists.jsonl" and trained.model == DEFAULT_MODEL
    assert trained.lists == 400 == len(trained.out.read_text().splitlines())
    assert trained.logs.directory == synthetic_log_dir
    assert trained.logs.sessions == 3000 and trained.logs.listens > trained.logs.sessions
    assert trained.logs.stats.files > 0 and trained.logs.invalid_events == 0
    assert trained.test_logs is None
    evaluation = trained.evaluation
    assert evaluation is not None and 0 < evaluation.train_sessions < 3000
    assert f"| {DEFAULT_MODEL} (trained) |" in evaluation.table
    assert trained.seconds > 0
    assert trained.summary().startswith(f"wrote 400 {DEFAULT_MODEL} lists (k=8, at most")


def test_without_evaluation_the_same_lists_are_written_and_nothing_is_evaluated(
    synthetic_log_dir: Path,
    catalog_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert train_contextual_command(synthetic_log_dir, tmp_path / "cli.jsonl", catalog_file) == 0
    capsys.readouterr()

    def no_evaluation(*args, **kwargs) -> str:
        raise AssertionError("the offline evaluation ran")

    monkeypatch.setattr(command, "offline_report", no_evaluation)
    trained = train_lists(synthetic_log_dir, tmp_path / "lib.jsonl", catalog_file, evaluate=False)
    assert trained.evaluation is None
    assert trained.out.read_bytes() == (tmp_path / "cli.jsonl").read_bytes()
    assert capsys.readouterr().out == ""  # a library function prints nothing


def test_nothing_to_train_on_is_a_training_error_with_what_was_read(
    tmp_path: Path, catalog_file: Path, synthetic_log_dir: Path
) -> None:
    with pytest.raises(TrainingError, match="does not exist") as missing:
        train_lists(tmp_path / "nope", tmp_path / "o.jsonl", catalog_file)
    assert missing.value.read == ()
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "events-h-1-0-00000.jsonl").write_text("not json\n")
    with pytest.raises(TrainingError, match="no valid events") as empty:
        train_lists(
            synthetic_log_dir, tmp_path / "o.jsonl", catalog_file, test_logs=tmp_path / "test"
        )
    assert [read.directory for read in empty.value.read] == [synthetic_log_dir, tmp_path / "test"]
    assert not (tmp_path / "o.jsonl").exists()
