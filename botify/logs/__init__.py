"""The event log (SPEC §6), shared by the service, training and the A/B analysis:

- ``writer``: ``EventLog``, one JSON line per answered request, per-process files, rotation.
- ``reader``: every segment of a log directory → events, and typed frames (``load_events``).
- ``sessions``: events → sessions (a ``last`` closes one) and one row per session.
"""
