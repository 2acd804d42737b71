"""Read a playlist dataset in the Cornell "yes" layout (song_hash.txt, tags.txt, tag_hash.txt, playlist files)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plexm8.recommend.data import TrackInfo

__all__ = ["PlaylistDataset", "read_dataset", "read_playlists"]


@dataclass(frozen=True, slots=True)
class PlaylistDataset:
    """The catalogue of a playlist dataset: one :class:`TrackInfo` per song id (key = song id), tags as genres."""

    tracks: tuple[TrackInfo, ...]
    tag_names: tuple[str, ...]


def read_dataset(folder: Path) -> PlaylistDataset:
    """Read ``song_hash.txt``, ``tags.txt`` and ``tag_hash.txt`` from ``folder``; raises ``ValueError`` if malformed."""
    tag_names = _read_tag_names(folder / "tag_hash.txt")
    songs = _read_lines(folder / "song_hash.txt")
    tag_lines = _read_lines(folder / "tags.txt")
    tracks: list[TrackInfo] = []
    for number, line in enumerate(songs, start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            raise ValueError(f"song_hash.txt line {number}: expected 'id<TAB>title<TAB>artist'")
        try:
            key = int(parts[0])
        except ValueError:
            raise ValueError(f"song_hash.txt line {number}: the id {parts[0]!r} is not a number") from None
        if key != len(tracks):
            raise ValueError(f"song_hash.txt line {number}: expected id {len(tracks)}, found {key}")
        genres: tuple[str, ...] = ()
        if key < len(tag_lines) and tag_lines[key].strip() not in ("", "#"):
            try:
                genres = tuple(tag_names[int(t)] for t in tag_lines[key].split())
            except (ValueError, KeyError):
                raise ValueError(f"tags.txt line {key + 1}: unknown tag id in {tag_lines[key]!r}") from None
        title = parts[1].replace("\\/", "/")
        tracks.append(TrackInfo(key=key, title=title, artist=parts[2].replace("\\/", "/"), genres=genres))
    if not tracks:
        raise ValueError(f"{folder / 'song_hash.txt'} lists no songs")
    ordered = tuple(tag_names[i] for i in sorted(tag_names))
    return PlaylistDataset(tracks=tuple(tracks), tag_names=ordered)


def read_playlists(path: Path, *, songs: int) -> list[list[int]]:
    """One playlist per non-empty line (song ids in play order); raises ``ValueError`` for an id outside 0..songs-1."""
    playlists: list[list[int]] = []
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            ids = [int(t) for t in line.split()]
        except ValueError:
            raise ValueError(f"{path.name} line {number}: song ids must be whole numbers") from None
        bad = next((i for i in ids if not 0 <= i < songs), None)
        if bad is not None:
            raise ValueError(f"{path.name} line {number}: song id {bad} is not in song_hash.txt")
        playlists.append(ids)
    return playlists


def _read_tag_names(path: Path) -> dict[int, str]:
    names: dict[int, str] = {}
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        number_text, sep, name = line.partition(",")
        try:
            if not sep:
                raise ValueError
            names[int(number_text)] = name.strip()
        except ValueError:
            raise ValueError(f"tag_hash.txt line {number}: expected 'id, tagname'") from None
    return names


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
