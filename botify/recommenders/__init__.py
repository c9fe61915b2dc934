"""Next-track recommenders (docs/recommenders.md), from what they are given to what serves a name:

- ``base``: ``Request`` (user, track, time, rng, state), ``Recommendation`` and the
  ``Recommender`` protocol.
- ``rng``: the per-request random generator, reproducible from the seed and the request.
- ``baselines``: random (also everyone's fallback), toppop, sticky_artist, and the list
  recommenders (contextual, indexed).
- ``anchor``: the seed's anchor (docs/recommenders.md) and its variants anchor_popular,
  anchor_fresh and anchor_session.
- ``exploration``: a share of the list-based recommenders' answers is a random track, with
  the propensity of every answer for off-policy evaluation.
- ``plugins``: recommenders written outside botify (``module:Class``, entry points), guarded.
- ``registry``: ``build_recommenders``, every recommender by the name experiments use.
"""
