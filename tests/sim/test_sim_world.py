import dataclasses
import json

import numpy as np

from sim.world import WorldParams, generate_world
from sim.world_files import write_world


def _files(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_same_seed_writes_byte_identical_files(tmp_path, world_dir, small):
    write_world(generate_world(small), tmp_path)
    assert _files(tmp_path) == _files(world_dir)
    assert set(_files(tmp_path)) == {"tracks.jsonl", "embeddings.npy", "users.jsonl", "world.json"}


def test_other_seed_gives_another_world(small):
    a = generate_world(small)
    b = generate_world(dataclasses.replace(small, seed=small.seed + 1))
    assert not np.array_equal(a.embeddings, b.embeddings)


def test_tracks_file_follows_the_contract(world_dir, small):
    rows = [json.loads(line) for line in (world_dir / "tracks.jsonl").read_text().splitlines()]
    assert [row["track"] for row in rows] == list(range(small.n_tracks))
    for row in rows:
        assert set(row) == {"track", "artist", "title", "genre", "popularity"}
        assert isinstance(row["popularity"], int) and row["popularity"] >= 0
        assert row["title"] and row["artist"]


def test_artist_names_are_unique_per_artist(small):
    world = generate_world(small)
    names = world.catalog.artist_names
    assert len(set(names)) == len(names)
    assert np.bincount(world.catalog.track_artist).min() >= 1


def test_tracks_per_artist_are_heavy_tailed(small):
    sizes = np.bincount(generate_world(small).catalog.track_artist)
    assert (sizes == 1).mean() > 0.3
    assert sizes.max() >= 10 * np.median(sizes)


def test_embeddings_are_unit_float32_rows(world, small):
    assert world.embeddings.dtype == np.float32
    assert world.embeddings.shape == (small.n_tracks, small.dim)
    np.testing.assert_allclose(np.linalg.norm(world.embeddings, axis=1), 1.0, atol=1e-5)


def test_users_have_parameters_in_range(world, small):
    users = world.users
    assert users.n_users == small.n_users
    counts = np.diff(users.interest_offsets)
    assert counts.min() >= 1 and counts.max() <= 6
    assert ((users.consume_bias >= 0.1) & (users.consume_bias <= 0.6)).all()
    assert ((users.consume_sharpness >= 4) & (users.consume_sharpness <= 15)).all()
    assert (users.session_budget == 5).all()
    assert (users.interest_neighbours == 10).all()


def test_loaded_world_equals_generated_world(world, small):
    generated = generate_world(small)
    assert world.params == small
    assert world.catalog.titles == generated.catalog.titles
    np.testing.assert_array_equal(world.embeddings, generated.embeddings)
    np.testing.assert_array_equal(world.users.interest_tracks, generated.users.interest_tracks)
    np.testing.assert_array_equal(world.users.consume_bias, generated.users.consume_bias)
    same_artist = generated.catalog.track_artist[:, None] == generated.catalog.track_artist
    loaded_same = world.catalog.track_artist[:, None] == world.catalog.track_artist
    np.testing.assert_array_equal(same_artist, loaded_same)


def test_interests_hop_to_similar_artists():
    world = generate_world(WorldParams(seed=1, n_tracks=3_000, n_users=500, dim=16, n_genres=8))
    genre = world.catalog.track_genre
    users = world.users
    pairs = [
        (genre[a], genre[b])
        for u in range(users.n_users)
        for a, b in zip(users.interests(u)[:-1], users.interests(u)[1:], strict=True)
    ]
    same_genre = np.mean([a == b for a, b in pairs])
    shares = np.bincount(genre, minlength=8) / len(genre)
    assert same_genre > (shares**2).sum() + 0.2


def test_genre_label_noise_relabels_artists_and_changes_nothing_else():
    params = WorldParams(seed=4, n_tracks=3000, n_users=50)
    clean = generate_world(params)
    noisy = generate_world(WorldParams(seed=4, n_tracks=3000, n_users=50, genre_label_noise=0.5))
    np.testing.assert_array_equal(clean.embeddings, noisy.embeddings)
    np.testing.assert_array_equal(clean.users.interest_tracks, noisy.users.interest_tracks)
    changed = clean.catalog.track_genre != noisy.catalog.track_genre
    assert 0.2 < changed.mean() < 0.6  # half the artists relabelled, a 1/20 chance to keep it
    # One label per artist: every track of an artist is listed under the same genre.
    for artist in np.unique(noisy.catalog.track_artist)[:50]:
        assert np.unique(noisy.catalog.track_genre[noisy.catalog.track_artist == artist]).size == 1
