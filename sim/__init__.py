"""Simulated users for botify: synthetic worlds, the user model, agents and the ``sim`` CLI."""
