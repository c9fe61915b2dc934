"""botify: a next-track music recommender service with A/B experimentation.

Importing ``botify`` loads nothing but this logger set-up: the web stack comes with
``botify.web``, so the command line, training and analysis load only what they use.
"""

import logging

# A library logs to its own logger and leaves output to the program: `botify serve`
# configures it; embedded users and the tests decide for themselves.
logging.getLogger(__name__).addHandler(logging.NullHandler())
