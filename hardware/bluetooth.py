"""Rows as a Bluetooth Low Energy link delivers them: in packets, stamped on arrival.

The real corpus (../shared/data/real/README.md) came over such a link: rows a few ms apart in
clumps, then gaps of 20–30 ms, irregular steps, holes of a few hundred ms, repeated rows. The
sensor samples on its own clock; at each connection event the samples taken since the last one
go out in one packet; the host stamps each row as it parses it, so a row's `t` is when it
arrived, not when it was measured. Figures are drawn per recording from the ranges below
(docs/simulator.md).
"""

from __future__ import annotations

from dataclasses import replace

import msgspec
import numpy as np

from contract.recording import Chunk

CONNECTION_INTERVAL_S = (0.015, 0.045)  # BLE allows 7.5 ms–4 s; phones pick 15–50 ms
LATENCY_S = (0.005, 0.03)  # from the connection event to the host's parser
LATENCY_JITTER_S = (0.002, 0.01)  # exponential, per packet
RETRY_RATE = (0.0, 0.08)  # packets resent at a later event (the ones behind queue up)
LOSS_RATE = (0.0, 0.02)  # packets lost on their own
HOLES_PER_S = (0.01, 0.06)  # stretches of interference that lose every packet
HOLE_S = (0.05, 0.5)
ROW_SPACING_S = (0.0025, 0.0045)  # the host parsing one row after another
STALE_RATE = (0.0, 0.35)  # rows that repeat the previous row's values (sent before new data)
DUPLICATE_RATE = (0.0, 0.03)  # rows logged twice: same stamp, same values
TICKS_PER_S = 10_000  # the host's stamp resolution: 0.1 ms


class LinkTruth(msgspec.Struct, kw_only=True, frozen=True):
    """What the link did to a recording; stamps trail the true times by about `latency_s`."""

    connection_interval_s: float
    latency_s: float  # median of a row's arrival stamp minus its true sample time
    lost_packets: int
    holes: int
    stale_rows: int
    duplicate_rows: int
    longest_gap_s: float  # the longest step between stamps


def deliver(samples: Chunk, rng: np.random.Generator) -> tuple[Chunk, LinkTruth]:
    """The rows a host logs from `samples` (true sample times in `t`), stamped on arrival."""
    interval = float(rng.uniform(*CONNECTION_INTERVAL_S))
    packet = np.floor(samples.t / interval).astype(int)  # sent at the next connection event
    packets, packet_of_row = np.unique(packet, return_inverse=True)
    sent = (packets + 1) * interval
    delay = rng.uniform(*LATENCY_S) + rng.exponential(rng.uniform(*LATENCY_JITTER_S), sent.size)
    retried = rng.random(sent.size) < rng.uniform(*RETRY_RATE)
    delay += retried * interval * rng.integers(1, 5, sent.size)
    arrival = np.maximum.accumulate(sent + delay)  # in order: a late packet holds up the rest
    in_holes, holes = _in_holes(arrival, rng)
    lost = (rng.random(sent.size) < rng.uniform(*LOSS_RATE)) | in_holes
    # The host parses rows one after another, faster when packets are full, and stamps each.
    spacing = min(
        float(rng.uniform(*ROW_SPACING_S)), 0.5 * interval / np.bincount(packet_of_row).max()
    )
    rows = np.flatnonzero(~lost[packet_of_row])
    stamps = _stamped(arrival[packet_of_row[rows]], spacing)
    stale = rng.random(rows.size) < rng.uniform(*STALE_RATE)
    stale[:1] = False  # the first row has no row before it to repeat
    values = rows[np.maximum.accumulate(np.where(stale, 0, np.arange(rows.size)))]
    repeats = 1 + (rng.random(rows.size) < rng.uniform(*DUPLICATE_RATE))
    delivered = replace(samples[np.repeat(values, repeats)], t=np.repeat(stamps, repeats))
    truth = LinkTruth(
        connection_interval_s=interval,
        latency_s=float(np.median(stamps - samples.t[rows])),
        lost_packets=int(lost.sum()),
        holes=holes,
        stale_rows=int(stale.sum()),
        duplicate_rows=int((repeats - 1).sum()),
        longest_gap_s=float(np.diff(stamps).max(initial=0.0)),
    )
    return delivered, truth


def _in_holes(arrival: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Packets that arrive in a stretch of interference, which loses all of them; the count
    of such stretches."""
    duration = float(arrival[-1])
    count = int(rng.poisson(duration * rng.uniform(*HOLES_PER_S)))
    starts = rng.uniform(0, duration, count)
    ends = starts + rng.uniform(*HOLE_S, count)
    inside = (arrival[:, None] >= starts) & (arrival[:, None] < ends)
    return np.any(inside, axis=1), count


def _stamped(arrival: np.ndarray, spacing_s: float) -> np.ndarray:
    """Each row's stamp: when its packet arrived, or when the host was done with the row before,
    at the host's resolution and always at least one tick after the row before."""
    steps = np.arange(arrival.size)
    parsed = np.maximum.accumulate(arrival - steps * spacing_s) + steps * spacing_s
    ticks = np.round(parsed * TICKS_PER_S)
    return (np.maximum.accumulate(ticks - steps) + steps) / TICKS_PER_S
