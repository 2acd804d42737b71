"""Every scale's conversion to Plex's 0-10, including the rounding rules documented in docs/sync-sources.md."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from plexm8.core import rating_scales
from plexm8.core.sources import RatingScale, SourceRating


def plex_values(convert: Callable[[Any], SourceRating | None], values: Sequence[object]) -> list[int | None]:
    results = [convert(value) for value in values]
    return [None if r is None else r.plex.value for r in results]


def test_percent_scale_rounds_half_up_and_never_to_zero() -> None:
    values = [0, 1, 4, 5, 10, 14, 15, 20, 25, 30, 44, 45, 50, 55, 60, 65, 70, 80, 85, 90, 95, 100]
    expected = [None, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6, 7, 7, 8, 9, 9, 10, 10]
    assert plex_values(rating_scales.percent, values) == expected


def test_percent_round_trip_is_stable_for_every_plex_value() -> None:
    # A Plex value written from a source and read back as stars*20 converts to itself: a second sync is a no-op.
    for plex in range(1, 11):
        converted = rating_scales.percent(plex * 10)
        assert converted is not None and converted.plex.value == plex


@pytest.mark.parametrize("bad", [-1, 101, 250, math.nan, math.inf])
def test_percent_out_of_range(bad: float) -> None:
    with pytest.raises(ValueError, match=r"outside 0-100|not a number"):
        rating_scales.percent(bad)


def test_percent_keeps_scale_and_raw() -> None:
    rating = rating_scales.percent(70, RatingScale.MUSICBEE)
    assert rating is not None
    assert (rating.scale, rating.raw, rating.plex.value, rating.plex.stars) == (RatingScale.MUSICBEE, 70.0, 7, 3.5)


def test_foobar_stars() -> None:
    assert plex_values(rating_scales.foobar, [0, 1, 2, 3, 4, 5, 2.5]) == [None, 2, 4, 6, 8, 10, 5]
    with pytest.raises(ValueError, match="outside foobar2000's 1-5"):
        rating_scales.foobar(6)


def test_popm_by_writer() -> None:
    wmp = "Windows Media Player 9 Series"
    assert plex_values(lambda b: rating_scales.popm(wmp, b), [0, 1, 64, 128, 196, 255]) == [None, 2, 4, 6, 8, 10]
    # Bytes between the steps fall into WMP's ranges (1-31, 32-95, 96-159, 160-223, 224-255).
    assert plex_values(lambda b: rating_scales.popm(wmp, b), [31, 32, 95, 96, 159, 160, 223, 224]) == [
        2, 4, 4, 6, 6, 8, 8, 10,
    ]  # fmt: skip
    half = [13, 54, 118, 186, 242]
    assert plex_values(lambda b: rating_scales.popm("MusicBee", b), half) == [1, 3, 5, 7, 9]
    assert plex_values(lambda b: rating_scales.popm("no@email", b), [*half, 1, 255]) == [1, 3, 5, 7, 9, 2, 10]
    assert plex_values(lambda b: rating_scales.popm("users@musicbrainz.org", b), [51, 102, 153, 204, 255]) == [
        2, 4, 6, 8, 10,
    ]  # fmt: skip
    assert plex_values(lambda b: rating_scales.popm("quodlibet@lists.sacredchao.net", b), [128, 25]) == [5, 1]
    assert plex_values(lambda b: rating_scales.popm("foobar2000", b), [196]) == [8]
    assert plex_values(lambda b: rating_scales.popm("someone@else", b), [118, 100]) == [5, 6]


def test_popm_scales_and_range() -> None:
    assert rating_scales.popm_scale("Windows Media Player 9 Series") is RatingScale.POPM_WMP
    assert rating_scales.popm_scale("MusicBee") is RatingScale.POPM_MUSICBEE
    assert rating_scales.popm_scale("no@email") is RatingScale.POPM_MEDIAMONKEY
    assert rating_scales.popm_scale("rating@quodlibet") is RatingScale.POPM_PICARD
    assert rating_scales.popm_scale("users@musicbrainz.org") is RatingScale.POPM_PICARD
    with pytest.raises(ValueError, match="outside 0-255"):
        rating_scales.popm("MusicBee", 256)


def test_fmps_fraction() -> None:
    assert plex_values(rating_scales.fmps, [0, 0.05, 0.1, 0.5, 0.7, 0.75, 1.0]) == [None, 1, 1, 5, 7, 8, 10]
    with pytest.raises(ValueError, match="outside the fraction"):
        rating_scales.fmps(1.5)


def test_vorbis_rating_by_value_range() -> None:
    texts = ["0", "1", "3", "5", "3.5", "0.8", "1.0", "60", "100", "45", " 80 ", "0,6"]
    assert plex_values(rating_scales.vorbis, texts) == [None, 2, 6, 10, 7, 8, 10, 6, 10, 5, 8, 6]
    ratings = [rating_scales.vorbis(t) for t in ("4", "0.8", "80")]
    scales = [r.scale if r else None for r in ratings]
    assert scales == [RatingScale.VORBIS_5, RatingScale.FMPS, RatingScale.VORBIS_100]


def test_vorbis_fraction_keys_read_one_as_a_full_rating() -> None:
    one = rating_scales.vorbis("1", fraction=True)
    assert one is not None and one.plex.value == 10


def test_vorbis_advisories_are_not_stars() -> None:
    assert [rating_scales.vorbis(t) for t in ("Clean", "EXPLICIT", "", "  ")] == [None, None, None, None]


@pytest.mark.parametrize("bad", ["THERATING", "101", "-3", "nan"])
def test_vorbis_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match="RATING"):
        rating_scales.vorbis(bad)


def test_wma_shared_user_rating() -> None:
    assert plex_values(rating_scales.wma, [0, 1, 25, 50, 75, 99, 12, 13, 100]) == [None, 2, 4, 6, 8, 10, 2, 4, 10]
    with pytest.raises(ValueError, match="outside 0-99"):
        rating_scales.wma(150)


def test_plex_scale_passes_through() -> None:
    assert plex_values(rating_scales.plex, [0, 1, 7, 10]) == [None, 1, 7, 10]
    with pytest.raises(ValueError, match="outside 0-10"):
        rating_scales.plex(11)
