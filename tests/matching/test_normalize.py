"""Text and path normalisation: the same song written two ways gives one key; different recordings do not."""

from __future__ import annotations

import unicodedata

import pytest

from plexm8.core.normalize import (
    artist_keys,
    fold,
    is_case_insensitive_path,
    normalize_path,
    title_key,
    title_stem,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Beyoncé & JAY-Z", "beyonce and jay z"),
        ("O.R.E.", "ORE"),
        ("Don’t Stop", "Dont Stop"),
        ("Ærøskøbing", "aeroskobing"),
        ("Straße", "strasse"),
        (unicodedata.normalize("NFD", "Sängerin"), "Sängerin"),
    ],
)
def test_fold_makes_spellings_equal(a: str, b: str) -> None:
    assert fold(a) == fold(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Feuer - Remastered 2016", "Feuer (2016 Remaster)"),
        ("Feuer - Remastered", "Feuer [Remastered]"),
        ("Song - Live", "Song (Live)"),
        ("Song (Live at Wembley)", "Song [Live]"),
        ("Song (feat. Kim)", "Song [ft. Kim]"),
        ("Song (feat. Kim)", "Song featuring Kim"),
        ("Song feat. Kim", "Song"),
        ("Lucky (Radio Edit)", "Lucky - Radio Edit"),
        ("Blue (Acoustic Version)", "Blue (Acoustic)"),
    ],
)
def test_same_recording_same_key(a: str, b: str) -> None:
    ka, kb = title_key(a), title_key(b)
    assert (ka.base, ka.hard) == (kb.base, kb.hard)
    assert title_stem(a) == title_stem(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Song", "Song - Live"),
        ("Song", "Song (Demo)"),
        ("Song", "Song (Kim Lee Remix)"),
        ("Song (Radio Edit)", "Song (Extended Mix)"),
        ("Song", "Song (Instrumental)"),
        ("Song - Part 1", "Song - Part 2"),
        ("Stranger (Lunar Velvet)", "Stranger"),
    ],
)
def test_other_recordings_differ(a: str, b: str) -> None:
    ka, kb = title_key(a), title_key(b)
    assert (ka.base, ka.hard) != (kb.base, kb.hard)


def test_soft_tags_rank_but_do_not_separate() -> None:
    original, remaster = title_key("Träume"), title_key("Träume (Super Deluxe Edition) - Remastered")
    assert original.base == remaster.base == "traume"
    assert remaster.soft == {"edition", "remaster"} and not original.soft
    assert original.full != remaster.full


def test_a_title_made_only_of_a_descriptor_keeps_its_words() -> None:
    assert title_key("(Live)").base == "live"


def test_artist_keys() -> None:
    assert artist_keys("The Pilots") == ("pilots", frozenset({"pilots"}))
    assert artist_keys("Pilots, The")[0] == "pilots"
    main, names = artist_keys("Die Brücken ft. James Hart")
    assert main == "die brucken" and names == {"die brucken", "james hart"}
    main, names = artist_keys("Theo Holloway & the Comets")
    assert main == "theo holloway and the comets"
    assert {"theo holloway", "comets"} <= names
    assert artist_keys("Theo Holloway and the Comets")[0] == main


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("c:\\Users\\me\\Music\\a.mp3", "C:/Users/me/Music/a.mp3"),
        ("/data//music/", "/data/music"),
        ("\\\\nas\\music\\a.flac", "//nas/music/a.flac"),
        (unicodedata.normalize("NFD", "/Users/me/Sängerin.m4a"), "/Users/me/Sängerin.m4a"),
        ("/data/music/a.flac", "/data/music/a.flac"),
    ],
)
def test_normalize_path(raw: str, normal: str) -> None:
    assert normalize_path(raw) == normal


def test_which_paths_ignore_case() -> None:
    assert is_case_insensitive_path("C:/Music/a.mp3")
    assert is_case_insensitive_path("//nas/music/a.mp3")
    assert is_case_insensitive_path("/Users/me/Music/a.mp3")
    assert is_case_insensitive_path("/Volumes/Music/a.mp3")
    assert not is_case_insensitive_path("/home/me/music/a.mp3")
    assert not is_case_insensitive_path("/data/music/a.mp3")
