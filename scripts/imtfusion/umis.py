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
    """Fragments that repeat a molecule of an earlier fragment (in name order): one of
    their position signatures, with the same UMI family (any UMI when ``use_umis`` is
    False, as for a library without UMIs)."""
    keys = {f: {k for k in ks if k} for f, ks in dup_keys.items()}
    if use_umis:
        # UMI counts per position signature, each fragment counted once there
        counts: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for f in sorted(keys):
            for pos, umi in {(k[:-1], k[-1]) for k in keys[f]}:
                counts[pos][umi] += 1
        reps = {pos: directional(c, mismatches) for pos, c in counts.items()}
        canonical = {f: {(k[:-1], reps[k[:-1]][k[-1]]) for k in ks} for f, ks in keys.items()}
    else:
        canonical = {f: {k[:-1] for k in ks} for f, ks in keys.items()}
    seen: set = set()
    dups = 0
    for f in sorted(canonical):
        mine = canonical[f]
        if mine and mine & seen:
            dups += 1
        seen |= mine
    return dups


def has_umis(dup_keys: Mapping[str, set[tuple]]) -> bool:
    """Whether any of the fragments carries a UMI."""
    return any(k and k[-1] for ks in dup_keys.values() for k in ks)
