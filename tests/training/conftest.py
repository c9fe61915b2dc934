"""Fixtures of the training tests: a small synthetic world and its event logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.synthetic_logs import World, make_world, write_catalog, write_synthetic_logs


@pytest.fixture(scope="session")
def world() -> World:
    """20 clusters of 20 tracks."""
    return make_world(n_clusters=20, tracks_per_cluster=20, seed=1)


@pytest.fixture(scope="session")
def synthetic_log_dir(tmp_path_factory: pytest.TempPathFactory, world: World) -> Path:
    """3,000 simulated sessions over two days."""
    return write_synthetic_logs(tmp_path_factory.mktemp("logs"), world, n_sessions=3000, seed=2)


@pytest.fixture(scope="session")
def catalog_file(tmp_path_factory: pytest.TempPathFactory, world: World) -> Path:
    """The world's catalog: 20 genres of 5 artists of 4 tracks."""
    return write_catalog(tmp_path_factory.mktemp("world") / "tracks.jsonl", world)
