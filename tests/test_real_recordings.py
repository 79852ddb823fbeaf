"""`barbell replay`'s rep counts on real bars (tests/data/real: 37 sets, 370 reps, labelled).

The issue asks for 95 % of sets exact and ghost reps under 1 % of the true reps; the analysis
is not there yet (docs/accuracy.md has the figures, `../shared/tools/score-real` prints them).
These floors sit a little under what it does today, so that a change that loses real reps
fails here even when the simulator is happy. Raise them as the analysis gets better.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from barbell.replay import replay_file
from contract.messages import encode

CORPUS = Path(__file__).parent / "data" / "real"
LABELS: dict[str, dict[str, object]] = json.loads((CORPUS / "labels.json").read_text())

LEAST_EXACT_SETS = 25  # of 37
LEAST_REPS_FOUND = 350  # of 370, counting at most the true number in each set
MOST_GHOST_REPS = 5


@pytest.fixture(scope="module")
def counts() -> dict[str, tuple[int, int]]:
    """Each set's (true, found) rep counts, replayed as `barbell replay` does."""
    return {
        name: (int(str(label["reps"])), replay_file(path(name), str(label["lift"])).reps)
        for name, label in sorted(LABELS.items())
    }


def path(name: str) -> Path:
    return CORPUS / f"{name}.csv"


def test_the_corpus_is_all_here() -> None:
    assert len(LABELS) == 37
    assert sum(int(str(label["reps"])) for label in LABELS.values()) == 370
    assert all(path(name).is_file() for name in LABELS)


def test_most_real_sets_are_counted_exactly(counts: dict[str, tuple[int, int]]) -> None:
    exact = [name for name, (true, found) in counts.items() if true == found]
    assert len(exact) >= LEAST_EXACT_SETS


def test_real_reps_are_found_and_few_are_made_up(counts: dict[str, tuple[int, int]]) -> None:
    found = sum(min(true, n) for true, n in counts.values())
    ghosts = sum(max(0, n - true) for true, n in counts.values())
    assert found >= LEAST_REPS_FOUND
    assert ghosts <= MOST_GHOST_REPS


def test_every_lift_in_the_corpus_finds_reps(counts: dict[str, tuple[int, int]]) -> None:
    """No kind of lift is lost whole, as all were before (curls, deadlifts, RDLs, rows, presses,
    squats): each finds at least half its reps."""
    by_kind: dict[str, list[tuple[int, int]]] = {}
    for name, pair in counts.items():
        by_kind.setdefault(name.split("__")[0], []).append(pair)
    for kind, pairs in by_kind.items():
        true = sum(t for t, _ in pairs)
        found = sum(min(t, n) for t, n in pairs)
        assert found >= true / 2, kind


@pytest.mark.parametrize("name", sorted(LABELS))
def test_a_real_set_gives_the_same_messages_however_its_rows_are_chunked(name: str) -> None:
    """As the station's 50 ms drains at 1 kHz bring them, or as replay reads a file: real bars
    (bursty stamps, holes, stalls held back) are where a decision taken at a chunk's end, or a
    sum split across two chunks, would show."""
    lift = str(LABELS[name]["lift"])
    drained = replay_file(path(name), lift, chunk_rows=50).messages
    read = replay_file(path(name), lift).messages
    assert [encode(m) for m in drained] == [encode(m) for m in read]
