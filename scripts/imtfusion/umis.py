"""Molecules from fragments: PCR duplicates told apart by position and UMI.

A fragment's duplicate keys (:func:`imtfusion.evidence.dup_key`, one per record) are a
position signature followed by the fragment's UMI ("" without one). Two fragments are
one molecule when they share a position signature and their UMIs are the same or, at
``mismatches`` bases apart, one of them is a sequencing or PCR error of the other: the
*directional* rule of umi-tools (Smith et al., Genome Research 2017), under which UMI
``a`` absorbs UMI ``b`` when ``count(a) >= 2 * count(b) - 1``. Molecule ids from an
``MI`` tag are already grouped and match only exactly.

The umi-tools package itself is not used: its source distribution does not build here
(its setup downloads an old setuptools), and the rule needs a few lines.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping

UNPLACED = (-1, -1, False, -1, -1)  # the position part of the duplicate key of a read without a position


def _hamming_within(a: str, b: str, limit: int) -> bool:
    if len(a) != len(b):
        return False
    d = 0
    for x, y in zip(a, b):
        if x != y:
            d += 1
            if d > limit:
                return False
    return True


def directional(counts: Mapping[str, int], mismatches: int = 1) -> dict[str, str]:
    """Each UMI's representative: UMIs are taken by falling count (then alphabetically),
    and each one not yet absorbed absorbs, transitively, the UMIs within ``mismatches``
    whose count is at most half (rounded up) of the absorbing one's."""
    order = sorted(counts, key=lambda u: (-counts[u], u))
    rep: dict[str, str] = {}
    for root in order:
        if root in rep:
            continue
        rep[root] = root
        if mismatches <= 0 or root.startswith("MI:"):
            continue
        stack = [root]
        while stack:
            a = stack.pop()
            for b in order:
                if b in rep or b.startswith("MI:"):
                    continue
                if counts[a] >= 2 * counts[b] - 1 and _hamming_within(a, b, mismatches):
                    rep[b] = root
                    stack.append(b)
    return rep


def count_duplicates(dup_keys: Mapping[str, set[tuple]], use_umis: bool = True, mismatches: int = 1) -> int:
    """Fragments that repeat a molecule of another fragment: fragments minus molecules.

    Without UMIs (or with ``use_umis`` False) a fragment repeats an earlier one (in name
    order) that shares one of its position signatures (a record's unclipped 5' end and
    its mate's start), as Picard counts duplicates.

    With UMIs, two fragments are one molecule when they share a place and their UMIs are
    one family there (the directional rule): a position signature, or a single coordinate,
    a record's 5' end or a mate's start (the aligner wrote one copy's junction read as the
    partner's record and another copy's as the target's, and a copy's misread UMI must
    still join its family there). umi-tools groups by a read's start in the same way; at
    a coordinate that many molecules share (anchored multiplex PCR starts every molecule's
    primer read at one position) two of them are joined only when their UMIs are within
    ``mismatches`` and one has at most half the other's fragments. A fragment whose reads
    have no position (an unmapped copy) is a molecule already counted when its UMI is
    within ``mismatches`` of another fragment's: one junction's molecules rarely share a
    UMI by chance."""
    keys = {f: {k for k in ks if k} for f, ks in dup_keys.items()}
    if not use_umis or not has_umis(keys):
        seen: set = set()
        dups = 0
        for f in sorted(keys):
            mine = {k[:-1] for k in keys[f]}
            if mine and mine & seen:
                dups += 1
            seen |= mine
        return dups
    unplaced: dict[str, str] = {}
    for f, ks in list(keys.items()):
        placed = {k for k in ks if k[0] >= 0}
        if not placed and ks:
            unplaced[f] = sorted(k[-1] for k in ks)[0]
        keys[f] = placed
    placed_fragments = sorted(f for f in keys if keys[f])

    def places(ks: set[tuple]) -> set[tuple[tuple, str]]:
        """(place, UMI) of a fragment's keys: its position signatures, and with a UMI a
        record's 5' end and a mate's start alone, one kind of place (a forward record's
        5' end is where a record of its mate says the mate starts)."""
        out = {(k[:-1], k[-1]) for k in ks}
        out |= {(("at", k[0], k[1]), k[-1]) for k in ks if k[-1]}
        out |= {(("at", k[3], k[4]), k[-1]) for k in ks if k[3] >= 0 and k[-1]}
        return out

    # UMI counts per place, each fragment counted once there; UMI families by the
    # directional rule at each place, as umi-tools groups the reads starting at a position
    counts: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    where = {f: places(keys[f]) for f in placed_fragments}
    for f in placed_fragments:
        for place, umi in where[f]:
            counts[place][umi] += 1
    reps = {place: directional(c, mismatches) for place, c in counts.items()}
    parent = {f: f for f in placed_fragments}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(x: str, y: str) -> None:
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)

    first: dict[tuple, str] = {}
    for f in placed_fragments:
        for link in {(place, reps[place][umi]) for place, umi in where[f]}:
            if link in first:
                union(f, first[link])
            else:
                first[link] = f
    molecules = len({find(f) for f in placed_fragments})
    # position-less fragments: by UMI alone, against every other fragment's UMIs
    known = sorted({k[-1] for f in placed_fragments for k in keys[f]})
    for f in sorted(unplaced):
        umi = unplaced[f]
        if umi and any(_hamming_within(umi, other, max(0, mismatches)) for other in known
                       if not (umi.startswith("MI:") or other.startswith("MI:")) or umi == other):
            continue
        molecules += 1
        known.append(umi)
    without_keys = sum(1 for f in keys if not keys[f] and f not in unplaced)
    return len(keys) - molecules - without_keys


def has_umis(dup_keys: Mapping[str, set[tuple]]) -> bool:
    """Whether any of the fragments carries a UMI."""
    return any(k and k[-1] for ks in dup_keys.values() for k in ks)


START_SITE_WINDOW = 200_000  # bases around the partner breakpoint where a fragment's read positions count


def start_sites(dup_keys: Mapping[str, set[tuple]], chrom_id: int, pos: int, window: int = START_SITE_WINDOW,
                target: tuple[int, int] | None = None) -> int:
    """Distinct places the supporting fragments were read from on the partner side: the
    records' 5' ends and mate starts (reference id ``chrom_id``) within ``window`` of the
    partner breakpoint ``pos``. Anchored multiplex PCR reads the target side of every
    molecule from a primer, so its partner-side read starts tell molecules apart; a PCR
    artefact (one molecule amplified, a mispriming at one place) has one or two.

    ``target`` is the target-side breakpoint (reference id, position): when it lies on the
    partner's chromosome within reach, a read start counts only where it is nearer the
    partner's breakpoint than the target's, so the target-side starts of the same fragments
    (the primer side) are not counted a second time."""
    near_target = target is not None and target[0] == chrom_id and abs(target[1] - pos) <= 2 * window

    def partner_side(ref: int, start: int) -> bool:
        if ref != chrom_id or abs(start - pos) > window:
            return False
        return not near_target or abs(start - pos) < abs(start - target[1])

    sites = set()
    for ks in dup_keys.values():
        for k in ks:
            if not k:
                continue
            if partner_side(k[0], k[1]):
                sites.add(k[1])
            if partner_side(k[3], k[4]):
                sites.add(k[4])
    return len(sites)
