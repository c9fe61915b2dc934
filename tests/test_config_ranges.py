"""Every BOTIFY_* setting is checked at start: a value the service cannot run with (out of
range, NaN, infinite, of the wrong type, empty) is one line naming it, and exit 2."""

from __future__ import annotations

import pytest

from botify.cli import main
from botify.config import VARIABLES, Config

# Per variable, values that must be refused; every variable of the configuration has some.
BAD_VALUES = {
    "BOTIFY_REDIS_URL": ["http://localhost:6379", "localhost:6379"],
    "BOTIFY_REDIS_CLUSTER": ["2", "maybe"],
    "BOTIFY_REDIS_DIR": ["", "  "],
    "BOTIFY_DATA_DIR": [""],
    "BOTIFY_LOG_DIR": [""],
    "BOTIFY_EXPERIMENTS": ["[]", "{}", '{"A": {"C": 5}}'],
    "BOTIFY_SEED": ["-1", "1.5", "abc", str(2**63)],
    "BOTIFY_GOOD_TIME": ["-0.1", "1.5", "nan", "inf", "x"],
    "BOTIFY_MAX_FAILS": ["0", "-3", "2.5"],
    "BOTIFY_STATE_TTL_S": ["0", "-1", "1e9", str(2**63)],
    "BOTIFY_TOPPOP_N": ["0", "-5", "ten"],
    "BOTIFY_EXPLORE": ["-0.01", "1.5", "nan", "some"],
    "BOTIFY_LOG_MAX_BYTES": ["0", "-1", "999", "64MB"],
    "BOTIFY_REDIS_TIMEOUT_S": ["0", "-1", "nan", "inf", "-inf"],
    "BOTIFY_DEPLOY_CHECK_S": ["-1", "0", "nan", "inf", "1s"],
    "BOTIFY_LOG_MEMORY_GB": ["0", "-2", "nan", "inf"],
    "BOTIFY_LOG_THREADS": ["-1", "1.5", "100000"],
    "BOTIFY_PLUGIN_TIMEOUT_S": ["0", "-1", "nan", "inf", "61"],
    "BOTIFY_WORKER_MAX_RSS_MB": ["0", "63", "1e3", "big"],
}
# Values at the edge of each range that must still be accepted.
GOOD_VALUES = {
    "BOTIFY_SEED": "0",
    "BOTIFY_GOOD_TIME": "1",
    "BOTIFY_MAX_FAILS": "1",
    "BOTIFY_STATE_TTL_S": "1",
    "BOTIFY_TOPPOP_N": "1",
    "BOTIFY_EXPLORE": "0",
    "BOTIFY_LOG_MAX_BYTES": "1000",
    "BOTIFY_REDIS_TIMEOUT_S": "0.2",
    "BOTIFY_DEPLOY_CHECK_S": "0.05",
    "BOTIFY_LOG_MEMORY_GB": "0.5",
    "BOTIFY_LOG_THREADS": "0",
    "BOTIFY_REDIS_URL": "unix:///run/redis.sock",
}
CASES = [(variable, value) for variable, values in BAD_VALUES.items() for value in values]


def test_every_setting_has_bad_values():
    assert set(BAD_VALUES) == {variable for variable, _ in VARIABLES.values()}


@pytest.mark.parametrize(("variable", "value"), CASES, ids=[f"{v}={x!r}" for v, x in CASES])
def test_a_setting_out_of_range_is_one_line_and_exit_2(variable, value, monkeypatch, capsys):
    monkeypatch.setenv(variable, value)

    assert main(["report", "--logs", "logs"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("botify report: ")
    assert variable in err


@pytest.mark.parametrize(("variable", "value"), GOOD_VALUES.items())
def test_a_setting_at_the_edge_of_its_range_is_accepted(variable, value, monkeypatch):
    monkeypatch.setenv(variable, value)

    Config.from_env()
