"""Training the ``contextual`` i2i lists from event logs (``botify train contextual``).

The logs come through ``botify.logs`` (never through the A/B analysis), the artists and
genres from the public catalog (``botify.data.catalog``). Modules, in the order the data
flows through them:

- ``listens``: sessionized events → listens (session, track, time, timestamp).
- ``feedback``: listens → (context track, recommended track, listen time) pairs.
- ``affinity``: the default model: listen time of artist pairs, shrunk to genre pairs.
- ``cooccurrence``: a comparison model: co-occurrence of good listens in sessions.
- ``diverse_lists``: scores → lists that spread over artists, ties broken by a hash.
- ``models``: the models by name, each scoring pairs and cutting lists.
- ``offline_eval``: held-out split, AUC of listen vs skip, against baselines.
- ``command``: the command: read, evaluate, train on everything, write the lists.
"""
