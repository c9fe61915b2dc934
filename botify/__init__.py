"""botify: a next-track music recommender service with A/B experimentation."""

import logging

# A library logs to its own logger and leaves output to the program: `botify serve`
# configures it; embedded users and the tests decide for themselves.
logging.getLogger(__name__).addHandler(logging.NullHandler())

from botify.app import create_app  # noqa: E402

__all__ = ["create_app"]
