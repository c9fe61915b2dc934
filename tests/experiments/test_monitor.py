"""The live view of a watched experiment: in place on a terminal, plain blocks in a file."""

from __future__ import annotations

import io

import pandas as pd

from botify.experiments.monitor import LiveView, Look, Monitoring, Watch, look_lines


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _look(number: int, decided: bool) -> Look:
    effects = pd.DataFrame(
        {
            "treatment": ["T1", "T2"],
            "effect": [12.5, float("nan")],
            "cs_lower": [3.0 if decided else -1.0, float("nan")],
            "cs_upper": [22.0, float("nan")],
            "n_control": [400, 400],
            "n_treatment": [380, 1],
            "method": ["cuped", "cuped"],
            "decided": [decided, False],
        }
    )
    return Look(number, 500 * number, 10.0 * number, effects)


def _watch() -> Watch:
    return Watch("AB", "C", 2000, 1000, Monitoring(stop_early=True), {"T1": "T1 anchor"})


def test_a_look_is_a_header_and_a_line_per_treatment() -> None:
    lines = look_lines(_look(1, True), _watch())
    assert lines[0].startswith("look 1: 500/2,000 sessions (25%) in 10 s; time per user vs C")
    assert "T1 anchor" in lines[1] and "+12.50%" in lines[1] and lines[1].endswith("decided")
    assert "[   +3.00%,   +22.00%]" in lines[1] and "users 400/380  cuped" in lines[1]
    assert lines[2].strip() == "T2                       n/a (too few users)".strip()
    assert not _look(1, True).all_decided  # T2 is not decided
    assert Monitoring().chunk(6000) == 600 and Monitoring(look_every=7).chunk(6000) == 7


def test_in_a_file_every_look_is_appended_as_plain_text() -> None:
    stream = io.StringIO()
    view = LiveView(stream)
    for number in (1, 2):
        view.show(look_lines(_look(number, number == 2), _watch()))
    text = stream.getvalue()
    assert "\x1b" not in text and "\r" not in text
    assert text.count("look ") == 2 and len(text.splitlines()) == 6


def test_on_a_terminal_each_look_replaces_the_previous_block() -> None:
    stream = Terminal()
    view = LiveView(stream)
    view.show(["look 1", "  a", "  b"])
    view.show(["look 2", "  a", "  b"])
    first, second = stream.getvalue().split("\x1b[3F\x1b[J")
    assert first == "look 1\n  a\n  b\n" and second == "look 2\n  a\n  b\n"
