"""A small generated world shared by the simulator tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.world import World, WorldParams, generate_world
from sim.world_files import load_world, write_world

SMALL = WorldParams(seed=3, n_tracks=2_000, n_users=300, dim=16, n_genres=8)


@pytest.fixture(scope="session")
def small() -> WorldParams:
    return SMALL


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory, small: WorldParams) -> Path:
    directory = tmp_path_factory.mktemp("world")
    write_world(generate_world(small), directory)
    return directory


@pytest.fixture(scope="session")
def world(world_dir: Path) -> World:
    return load_world(world_dir)
