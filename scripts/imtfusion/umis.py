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

import re
from collections import defaultdict
from typing import Mapping

import numpy as np

UNPLACED = (-1, -1, False, -1, -1)  # the position part of the duplicate key of a read without a position
# the same for a read whose position is the aligner's pick among copies (a gene and its
# pseudogene: imtfusion.features.molecule_keys): its UMI alone tells its molecule, exactly
COPY_PLACED = (-2, -1, False, -1, -1)


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
    UMI by chance. A fragment placed only on copies (``COPY_PLACED``: its positions the
    aligner's pick among a gene and its pseudogene) is one already counted only when its
    UMI equals another fragment's exactly: such fragments come at any depth, and at a
    thousand molecules most UMIs lie within one mismatch of one of them."""
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
    on_copies: set[str] = set()  # of those, the fragments placed only on copies
    for f, ks in list(keys.items()):
        placed = {k for k in ks if k[0] >= 0}
        if not placed and ks:
            unplaced[f] = sorted(k[-1] for k in ks)[0]
            if all(k[0] == COPY_PLACED[0] for k in ks):
                on_copies.add(f)
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
    _join_one_ended(placed_fragments, keys, find, union)
    molecules = len({find(f) for f in placed_fragments})
    # position-less fragments: by UMI alone. Their UMIs form families among themselves
    # first (the directional rule: a copy's misread UMI, and a misread of that misread,
    # stay with their molecule), and a family is a molecule of its own unless one of its
    # UMIs is within ``mismatches`` of a placed fragment's
    known = sorted({k[-1] for f in placed_fragments for k in keys[f]})
    known_set = set(known)
    # a UMI every position-less fragment of which lies on copies is matched exactly
    exact = {umi for umi in unplaced.values()} - {umi for f, umi in unplaced.items() if f not in on_copies}

    def counted(umi: str) -> bool:
        if umi in exact:
            return umi in known_set
        return any(_hamming_within(umi, other, max(0, mismatches)) for other in known
                   if not (umi.startswith("MI:") or other.startswith("MI:")) or umi == other)

    families: dict[str, list[str]] = defaultdict(list)
    umi_counts: dict[str, int] = defaultdict(int)
    for umi in unplaced.values():
        if umi:
            umi_counts[umi] += 1
    for umi, rep in directional(umi_counts, mismatches).items():
        families[rep].append(umi)
    molecules += sum(1 for members in families.values() if not any(counted(u) for u in members))
    molecules += sum(1 for umi in unplaced.values() if not umi)
    without_keys = sum(1 for f in keys if not keys[f] and f not in unplaced)
    return len(keys) - molecules - without_keys


def _join_one_ended(fragments: list[str], keys: Mapping[str, set[tuple]], find, union) -> None:  # type: ignore[no-untyped-def]
    """Join molecules of one-ended fragments (no key knows a mate: the BAM lost the
    pairing, or the mate is unmapped) that carry the same UMI exactly and were read from
    different ends: one PCR copy seen through its target-side read, another through its
    partner-side read, share no place, yet are one molecule. Read from the same end
    (a record on the same contig and strand) at different positions they are two. Every
    member of a molecule is compared, so a molecule never takes in a fragment that
    conflicts with one of its members."""
    one_ended: dict[str, list[str]] = defaultdict(list)
    for f in fragments:
        ks = keys[f]
        umi = next(iter(ks))[-1]
        if umi and not umi.startswith("MI:") and all(k[3] < 0 and k[-1] == umi for k in ks):
            one_ended[umi].append(f)

    def ends(f: str) -> dict[tuple, set[int]]:
        out: dict[tuple, set[int]] = defaultdict(set)
        for k in keys[f]:
            out[(k[0], k[2])].add(k[1])
        return out

    for umi in sorted(one_ended):
        group = one_ended[umi]
        if len(group) < 2:
            continue
        members: dict[str, dict[tuple, set[int]]] = {}  # molecule root -> its members' ends
        for f in group:
            root = find(f)
            mine = members.setdefault(root, defaultdict(set))
            for end, positions in ends(f).items():
                mine[end] |= positions
        roots = sorted(members)
        for i, a in enumerate(roots):
            for b in roots[i + 1:]:
                ra, rb = find(a), find(b)
                if ra == rb:
                    continue
                ea, eb = members[ra], members[rb]
                if any(ea[end] != eb[end] for end in ea.keys() & eb.keys()):
                    continue  # read from one end at other positions: other molecules
                union(ra, rb)
                joined = find(ra)
                other = rb if joined == ra else ra
                for end, positions in members.pop(other).items():
                    members[joined].setdefault(end, set()).update(positions)


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


# --------------------------------------------------------------------------
# molecules of a whole locus (sample QC): every fragment's first read, in bulk
# --------------------------------------------------------------------------

#: a read-name UMI (umi-tools' ``READ_ACGTACGT``, bcl-convert's ``READ:...:ACGTACGT``, a duplex ``+`` pair)
NAME_UMI = re.compile(r"[_:]([ACGTN]{5,}(?:[+-][ACGTN]{5,})?)$")
UMI_WIDTH = 24  # bytes kept of a UMI (a duplex UMI of 2 x 11 bases and its separator fit)
_UMI_BASES = np.zeros(256, dtype=bool)
_UMI_BASES[list(b"ACGTN")] = True
_FIXED_BYTES = 36  # a BAM record's block_size and its 32 bytes of fixed fields


def umi_source(read) -> str | None:  # type: ignore[no-untyped-def]
    """Where the reads of a BAM carry their UMI, judged by one record (:func:`imtfusion.evidence.umi_of`'s
    order): ``MI`` or ``RX`` (tags), ``name`` (a read-name suffix), or None."""
    if read.has_tag("MI"):
        return "MI"
    if read.has_tag("RX"):
        return "RX"
    return "name" if NAME_UMI.search(read.query_name or "") else None


def umi_bytes(value: str) -> bytes:
    """A UMI as :func:`batch_umis` keeps it (upper case, a duplex UMI's halves joined, at
    most ``UMI_WIDTH`` bytes)."""
    return value.upper().replace("-", "").replace("+", "").encode()[:UMI_WIDTH]


def batch_umis(batch, records: np.ndarray, source: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The UMI of each of ``records`` (indexes into a :class:`imtfusion.scan.RecordBatch`)
    as fixed-width bytes (``S24``; b"" without one): from the read name's suffix after its
    last ``_`` or ``:`` (``name``, only when the suffix is all bases), else from the
    ``RX`` or ``MI`` tag, read from each record's bytes (``MI`` kept as ``MI:<id>``)."""
    records = np.asarray(records, dtype=np.int64)
    out = np.zeros(len(records), dtype=f"S{UMI_WIDTH}")
    if not len(records):
        return out
    data = batch.data
    fixed = batch.fixed
    offsets = batch.offsets[records]
    l_qname = fixed["l_qname"][records].astype(np.int64)
    if source == "name":
        a = np.frombuffer(data, dtype=np.uint8)
        width = UMI_WIDTH + 1
        end = offsets + _FIXED_BYTES + l_qname - 1  # the name's NUL
        # the last `width` bytes of each name (bytes before a shorter name belong to the
        # fixed fields: a record's name follows 36 of them, so they are in the buffer)
        window = a[(end - width)[:, None] + np.arange(width)[None, :]]
        length = l_qname - 1
        window[np.arange(width)[None, :] < (width - length)[:, None]] = 0
        separator = (window == ord("_")) | (window == ord(":"))
        has = separator.any(axis=1)
        last = width - 1 - np.argmax(separator[:, ::-1], axis=1)  # the last separator
        window[np.arange(width)[None, :] <= last[:, None]] = 0
        window[~has] = 0
        duplex = (window == ord("+")) | (window == ord("-"))
        keep = (window != 0) & ~duplex
        good = has & keep.any(axis=1) & np.all(_UMI_BASES[window] | ~keep, axis=1)
        # the suffix, moved to the front of each row (a duplex UMI's separator taken out)
        rows = np.flatnonzero(good & ~duplex.any(axis=1))
        at = (last[rows] + 1)[:, None] + np.arange(UMI_WIDTH)[None, :]
        moved = np.where(at < width, window[rows[:, None], np.minimum(at, width - 1)], 0).astype(np.uint8)
        out[rows] = np.ascontiguousarray(moved).view(f"S{UMI_WIDTH}").reshape(-1)
        for i in np.flatnonzero(good & duplex.any(axis=1)).tolist():
            out[i] = window[i][keep[i]].tobytes()
        return out
    tag = source.encode() + b"Z"
    n_cigar = fixed["n_cigar"][records].astype(np.int64)
    l_seq = fixed["l_seq"][records].astype(np.int64)
    aux = offsets + _FIXED_BYTES + l_qname + 4 * n_cigar + (l_seq + 1) // 2 + l_seq
    ends = offsets + 4 + fixed["block_size"][records].astype(np.int64)
    raw = bytes(data) if not isinstance(data, bytes) else data
    for i, (s, e) in enumerate(zip(aux.tolist(), ends.tolist())):
        at = _find_tag(raw, tag, s, e)
        if at >= 0:
            value = raw[at + 3:raw.index(b"\x00", at + 3)]
            out[i] = (b"MI:" + value if source == "MI" else value.upper().replace(b"-", b"").replace(b"+", b""))[:UMI_WIDTH]
    return out


_AUX_SIZES = {ord(c): n for c, n in (("A", 1), ("c", 1), ("C", 1), ("s", 2), ("S", 2), ("i", 4), ("I", 4), ("f", 4))}


def _find_tag(raw: bytes, tag: bytes, start: int, end: int) -> int:
    """Where the aux field ``tag`` (two letters and type ``Z``) starts in a record's aux
    bytes ``raw[start:end]``, walking the fields (a value may hold the same letters); -1."""
    p = start
    while p + 3 <= end:
        kind = raw[p + 2]
        if raw[p:p + 3] == tag:
            return p
        if kind in _AUX_SIZES:
            p += 3 + _AUX_SIZES[kind]
        elif kind in (ord("Z"), ord("H")):
            p = raw.index(b"\x00", p + 3) + 1
        elif kind == ord("B"):
            sub, count = raw[p + 3], int.from_bytes(raw[p + 4:p + 8], "little")
            p += 8 + count * _AUX_SIZES.get(sub, 1)
        else:
            return -1
    return -1


#: fragments of one UMI family whose start and mate start are this close are one molecule:
#: a copy's read whose first bases the aligner clipped (a sequencing error there) starts a
#: few bases on (two molecules sharing a UMI so near each other are rare: 4^8 UMIs)
NEAR_START = 3


_HASH_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F))


def _umi_hashes(umis: np.ndarray) -> np.ndarray:
    """One uint64 per UMI (``S24``): its first 8 bytes exactly, the rest mixed in (an
    8-base UMI is its own key)."""
    words = np.ascontiguousarray(umis).view("<u8").reshape(len(umis), UMI_WIDTH // 8)
    return words[:, 0] ^ (words[:, 1] * _HASH_MIX[0]) ^ (words[:, 2] * _HASH_MIX[1])


def molecules_at_starts(starts: np.ndarray, umis: np.ndarray, mismatches: int = 1,
                        near: int = NEAR_START) -> int:
    """Molecules among fragments given by their start keys (position, mate position or
    end, strand: :func:`imtfusion.evidence.start_key`) and UMIs. At each start key the
    UMIs form families by the directional rule (:func:`directional`), as umi-tools groups
    reads starting together; then families on one strand whose starts and mate starts are
    within ``near`` bases and whose UMIs are within ``mismatches`` are one molecule (a copy
    whose read the aligner clipped by a base or two, its UMI misread or not)."""
    if not len(starts):
        return 0
    starts = np.asarray(starts, dtype=np.uint64)
    umis = np.ascontiguousarray(np.asarray(umis, dtype=f"S{UMI_WIDTH}"))
    hashes = _umi_hashes(umis)
    order = np.lexsort((hashes, starts))
    starts, hashes, umis = starts[order], hashes[order], umis[order]
    new = np.ones(len(starts), dtype=bool)
    new[1:] = (starts[1:] != starts[:-1]) | (hashes[1:] != hashes[:-1])
    first = np.flatnonzero(new)  # each distinct (start, UMI)
    counts = np.diff(np.append(first, len(starts)))
    key, found, hashed = starts[first], umis[first], hashes[first]
    group = np.ones(len(first), dtype=bool)
    group[1:] = key[1:] != key[:-1]
    group_starts = np.flatnonzero(group)
    sizes = np.diff(np.append(group_starts, len(first)))
    rep, rep_hash = found.copy(), hashed.copy()
    # directional() changes a start's UMIs only where two of them lie within `mismatches`:
    # those starts are found in numpy first (random UMIs at a busy start rarely are)
    width = np.ascontiguousarray(found).view(np.uint8).reshape(len(found), UMI_WIDTH)
    needs = np.zeros(len(group_starts), dtype=bool)
    if mismatches > 0:
        group_of = np.cumsum(group) - 1
        for d in range(1, int(sizes.max()) if len(sizes) else 1):
            same = group_of[d:] == group_of[:-d]
            if not same.any():
                break
            same[same] &= (width[d:][same] != width[:-d][same]).sum(axis=1) <= mismatches
            needs[group_of[d:][same]] = True
    for g in np.flatnonzero(needs).tolist():
        s, n = int(group_starts[g]), int(sizes[g])
        names = [u.decode() for u in found[s:s + n].tolist()]
        family = directional(dict(zip(names, counts[s:s + n].tolist())), mismatches)
        index = {u: s + k for k, u in enumerate(names)}
        for k, u in enumerate(names):
            rep[s + k], rep_hash[s + k] = found[index[family[u]]], hashed[index[family[u]]]
    # the families: distinct (strand, start, mate start, representative UMI)
    reverse, pos = key & np.uint64(1), key >> np.uint64(32)
    other = (key >> np.uint64(1)) & np.uint64(0x7FFFFFFF)
    # by strand, start, mate start (one word: a start key holds pos < 2^32, other < 2^31), then UMI
    order = np.lexsort((rep_hash, (reverse << np.uint64(63)) | (pos << np.uint64(31)) | other))
    reverse, pos, other, rep, rep_hash = reverse[order], pos[order], other[order], rep[order], rep_hash[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = ((reverse[1:] != reverse[:-1]) | (pos[1:] != pos[:-1]) | (other[1:] != other[:-1])
               | (rep_hash[1:] != rep_hash[:-1]))
    keep = np.flatnonzero(new)
    clusters = np.rec.fromarrays([reverse[keep], pos[keep], other[keep], rep[keep]], names="reverse,pos,other,umi")
    if near <= 0 or len(clusters) < 2:
        return len(clusters)
    # families near each other on one strand, their UMIs within `mismatches`: one molecule
    rev = clusters["reverse"]
    pos, other = clusters["pos"].astype(np.int64), clusters["other"].astype(np.int64)
    bases = np.ascontiguousarray(clusters["umi"]).view(np.uint8).reshape(len(clusters), UMI_WIDTH)
    empty = ~bases.any(axis=1)
    # molecule ids (MI tags) are grouped already: the same id only, never one a byte apart
    exact = np.all(bases[:, :3] == np.frombuffer(b"MI:", dtype=np.uint8), axis=1)
    pairs = []
    allowed_all = np.where(exact, 0, max(0, mismatches))
    # two UMIs within m mismatches agree exactly on one of m + 1 parts of their bytes, so
    # the pairs are looked for among the families sharing a part, sorted by strand and
    # start within it: few lie within `near` bases of each other there
    length = max(1, int((bases != 0).sum(axis=1).max()))
    cuts = np.linspace(0, length, max(0, mismatches) + 2).astype(int)
    cuts[-1] = UMI_WIDTH
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        # a hash of the part's bytes and the strand (past `length` every UMI's bytes are 0):
        # equal parts on one strand, equal hashes
        part = rev.astype(np.uint64)
        for k in range(lo, min(hi, length)):
            part = part * np.uint64(0x100000001B3) + bases[:, k].astype(np.uint64)
        order = np.lexsort((pos, part))
        r, p, o, q = rev[order], pos[order], other[order], part[order]
        for d in range(1, len(order)):
            close = (r[d:] == r[:-d]) & (q[d:] == q[:-d]) & (p[d:] - p[:-d] <= near)
            if not close.any():
                break
            i, j = order[:-d][close], order[d:][close]
            ok = (np.abs(o[d:][close] - o[:-d][close]) <= near) & ~empty[i] & ~empty[j]
            i, j = i[ok], j[ok]
            ok = (bases[i] != bases[j]).sum(axis=1) <= np.minimum(allowed_all[i], allowed_all[j])
            pairs.extend(zip(np.minimum(i, j)[ok].tolist(), np.maximum(i, j)[ok].tolist()))
    parent = list(range(len(clusters)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    merged = 0
    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            merged += 1
    return len(clusters) - merged
