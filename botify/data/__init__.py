"""The read-only data the service loads at start-up, from files:

- ``catalog``: the world's public ``tracks.jsonl`` in memory (artist, title, genre,
  popularity of tracks ``0..n-1``).
- ``lists``: precomputed recommendation lists (i2i per track, or per user), checked
  against the catalog and packed into arrays.
"""
