"""The bases on either side of a junction, and how read bases are compared with them.

* the reference bases an end keeps (:func:`inward_bases`), those just past it
  (:func:`beyond_bases`) and those that follow it in the fused molecule
  (:func:`partner_outward`, the other end's bases in the first end's direction,
  :func:`in_frame_of`);
* the consensus of read bases (:func:`consensus_of`) and their identity with a sequence
  (:func:`identity`);
* junction probes: the exact strings across a junction (:func:`junction_probes`) and the
  reads that contain one (:func:`reads_spanning`).

Shared by :mod:`imtfusion.calling` (junctions from split reads), :mod:`imtfusion.rescue`
(clipped and unmapped reads placed on a partner) and :mod:`imtfusion.features`.
"""

from __future__ import annotations

import operator
from itertools import zip_longest
from typing import Iterable

from imtfusion.evidence import complement
from imtfusion.model import Breakend, UnmappedMate
from imtfusion.reference import Reference


def inward_bases(ref: Reference, end: Breakend, n: int) -> str:
    """Reference bases retained at ``end``, adjacent base first."""
    if end.side == "L":
        return ref.fetch(end.chrom, end.pos - n + 1, end.pos + 1)[::-1]
    return ref.fetch(end.chrom, end.pos, end.pos + n)


def beyond_bases(ref: Reference, end: Breakend, n: int) -> str:
    """Reference bases just past ``end`` (not retained), adjacent base first."""
    if end.side == "L":
        return ref.fetch(end.chrom, end.pos + 1, end.pos + 1 + n)
    return ref.fetch(end.chrom, end.pos - n, end.pos)[::-1]


def in_frame_of(first: Breakend, second: Breakend, seq: str) -> str:
    """``second``'s bases as they continue ``first``'s outward direction."""
    return complement(seq) if first.side == second.side else seq


def partner_outward(ref: Reference, end: Breakend, other: Breakend, n: int) -> str:
    """The bases that follow ``end`` in the fused molecule (those of ``other``)."""
    return in_frame_of(end, other, inward_bases(ref, other, n))


def consensus_of(strings: list[str], limit: int = 60) -> str:
    """The most common base of each column (ties: the first in alphabetical order), over
    the first ``limit`` columns; shorter strings vote only in the columns they reach."""
    strings = [s[:limit] for s in strings if s]
    if not strings:
        return ""
    out = []
    for column in zip_longest(*strings):  # columns built in C; None beyond a short string
        # a column holds few distinct bases: counting each with tuple.count (in C) beats a Counter
        bases = set(column)
        bases.discard(None)
        out.append(min(bases, key=lambda b: (-column.count(b), b)) if len(bases) > 1 else bases.pop())
    return "".join(out)


def identity(x: str, y: str) -> tuple[int, float]:
    """(bases compared, the fraction of them that are equal): the shorter string's
    length from the start; an ``N`` is never equal."""
    n = min(len(x), len(y))
    if n == 0:
        return 0, 0.0
    x, y = x[:n], y[:n]
    same = sum(map(operator.eq, x, y))  # pairs compared in C
    if "N" in x:
        same -= sum(1 for a, b in zip(x, y) if a == b == "N")
    return n, same / n


PROBE = 30  # length of the junction-spanning sequence looked for in unmapped reads
PROBE_MIN_SIDE = 10  # bases it must have on each side of the junction


def junction_probes(left: str, right: str) -> list[str]:
    """Exact strings that cross the junction between ``left`` and ``right`` with at
    least ``PROBE_MIN_SIDE`` bases on either side."""
    probes = []
    for o in range(PROBE_MIN_SIDE, PROBE - PROBE_MIN_SIDE + 1):
        if len(left) >= o and len(right) >= PROBE - o:
            probes.append((left[-o:] + right[: PROBE - o]).upper())
    return probes


def reads_spanning(probes: list[str], reads: Iterable[UnmappedMate]) -> set[str]:
    """Fragments of the reads that contain one of the probes, on either strand."""
    if not probes:
        return set()
    found = set()
    for read in reads:
        seq = read.sequence.upper()
        rc = seq.translate(_RC)[::-1]
        if any(p in seq or p in rc for p in probes):
            found.add(read.fragment)
    return found


_RC = str.maketrans("ACGTN", "TGCAN")
