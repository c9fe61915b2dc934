"""The control arm of ``decide.toml``: contextual, with a known share of answers degraded.

No two built-in recommenders are about 10% apart on the demo world (anchor and contextual
draw the same lists and tie; the anchor_fresh family is twice as good), so the spec makes a
known, small difference the standard way: the control is contextual with 0.5% of its answers
replaced by a random track, which the simulated listeners mostly skip (and, as contextual
follows the track just heard, the session may wander off its taste). With 2% the arms were
52% apart (`bench/decide_http.py`), so the share was cut to a quarter.
"""

from __future__ import annotations


class NoisyContextual:
    """contextual (a random track of the previous track's i2i list, else a random track),
    except that a share ``noise`` of answers is a uniformly random catalog track."""

    noise = 0.005

    def __init__(self, context):
        self.lists = context.lists["contextual"]
        self.size = context.catalog.size

    def recommend_next(self, request):
        lists = self.lists()
        candidates = lists.get(request.track) if lists is not None else ()
        if len(candidates) == 0 or request.rng.random() < self.noise:
            return request.rng.randrange(self.size)
        return int(candidates[request.rng.randrange(len(candidates))])
