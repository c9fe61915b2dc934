"""The ``console`` agent: a person plays the recommender, typing the next track id."""

from __future__ import annotations

from collections.abc import Callable

from sim.world import PublicCatalog


class ConsoleAgent:
    """Shows what the user just listened to and asks for the next track id."""

    def __init__(
        self,
        catalog: PublicCatalog,
        read: Callable[[str], str] = input,
        write: Callable[[str], None] = print,
    ) -> None:
        self.catalog = catalog
        self.read = read
        self.write = write

    def describe(self, track: int) -> str:
        """``#id "title" by artist (genre)``."""
        catalog = self.catalog
        artist = catalog.artist_names[catalog.track_artist[track]]
        genre = catalog.genre_names[catalog.track_genre[track]]
        return f'#{track} "{catalog.titles[track]}" by {artist} ({genre})'

    def next_track(self, user: int, track: int, time: float, at: int | None = None) -> int:
        """Ask until the person types a valid track id (``at`` is not shown)."""
        self.write(f"user {user} listened to {time:.0%} of {self.describe(track)}")
        while True:
            answer = self.read(f"next track id (0..{self.catalog.n_tracks - 1})> ").strip()
            if answer.isdigit() and int(answer) < self.catalog.n_tracks:
                choice = int(answer)
                self.write(f"  recommending {self.describe(choice)}")
                return choice
            self.write(f"  {answer!r} is not a track id")

    def last_track(self, user: int, track: int, time: float, at: int | None = None) -> None:
        """Tell the person the session is over."""
        self.write(f"user {user} listened to {time:.0%} of {self.describe(track)}; session over")
