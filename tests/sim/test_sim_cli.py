import json

import pandas as pd

from sim.cli import main


def test_world_then_run_two_days(tmp_path, capsys):
    world = tmp_path / "world"
    assert (
        main(["world", "--seed", "1", "--out", str(world), "--tracks", "800", "--users", "50"]) == 0
    )
    assert len((world / "tracks.jsonl").read_text().splitlines()) == 800
    assert json.loads((world / "world.json").read_text())["seed"] == 1
    out = tmp_path / "sessions.jsonl"
    args = ["run", "--world", str(world), "--agent", "random", "--episodes", "40", "--days", "2"]
    assert main([*args, "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| 1 | " in printed and "| 2 | " in printed
    sessions = pd.read_json(out, lines=True)
    assert set(sessions["day"]) == {1, 2}
    assert main([*args, "--quiet", "--out", str(tmp_path / "again.jsonl")]) == 0
    assert (tmp_path / "again.jsonl").read_bytes() == out.read_bytes()
    # Day by day, each command resuming the population the one before saved beside the world.
    day_one = ["--days", "1", "--first-day", "1", "--quiet", "--out", str(tmp_path / "d1.jsonl")]
    resumed = tmp_path / "day2.jsonl"
    day_two = ["--days", "1", "--first-day", "2", "--quiet", "--out", str(resumed)]
    assert main([*args[:-2], *day_one]) == 0
    assert (world / "population.npz").is_file()
    assert main([*args[:-2], *day_two]) == 0
    expected = sessions[sessions["day"] == 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_json(resumed, lines=True), expected)


def test_uniform_world_plays_exactly_the_episodes(tmp_path, capsys):
    world = tmp_path / "world"
    flags = ["--tracks", "800", "--users", "50", "--population", "off"]
    assert main(["world", "--seed", "1", "--out", str(world), *flags]) == 0
    args = ["run", "--world", str(world), "--agent", "random", "--episodes", "40", "--days", "2"]
    assert main([*args, "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "| 1 | 40 |" in printed and "| 2 | 40 |" in printed
    assert not (world / "population.npz").exists()


def test_a_state_ahead_of_the_day_is_refused(tmp_path, world_dir, capsys):
    state = ["--state", str(tmp_path / "state.npz"), "--quiet"]
    args = ["run", "--world", str(world_dir), "--agent", "random", "--episodes", "30", *state]
    assert main([*args, "--days", "3"]) == 0
    assert main([*args, "--days", "1", "--first-day", "2"]) == 2
    assert "cannot go back to day 2" in capsys.readouterr().err


def test_without_days_stops_when_no_one_answers(tmp_path, world_dir, capsys, monkeypatch):
    def no_stdin(prompt):
        raise EOFError

    monkeypatch.setattr("builtins.input", no_stdin)
    args = ["run", "--world", str(world_dir), "--agent", "oracle", "--episodes", "5", "--quiet"]
    assert main([*args, "--state", str(tmp_path / "state.npz")]) == 0
    printed = capsys.readouterr().out
    assert "\n| 1 | " in printed and "\n| 2 | " not in printed


def test_console_agent_refuses_workers(world_dir, capsys):
    args = ["run", "--world", str(world_dir), "--agent", "console", "--episodes", "1"]
    assert main([*args, "--workers", "2"]) == 2
    assert "--workers 1" in capsys.readouterr().err


def test_world_flags_set_the_behaviour_and_bad_values_name_the_flag(tmp_path, capsys):
    world = tmp_path / "world"
    args = ["world", "--seed", "2", "--out", str(world), "--tracks", "600", "--users", "40"]
    flags = ["--artist-discount", "0.6", "--budget", "3", "--interest-neighbours", "4"]
    assert main([*args, *flags, "--consume-bias", "0.3", "0.35", "--genres", "5"]) == 0
    users = [json.loads(line) for line in (world / "users.jsonl").read_text().splitlines()]
    assert {u["artist_discount_gamma"] for u in users} == {0.6}
    assert {u["session_budget"] for u in users} == {3}
    assert {u["interest_neighbours"] for u in users} == {4}
    assert all(0.3 <= u["consume_bias"] <= 0.35 for u in users)
    genres = {
        json.loads(line)["genre"] for line in (world / "tracks.jsonl").read_text().splitlines()
    }
    assert len(genres) == 5
    assert json.loads((world / "world.json").read_text())["consume_bias_high"] == 0.35
    capsys.readouterr()
    assert main([*args, "--artist-discount", "1.5"]) == 2
    assert "--artist-discount" in capsys.readouterr().err
    assert main([*args, "--consume-sharpness", "9", "2"]) == 2
    assert "--consume-sharpness" in capsys.readouterr().err
