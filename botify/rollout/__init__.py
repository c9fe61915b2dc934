"""Rolling changes out to every replica without a restart, from decision to workers:

- ``experiments``: named experiments, each user's treatment (the course's hash) and the
  recommender it maps to.
- ``keys``: the control plane's layout in Redis and the data directory.
- ``control``: the durable record of what is deployed and active, mirrored into Redis.
- ``deploy``: the operations: publish or roll back lists, activate an experiment.
- ``commands``: ``botify deploy`` / ``botify activate`` (messages and exit codes).
- ``follow``: how every worker follows the deployed versions and the active experiment.
"""
