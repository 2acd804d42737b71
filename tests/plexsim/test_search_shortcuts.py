"""plexsim's shortcuts answer exactly as the plain evaluation: remembered smart playlists, narrowed track searches."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest
from builders import small_library

from plexsim.generate import generate_library
from plexsim.resolve import evaluate_smart, search_section
from plexsim.state import ServerState

QUERY = "/library/sections/3/all?type=10&sort=track.id"


def test_an_unchanged_state_answers_from_memory_and_any_change_forgets() -> None:
    state = ServerState(small_library())
    admin = state.accounts[1]
    rated = state.create_playlist(admin, "Rated", query=QUERY + "&track.userRating>>=9")
    first = evaluate_smart(state, admin, rated)
    assert evaluate_smart(state, admin, rated) is first  # remembered: the same answer, not evaluated again
    newcomer = next(t.id for t in state.default_tracks if t.id not in {x.id for x in first})
    state.rate(admin, newcomer, 10)
    after = evaluate_smart(state, admin, rated)
    assert newcomer in {t.id for t in after}
    assert newcomer not in {t.id for t in first}


def test_accounts_have_their_own_answers() -> None:
    state = ServerState(small_library())
    admin, other = state.accounts[1], next(a for i, a in state.accounts.items() if i != 1)
    rated = state.create_playlist(admin, "Rated", query=QUERY + "&track.userRating>>=0")
    key = state.default_tracks[0].id
    state.rate(other, key, 10)
    state.rate(admin, key, -1)
    assert key not in {t.id for t in evaluate_smart(state, admin, rated)}
    assert key in {t.id for t in evaluate_smart(state, other, rated)}


def test_relative_dates_follow_the_clock() -> None:
    clock = [1_700_000_000.0]
    state = ServerState(small_library(), clock=lambda: clock[0])
    admin = state.accounts[1]
    key = state.default_tracks[0].id
    state.record_play(admin, key, viewed_at=int(clock[0]) - 30)
    recent = state.create_playlist(admin, "Last minute", query=QUERY + "&track.lastViewedAt>>=-1m")
    assert key in {t.id for t in evaluate_smart(state, admin, recent)}
    clock[0] += 120  # nothing changed on the server, but a minute later the play is no longer that recent
    assert key not in {t.id for t in evaluate_smart(state, admin, recent)}


@pytest.fixture(scope="module")
def generated() -> ServerState:
    return ServerState(generate_library(tracks=400, seed=3))


QUERIES = [
    "track.userRating>>=0",
    "track.userRating>>=7&sort=track.userRating:desc",
    "track.userRating=8",
    "track.userRating<<=5",
    "track.userRating!=8",
    "track.lastRatedAt>>=-1y",
    "track.lastViewedAt>>=-30d&sort=track.lastViewedAt:desc",
    "track.lastViewedAt<<=-1y",
    "track.updatedAt>>=1700000000",
    "track.updatedAt>=2020-01-01",
    "push=1&track.updatedAt>>=1700000000&or=1&track.lastRatedAt>>=1700000000&or=1&track.lastViewedAt>>=1700000000&pop=1",
    "push=1&track.userRating>>=9&or=1&track.title=a&pop=1",
    "album.decade=2000&track.userRating>>=5&sort=track.userRating:desc",
    "track.userRating>>=7&track.lastViewedAt<<=-1y&sort=track.lastViewedAt:asc&limit=10",
    "track.viewCount<<=1",
    "track.userRating>>=3&sort=random",
]


@pytest.mark.parametrize("query", QUERIES)
def test_narrowed_track_searches_answer_as_a_full_scan(generated: ServerState, query: str) -> None:
    pairs = parse_qsl(query, keep_blank_values=True)
    for account in generated.accounts.values():
        narrowed = search_section(generated, account, pairs, libtype="track")
        # An explicit pool is searched as given, without narrowing.
        full = search_section(generated, account, pairs, libtype="track", items=generated.default_tracks)
        assert [t.id for t in narrowed] == [t.id for t in full]


def test_the_narrowed_searches_are_not_vacuous(generated: ServerState) -> None:
    admin = generated.accounts[1]
    found = [
        len(search_section(generated, admin, parse_qsl(q, keep_blank_values=True), libtype="track")) for q in QUERIES
    ]
    assert sum(1 for n in found if n) >= len(QUERIES) - 3
