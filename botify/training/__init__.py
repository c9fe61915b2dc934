"""Training the ``contextual`` i2i lists from event logs (``botify train contextual``).

The logs come through ``botify.logs`` (never through the A/B analysis), the artists and
genres from the public catalog (``botify.data.catalog``). Modules, in the order the data
flows through them:

- ``listens``: sessionized events → listens (session, track, time, timestamp).
- ``feedback``: listens → (context track, recommended track, listen time) pairs, and the
  pairs of first tracks of a user's sessions (organic co-occurrence).
- ``clusters``: artist clusters learned from both, the catalog's genres a prior only.
- ``affinity``: listen time of artist pairs, shrunk to cluster pairs, then the mean.
- ``cooccurrence``: a comparison model: co-occurrence of good listens in sessions.
- ``diverse_lists``: scores → lists that spread over artists, ties broken by a hash.
- ``models``: the models by name (``learned``, the default), each scoring pairs and
  cutting lists.
- ``offline_eval``: held-out split, AUC of listen vs skip, against baselines.
- ``off_policy``: IPS / SNIPS estimates, from logged propensities, of new lists online.
- ``command``: the command: read, evaluate, train on everything, write the lists.
"""
