"""Readable generated names: genres, artists and track titles."""

from __future__ import annotations

import numpy as np

GENRES = (
    "ambient", "blues", "bossa nova", "chanson", "classical", "country", "disco", "drum and bass",
    "dub", "folk", "funk", "gospel", "hip hop", "house", "indie rock", "jazz", "k-pop", "metal",
    "punk", "reggae", "shoegaze", "soul", "synthwave", "techno", "trance", "trip hop",
)  # fmt: skip

_ADJECTIVES = (
    "Amber", "Blue", "Broken", "Burning", "Crimson", "Dancing", "Distant", "Electric", "Empty",
    "Endless", "Faded", "Fallen", "Frozen", "Golden", "Hidden", "Hollow", "Last", "Little",
    "Lonely", "Lost", "Midnight", "Neon", "Paper", "Quiet", "Restless", "Secret", "Silent",
    "Silver", "Slow", "Static", "Summer", "Velvet", "Wild", "Winter", "Wooden", "Young",
)  # fmt: skip

_NOUNS = (
    "Anchor", "Avenue", "Bridge", "Candle", "Canyon", "City", "Cloud", "Comet", "Dream", "Echo",
    "Engine", "Feather", "Fire", "Garden", "Harbor", "Heart", "Horizon", "Island", "Lantern",
    "Letter", "Light", "Machine", "Mirror", "Moon", "Mountain", "Ocean", "Rain", "River", "Road",
    "Shadow", "Signal", "Sky", "Song", "Star", "Storm", "Street", "Train", "Wave", "Window", "Wolf",
)  # fmt: skip

_FIRST_NAMES = (
    "Ada", "Alex", "Bea", "Cleo", "Dara", "Eli", "Finn", "Gus", "Hana", "Ines", "Ivo", "Jun",
    "Kai", "Lena", "Milo", "Nia", "Omar", "Pia", "Rosa", "Sami", "Teo", "Uma", "Vera", "Zoe",
)  # fmt: skip

_LAST_NAMES = (
    "Abbott", "Blake", "Castro", "Doyle", "Ekdahl", "Fontaine", "Grant", "Haas", "Ivers", "Jansen",
    "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Quinn", "Rossi", "Sato",
    "Tanaka", "Ueda", "Varga", "Weiss", "Young",
)  # fmt: skip


def _pick(words: tuple[str, ...], rng: np.random.Generator, n: int) -> np.ndarray:
    return np.asarray(words, dtype=object)[rng.integers(0, len(words), n)]


def track_titles(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` readable song titles such as "Silent Harbor" or "The River of Light"."""
    adjective, noun, other = (
        _pick(_ADJECTIVES, rng, n),
        _pick(_NOUNS, rng, n),
        _pick(_NOUNS, rng, n),
    )
    pattern = rng.integers(0, 4, n)
    titles = []
    for p, a, x, y in zip(pattern, adjective, noun, other, strict=True):
        if p == 0:
            titles.append(f"The {x} of {y}")
        elif p == 1:
            titles.append(f"{a} {x}")
        elif p == 2:
            titles.append(f"{x} in the {a} {y}")
        else:
            titles.append(f"{a} {x}s")
    return titles


def artist_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct readable artist names; repeats of a name get a numeric suffix."""
    first, last = _pick(_FIRST_NAMES, rng, n), _pick(_LAST_NAMES, rng, n)
    adjective, noun = _pick(_ADJECTIVES, rng, n), _pick(_NOUNS, rng, n)
    is_band = rng.random(n) < 0.5
    seen: dict[str, int] = {}
    names = []
    for band, f, la, a, x in zip(is_band, first, last, adjective, noun, strict=True):
        base = f"The {a} {x}s" if band else f"{f} {la}"
        count = seen.get(base, 0) + 1
        seen[base] = count
        names.append(base if count == 1 else f"{base} {count}")
    return names
