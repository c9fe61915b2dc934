"""Training the ``contextual`` i2i lists from event logs (``botify train contextual``).

The logs come through ``botify.logs`` (never through the A/B analysis). Modules, in the
order the data flows through them:

- ``listens``: sessionized events → listens (session, track, time, timestamp).
- ``als``: the model: implicit ALS on the session × track matrix, then nearest neighbours.
- ``offline_eval``: held-out split, hit-rate, MRR and pick rate against baselines.
- ``command``: the command: read, evaluate, train on everything, write the lists.
"""
