"""``botify train contextual`` on synthetic logs: quality, format, determinism, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from botify.cli import main
from botify.data.catalog import read_catalog
from botify.training import offline_eval
from botify.training.command import read_listens, train_contextual_command
from botify.training.models import DEFAULT_MODEL, MODELS, fit_model
from tests.helpers.synthetic_logs import TRACKS_PER_ARTIST, session_events, write_catalog

CLUSTER = 20  # tracks per cluster (= genre) of the synthetic world


def read_lists(path: Path) -> dict[int, list[int]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return {line["track"]: line["recommendations"] for line in lines}


def test_affinity_ranks_held_out_listens_far_better_than_the_comparisons(
    synthetic_log_dir: Path, catalog_file: Path
) -> None:
    catalog = read_catalog(catalog_file)
    listens = read_listens(synthetic_log_dir)[0]
    split = offline_eval.split_by_time(listens)
    train, test = listens.select_sessions(~split.test), listens.select_sessions(split.test)
    cases = offline_eval.heldout_cases(test, catalog.track_artist)
    pairs = offline_eval.evaluation_pairs(test)
    auc = {
        name: offline_eval.evaluate(
            fit_model(name, train, catalog).score, None, cases, pairs, catalog.size
        ).auc
        for name in ("affinity", "genre", "cooccurrence")
    }
    assert cases.time.size >= 500
    assert auc["affinity"] > 0.8
    assert auc["affinity"] > auc["cooccurrence"] + 0.1
    assert auc["genre"] > 0.8


def test_lists_lead_with_the_other_artists_of_the_keys_genre(
    synthetic_log_dir: Path, catalog_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "lists.jsonl"
    code = train_contextual_command(synthetic_log_dir, out, catalog_file, k=8, per_artist=2)
    assert code == 0
    lists = read_lists(out)
    # A genre has 5 artists of 4 tracks: the 4 other artists, 2 tracks each, come first.
    same_genre = [
        np.mean([other // CLUSTER == key // CLUSTER for other in ranked])
        for key, ranked in lists.items()
    ]
    assert np.mean(same_genre) > 0.9


@pytest.fixture(scope="module")
def lists_file(
    synthetic_log_dir: Path, catalog_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The lists ``botify train contextual`` writes for the synthetic logs, seed 7."""
    out = tmp_path_factory.mktemp("trained") / "deep" / "contextual.jsonl"
    argv = ["train", "contextual", "--logs", str(synthetic_log_dir), "--out", str(out)]
    assert main([*argv, "--tracks", str(catalog_file), "--seed", "7", "--per-artist", "2"]) == 0
    return out


def test_command_writes_a_list_for_every_catalog_track_in_the_service_format(
    lists_file: Path,
) -> None:
    lines = [json.loads(line) for line in lists_file.read_text().splitlines()]
    assert [line["track"] for line in lines] == list(range(400))
    for line in lines:
        assert set(line) == {"track", "recommendations"}
        recommendations = line["recommendations"]
        assert 1 <= len(recommendations) <= 50
        assert all(type(track) is int for track in recommendations)
        assert len(set(recommendations)) == len(recommendations)
        artists = [track // TRACKS_PER_ARTIST for track in recommendations]
        assert line["track"] // TRACKS_PER_ARTIST not in artists  # never the key's own artist
        assert max(artists.count(artist) for artist in artists) <= 2  # --per-artist 2
    assert not list(lists_file.parent.glob(".*.tmp"))
    assert lists_file.stat().st_mode & 0o777 == 0o644


def test_same_logs_and_seed_give_byte_identical_files(
    synthetic_log_dir: Path, catalog_file: Path, lists_file: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again.jsonl"
    code = train_contextual_command(
        synthetic_log_dir, again, catalog_file, per_artist=2, seed=7, test_logs=None
    )
    assert code == 0
    assert again.read_bytes() == lists_file.read_bytes()
    other_seed = tmp_path / "other.jsonl"
    train_contextual_command(synthetic_log_dir, other_seed, catalog_file, per_artist=2, seed=8)
    assert other_seed.read_bytes() != lists_file.read_bytes()


def test_k_bounds_every_list(synthetic_log_dir: Path, catalog_file: Path) -> None:
    listens = read_listens(synthetic_log_dir)[0]
    for name in ("affinity", "cooccurrence"):
        lists = fit_model(name, listens, read_catalog(catalog_file)).lists(3, 1, 0)
        assert max(ranked.size for ranked in lists.values()) == 3


def write_sessions(log_dir: Path, sessions: list[list[tuple[int, float, str]]]) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "events-test-1-0-00000.jsonl", "w") as f:
        for number, session in enumerate(sessions):
            for event in session_events(
                user=number, session_no=0, session=session, first_request=0, start_ms=0
            ):
                f.write(event.to_json() + "\n")


def test_a_long_listen_ranks_an_artist_first_and_a_skip_last(
    tmp_path: Path, world, catalog_file: Path
) -> None:
    # Track 0 is by artist 0 of genre 0, whose other artists are 1-4 (tracks 4-19).
    liked = [(0, 1.0, ""), (4, 0.95, "random")]
    skipped = [(0, 1.0, ""), (8, 0.0, "random")]
    genre_zero = [(12, 1.0, ""), (16, 0.9, "random")]
    other_genre = [(20, 1.0, ""), (24, 0.5, "random")]
    sessions = [*[liked] * 4, *[skipped] * 2, *[genre_zero] * 4, other_genre]
    write_sessions(tmp_path / "logs", sessions)
    out = tmp_path / "lists.jsonl"
    assert train_contextual_command(tmp_path / "logs", out, catalog_file, k=20) == 0
    artists = [track // TRACKS_PER_ARTIST for track in read_lists(out)[0]]
    assert artists[0] == 1  # the artist listened long
    # Then the genre's artists the logs say nothing about for artist 0: genre 0's pairs were
    # liked more than the average pair, so they rank above other genres' artists...
    assert set(artists[1:3]) == {3, 4}
    # ...and the skipped artist ranks below all of them: a skip is a negative.
    assert 2 not in artists
    assert len(read_lists(out)) == 400  # tracks the logs never showed get lists too


def test_separate_test_logs_are_used_for_evaluation(
    synthetic_log_dir: Path,
    catalog_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_sessions(tmp_path / "test", [[(1, 1.0, ""), (25, 0.9, "random"), (45, 0.1, "random")]])
    out = tmp_path / "lists.jsonl"
    code = train_contextual_command(
        synthetic_log_dir, out, catalog_file, test_logs=tmp_path / "test"
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert f"tested on the sessions of {tmp_path / 'test'}" in printed
    assert f"| {DEFAULT_MODEL} (trained) | 2 |" in printed
    assert "| popularity | 2 |" in printed and "| random | 2 |" in printed


def test_missing_log_dir_is_a_clear_error(
    tmp_path: Path, catalog_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = train_contextual_command(tmp_path / "nope", tmp_path / "o.jsonl", catalog_file)
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_empty_log_dir_is_a_clear_error(
    tmp_path: Path, catalog_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logs").mkdir()
    code = train_contextual_command(tmp_path / "logs", tmp_path / "o.jsonl", catalog_file)
    assert code == 2
    assert "no event files" in capsys.readouterr().err


def test_log_dir_of_garbage_is_a_clear_error(
    tmp_path: Path, catalog_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "events-x-1-0-00000.jsonl").write_text('torn {"mess\n[1, 2]\n{"a": 1}\n')
    code = train_contextual_command(tmp_path / "logs", tmp_path / "o.jsonl", catalog_file)
    assert code == 2
    assert "no valid events" in capsys.readouterr().err


def test_a_missing_catalog_or_logs_beyond_it_are_clear_errors(
    synthetic_log_dir: Path, world, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.jsonl"
    assert train_contextual_command(synthetic_log_dir, out, tmp_path / "none.jsonl") == 2
    assert "cannot read the catalog" in capsys.readouterr().err
    small = write_catalog(tmp_path / "small" / "tracks.jsonl", world)
    small.write_text("".join(small.read_text().splitlines(keepends=True)[:100]))
    assert train_contextual_command(synthetic_log_dir, out, small) == 2
    assert "beyond the catalog's 100" in capsys.readouterr().err
    assert not out.exists()


def test_bad_sizes_are_rejected(synthetic_log_dir: Path, catalog_file: Path, tmp_path: Path):
    out = tmp_path / "o.jsonl"
    assert train_contextual_command(synthetic_log_dir, out, catalog_file, k=0) == 2
    assert train_contextual_command(synthetic_log_dir, out, catalog_file, per_artist=0) == 2


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


def test_the_catalog_defaults_to_the_data_dir_and_good_time_to_the_services(
    synthetic_log_dir: Path,
    catalog_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["train", "contextual", "--logs", str(synthetic_log_dir), "--out", str(tmp_path / "l")]
    monkeypatch.setenv("BOTIFY_DATA_DIR", str(catalog_file.parent))

    def auc(good_time: str) -> float:
        monkeypatch.setenv("BOTIFY_GOOD_TIME", good_time)
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert f"a good listen: time >= {float(good_time)}" in out
        return float(
            next(row for row in out.splitlines() if row.startswith(f"| {DEFAULT_MODEL}")).split(
                "|"
            )[3]
        )

    assert auc("0.3") != auc("0.8")
    monkeypatch.setenv("BOTIFY_GOOD_TIME", "half")
    assert main(argv) == 2
    assert "BOTIFY_GOOD_TIME must be a number, got 'half'" in capsys.readouterr().err


def test_the_offline_table_compares_every_model_only_when_asked(
    synthetic_log_dir: Path, catalog_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    def rows(**options) -> list[str]:
        assert (
            train_contextual_command(
                synthetic_log_dir, tmp_path / "lists.jsonl", catalog_file, **options
            )
            == 0
        )
        table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
        return [line.split("|")[1].strip() for line in table[1:]]

    assert rows(model="genre") == ["genre (trained)", "popularity", "random"]
    assert rows(model="genre", compare=True) == [
        "genre (trained)",
        *(name for name in MODELS if name != "genre"),
        "popularity",
        "random",
    ]
