"""User state on a real redis-server: atomicity, script reloading, expiry."""

from __future__ import annotations

import threading

import pytest

from botify.user_state import UserStateStore, state_keys

pytestmark = pytest.mark.integration


def test_concurrent_requests_of_one_user_lose_no_update(real_redis, config):
    store = UserStateStore(real_redis, config)
    barrier = threading.Barrier(8)
    requests: list[int] = []

    def listen(n):
        barrier.wait()
        for i in range(25):
            state = store.on_next(7, 10 + i % 10, 0.3 + (i % 7) / 10, "Artist 1")
            requests.append(state.request)

    threads = [threading.Thread(target=listen, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    state, artists, _ = state_keys(7)
    assert real_redis.hget(artists, "Artist 1:count") == b"200"
    assert real_redis.hget(state, "requests") == b"200"
    assert sorted(requests) == list(range(1, 201))
    expected_sum = sum(0.3 + (i % 7) / 10 for i in range(25)) * 8
    assert float(real_redis.hget(artists, "Artist 1:sum")) == pytest.approx(expected_sum)


def test_the_script_survives_script_flush(real_redis, config):
    store = UserStateStore(real_redis, config)
    store.on_next(1, 3, 0.9, "Artist 0")

    real_redis.script_flush()
    state = store.on_next(1, 4, 0.9, "Artist 0")

    assert state.request == 2


def test_state_expires_after_the_ttl(real_redis, config):
    store = UserStateStore(real_redis, config)
    store.on_next(1, 3, 0.9, "Artist 0", want_played=True)

    for key in state_keys(1):
        assert 0 < real_redis.ttl(key) <= config.state_ttl_s
    store.on_last(1, 3, 0.9, "Artist 0")
    assert real_redis.exists(state_keys(1)[2]) == 0


def test_keys_of_one_user_share_a_cluster_slot(real_redis):
    from redis.crc import key_slot

    assert len({key_slot(k.encode()) for k in state_keys(123456789)}) == 1
