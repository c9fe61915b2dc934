"""botify: a next-track music recommender service with A/B experimentation."""

from botify.app import create_app

__all__ = ["create_app"]
