"""Columnar reading of one BAM region: the records' fixed fields and CIGARs as numpy arrays.

A target locus of a deep library holds 10^5-10^6 records, nearly all ordinary spliced
alignments that support nothing but the coverage. Turning each into a pysam object and
looking at it in Python costs about a microsecond a record, ten times what decoding the
BGZF blocks costs. This module decodes the region's blocks itself and reads the fields of
all its records at once with numpy, so the caller can count and pile them up in bulk
and hand only the few records that may carry fusion evidence to the per-read code (as
real :class:`pysam.AlignedSegment` objects, see :func:`materialize`).

How the region is found: pysam (htslib) does the index query and returns the region's
first record; ``tell()`` then gives the virtual offset just after it, from where this
module reads the file sequentially (the BAM is coordinate-sorted, so every later record
of the region follows) until a record starts at or after the region's end. The first
record is returned as the pysam object it already is. The records yielded are exactly
those ``bam.fetch(chrom, start, end)`` yields, in the same order (tests compare them).

How it is read: from that block on, the file is a multi-member gzip stream, which ISA-L's
gzip reader inflates (checking each block's CRC and length) straight into a reused
buffer, a few megabytes at a time (in a second thread with ``threads`` > 1). In each
buffer the records are found and their fixed fields, name keys and CIGAR operations
written into arrays by a compiled loop (``imtfusion._bamwalk``, an optional extension:
:func:`_records`, :func:`_columns`); without it numpy finds them all at once
(:func:`_chain`) and gathers their fields, with the same results. A record cut by the end
of a buffer starts the next one.

Only BAM is read this way; CRAM (and anything unexpected in the stream) falls back to the
ordinary pysam iteration, which gives the same answers more slowly.
"""

from __future__ import annotations

import functools
import os
import struct
import sys
import tempfile
import zlib
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import pysam

from imtfusion.bamio import is_url

try:  # ISA-L inflates BGZF (a multi-member gzip stream) 2-3x faster than zlib; same bytes
    from isal.igzip import GzipFile as _GzipReader
    from isal.igzip_threaded import open as _threaded_open
    from isal.isal_zlib import error as _InflateError
except ImportError:  # pragma: no cover - isal is a dependency, the standard library is the fallback
    from gzip import GzipFile as _GzipReader
    from zlib import error as _InflateError
    _threaded_open = None

# The per-record loops compiled (an optional extension; see setup.py). Without it, or with
# IMTFUSION_PURE_PYTHON=1 in the environment, numpy does the same work more slowly.
_native = None
if not os.environ.get("IMTFUSION_PURE_PYTHON"):
    try:
        from imtfusion import _bamwalk as _native
    except ImportError:  # pragma: no cover - built wherever a C compiler was found
        _native = None


def reader_kind() -> str:
    """Which record reader this process uses: "compiled" or "numpy"."""
    return "compiled" if _native is not None else "numpy"

# CIGAR operation codes (BAM): M I D N S H P = X
OP_M, OP_I, OP_D, OP_N, OP_S, OP_H, OP_P, OP_EQ, OP_X = range(9)
_REF_CONSUMING = np.zeros(16, dtype=bool)
_REF_CONSUMING[[OP_M, OP_D, OP_N, OP_EQ, OP_X]] = True
_ALIGNED = np.zeros(16, dtype=bool)  # blocks of pysam's get_blocks()
_ALIGNED[[OP_M, OP_EQ, OP_X]] = True

SEQ_CODES = "=ACMGRSVTWYHKDBN"  # the base of each 4-bit code of the SEQ field
_BASES = np.frombuffer(SEQ_CODES.encode(), dtype=np.uint8)
BGZF_MAGIC = b"\x1f\x8b\x08\x04"
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_FIXED = np.dtype([
    ("block_size", "<i4"), ("tid", "<i4"), ("pos", "<i4"), ("l_qname", "u1"), ("mapq", "u1"), ("bin", "<u2"),
    ("n_cigar", "<u2"), ("flag", "<u2"), ("l_seq", "<i4"), ("next_tid", "<i4"), ("next_pos", "<i4"), ("tlen", "<i4"),
])
_FIXED_BYTES = _FIXED.itemsize  # 36: block_size plus the 32 bytes of fixed fields
# Decompressed bytes read at a time: the first read is small (short regions read little
# beyond their end), then doubles up to the cap (memory stays flat whatever the depth).
FIRST_READ_BYTES = 64 * 1024
MAX_READ_BYTES = 2 * 1024 * 1024
# references to a pooled buffer nobody else holds: the pool, _take_buffer's loop variable
# and sys.getrefcount's argument
_UNSHARED_REFS = 3
_POOLED_BUFFERS = 3


class ScanError(Exception):
    """The stream is not what the columnar reader expects; the caller falls back to pysam."""


@dataclass
class RecordBatch:
    """Consecutive records of one region (all overlapping it), fields as arrays."""

    data: bytes | bytearray  # decompressed bytes holding the records
    offsets: np.ndarray  # int64: where each record (its block_size field) starts in data
    fixed: np.ndarray  # structured array of the fixed fields (_FIXED)
    end: np.ndarray  # int64: one past the last reference base (pos + 1 when unmapped / no CIGAR)
    # the CIGAR operations of every record, flattened in record order (op_record, op_code,
    # op_length, op_ref_start); None from the compiled reader, which writes them only when
    # they are asked for (most batches are classified and piled up from their CIGARs)
    _op_record: np.ndarray | None  # int64: index of the record owning the operation
    _op_code: np.ndarray | None  # int64
    _op_length: np.ndarray | None  # int64
    _op_ref_start: np.ndarray | None  # int64: reference position where the operation starts
    # from the compiled reader (None from the numpy one, which computes them on demand):
    keys: np.ndarray | None = None  # uint64: name_suffix_keys()
    summary: np.ndarray | None = None  # int64 (records, 5): first op code, length, last op code, length, op mask

    def __len__(self) -> int:
        return len(self.offsets)

    def _ops(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self._op_record is None:
            if _native is None:
                _, _, ops, _ = _columns(self.data, self.offsets, self.fixed)
            else:
                total = int(self.fixed["n_cigar"].sum(dtype=np.int64))
                ops = tuple(np.empty(total, dtype=np.int64) for _ in range(4))
                _native.cigar_columns(self.data, np.ascontiguousarray(self.offsets, dtype=np.int64), *ops,
                                      np.empty(len(self), dtype=np.int64), np.empty((len(self), 5), dtype=np.int64))
            self._op_record, self._op_code, self._op_length, self._op_ref_start = ops
        return self._op_record, self._op_code, self._op_length, self._op_ref_start

    @property
    def op_record(self) -> np.ndarray:
        return self._ops()[0]

    @property
    def op_code(self) -> np.ndarray:
        return self._ops()[1]

    @property
    def op_length(self) -> np.ndarray:
        return self._ops()[2]

    @property
    def op_ref_start(self) -> np.ndarray:
        return self._ops()[3]

    def raw(self, indexes: np.ndarray) -> list[bytes]:
        """The BAM bytes of the records at ``indexes``."""
        data, sizes = self.data, self.fixed["block_size"]
        out = []
        for i in np.asarray(indexes, dtype=np.int64).tolist():
            o = int(self.offsets[i])
            out.append(bytes(data[o:o + 4 + int(sizes[i])]))
        return out

    def bases(self, records: np.ndarray, starts: np.ndarray, count: int) -> np.ndarray:
        """(len(records), count) array of the ASCII bases ``starts .. starts + count`` of
        the stored sequence of each record (0 beyond its end or before its start)."""
        a = np.frombuffer(self.data, dtype=np.uint8)
        fixed = self.fixed  # (fields are picked before the records: faster than whole rows)
        seq_at = (self.offsets[records] + _FIXED_BYTES + fixed["l_qname"][records].astype(np.int64)
                  + 4 * fixed["n_cigar"][records].astype(np.int64))
        index = starts[:, None] + np.arange(count)
        valid = (index >= 0) & (index < fixed["l_seq"][records].astype(np.int64)[:, None])
        index = np.where(valid, index, 0)
        packed = a[seq_at[:, None] + (index >> 1)]
        nibble = np.where(index & 1, packed & 0xF, packed >> 4)
        return np.where(valid, _BASES[nibble], 0)

    def first_op(self) -> tuple[np.ndarray, np.ndarray]:
        """(code, length) of each record's first CIGAR operation (-1, 0 without a CIGAR)."""
        return self._edge_op(first=True)

    def last_op(self) -> tuple[np.ndarray, np.ndarray]:
        return self._edge_op(first=False)

    def edge_ops(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(code, length) of each record's first and of its last CIGAR operation."""
        return (*self._edge_op(first=True), *self._edge_op(first=False))

    def _edge_op(self, first: bool) -> tuple[np.ndarray, np.ndarray]:
        if self.summary is not None:
            return (self.summary[:, 0], self.summary[:, 1]) if first else (self.summary[:, 2], self.summary[:, 3])
        starts, n = self._op_starts
        index = starts if first else starts + n - 1
        has = n > 0
        if has.all():
            return self.op_code[index], self.op_length[index]
        code = np.full(len(n), -1, dtype=np.int64)
        length = np.zeros(len(n), dtype=np.int64)
        code[has] = self.op_code[index[has]]
        length[has] = self.op_length[index[has]]
        return code, length

    @functools.cached_property
    def _op_starts(self) -> tuple[np.ndarray, np.ndarray]:
        """(index of each record's first operation, number of operations)."""
        n = self.fixed["n_cigar"].astype(np.int64)
        return np.cumsum(n) - n, n

    def has_op(self, code: int) -> np.ndarray:
        """Whether each record's CIGAR holds operation ``code``."""
        if self.summary is not None:
            return (self.summary[:, 4] & (1 << code)) != 0
        hits = self.op_record[self.op_code == code]
        out = np.zeros(len(self), dtype=bool)
        out[hits] = True
        return out

    def tag_hits(self, tag: bytes, among: np.ndarray | None = None) -> np.ndarray:
        """A superset of the records carrying ``tag`` (e.g. ``b"SAZ"``, name and type):
        every record whose bytes contain the three bytes. With ``among`` (a boolean per
        record) only those records are searched, each in its optional fields; otherwise
        the whole batch at once (a byte search runs at memory speed). The caller confirms
        with pysam on the few records selected."""
        out = np.zeros(len(self), dtype=bool)
        data, offsets = self.data, self.offsets
        if len(offsets) == 0:
            return out
        if among is not None:
            chosen = np.flatnonzero(among)
            if 2 * len(chosen) < len(self):  # a search per record costs about the same per byte
                fixed = self.fixed
                l_seq = fixed["l_seq"][chosen].astype(np.int64)
                aux = (offsets[chosen] + _FIXED_BYTES + fixed["l_qname"][chosen].astype(np.int64)
                       + 4 * fixed["n_cigar"][chosen].astype(np.int64) + (l_seq + 1) // 2 + l_seq)
                stop = offsets[chosen] + 4 + fixed["block_size"][chosen].astype(np.int64)
                find = data.find
                hits = [i for i, lo, hi in zip(chosen.tolist(), aux.tolist(), stop.tolist()) if find(tag, lo, hi) >= 0]
                out[hits] = True
                return out
            return self.tag_hits(tag) & among
        lo = int(offsets[0])
        hi = int(offsets[-1] + 4 + self.fixed["block_size"][-1])
        found: list[int] = []
        at = data.find(tag, lo, hi)
        while at >= 0:
            found.append(at)
            at = data.find(tag, at + 1, hi)
        if found:
            at = np.asarray(found, dtype=np.int64)
            owner = np.searchsorted(offsets, at, side="right") - 1
            # the bytes between kept records may belong to records outside the region
            inside = (owner >= 0) & (at + len(tag) <= offsets[owner] + 4 + self.fixed["block_size"][owner])
            out[owner[inside]] = True
        return out

    def name_suffix_keys(self, width: int = 8) -> np.ndarray:
        """An integer per record from the last ``width`` bytes of its read name and the
        name's length: equal names give equal keys (used to pick a few names out of
        many before comparing the names themselves)."""
        if width == 8 and self.keys is not None:
            return self.keys
        return _name_keys(np.frombuffer(self.data, dtype=np.uint8), self.offsets, self.fixed["l_qname"], width)


_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` for a 1-d array. (np.unique imports numpy.ma on first use,
    15 ms of a call's start.)"""
    values = np.sort(values)
    if len(values) > 1:
        values = values[np.concatenate(([True], values[1:] != values[:-1]))]
    return values


def among(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Whether each of the uint64 ``values`` is one of ``wanted`` (``np.isin``, faster for
    millions of values and a few hundred wanted ones): a 16-bit hash of each value is
    looked up in a small table first, and only the values passing it are searched."""
    values = np.asarray(values, dtype=np.uint64)
    wanted = sorted_unique(np.asarray(wanted, dtype=np.uint64))
    out = np.zeros(len(values), dtype=bool)
    if len(wanted) == 0 or len(values) == 0:
        return out
    table = np.zeros(1 << 16, dtype=bool)
    table[((wanted * _HASH_MULTIPLIER) >> np.uint64(48)).astype(np.intp)] = True
    maybe = np.flatnonzero(table[((values * _HASH_MULTIPLIER) >> np.uint64(48)).astype(np.intp)])
    at = np.searchsorted(wanted, values[maybe])
    at[at == len(wanted)] = 0
    out[maybe] = wanted[at] == values[maybe]
    return out


def name_key(name: str, width: int = 8) -> int:
    """:meth:`RecordBatch.name_suffix_keys` of one read name."""
    raw = name.encode() + b"\x00"
    buf = np.frombuffer(struct.pack("<i", 0) + b"\x00" * 32 + raw, dtype=np.uint8)
    return int(_name_keys(buf, np.zeros(1, dtype=np.int64), np.asarray([len(raw)], dtype=np.uint8), width)[0])


_KEY_MIX = np.uint64(0x9E3779B97F4A7C15)  # spreads the name length over the key's bits
_KEY_MIX2 = np.uint64(0xC2B2AE3D27D4EB4F)  # spreads the bytes before a name's last 8


def _last_word(a: np.ndarray, end: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The 8 bytes before ``end`` as a little-endian word, those before the ``length``
    bytes that belong to the name zero (a record's name follows 36 bytes of fixed fields,
    so the 8 bytes are always in the buffer)."""
    word = _gather(a, end - 8, 8).view("<u8").reshape(-1).copy()
    short = length < 8
    if short.any():
        missing = 8 - length[short]  # bytes of the word before the name
        word[short] &= np.where(missing >= 8, np.uint64(0), np.left_shift(
            np.uint64(0xFFFFFFFFFFFFFFFF), (8 * np.minimum(missing, 7)).astype(np.uint64)))
    return word


def _name_keys(a: np.ndarray, offsets: np.ndarray, l_qname: np.ndarray, width: int) -> np.ndarray:
    length = l_qname.astype(np.int64) - 1  # without the NUL
    end = offsets + _FIXED_BYTES + length
    if width == 8:
        # the last 8 bytes of each name as one little-endian word (the bytes before a
        # shorter name are masked off; a record's name follows 36 bytes of fixed fields)
        word = _last_word(a, end, length)
        # and the 8 bytes before those: umi-tools names end in the UMI, which the copies
        # of a molecule share and other molecules repeat (the C walk computes the same)
        before = _last_word(a, end - 8, np.maximum(length - 8, 0))
        return word ^ (before * _KEY_MIX2) ^ (length.astype(np.uint64) * _KEY_MIX)
    key = length.astype(np.uint64)
    for k in range(1, width + 1):
        present = length >= k
        byte = np.where(present, a[np.where(present, end - k, 0)], 0).astype(np.uint64)
        key = key * np.uint64(257) + byte
    return key


def _walk(data: bytes, start: int) -> tuple[list[int], int]:
    """Offsets of the complete records in ``data`` from ``start``; and where the first
    incomplete one begins."""
    unpack = struct.Struct("<I").unpack_from  # unsigned: a damaged size cannot step backwards
    offsets: list[int] = []
    add = offsets.append
    n = len(data)
    last = n - 4
    p = start
    while p <= last:
        q = p + 4 + unpack(data, p)[0]
        if q > n:
            break
        add(p)
        p = q
    return offsets, p


def _chain(data: bytes, start: int, tid: int, min_pos: int, end: int
           ) -> tuple[np.ndarray, int, np.ndarray] | None:
    """The region's records in ``data`` from ``start``, found without stepping record by record.

    Every record of the region has ``tid`` in its contig field, a position in
    ``[min_pos, end)`` (the file is sorted) and fixed fields that fit in its size: all
    byte offsets where that holds are candidates, found with numpy. The true records are
    the chain that starts at ``start`` and steps by each record's size; candidates nobody
    steps to are dropped, and the chain is verified link by link. Returns (record offsets,
    where the chain leaves the region's records, their fixed fields) or None when the
    chain does not verify (the caller then walks)."""
    n = len(data)
    if n - start < _FIXED_BYTES:
        return None
    # byte offsets holding ``tid`` as a 32-bit integer: one pass per alignment, then
    # the four sorted runs merged (a stable sort merges runs in linear time)
    found = []
    want = np.int32(tid)
    for k in range(4):
        count = (n - k) // 4
        if count > 0:
            found.append(np.flatnonzero(np.frombuffer(data, dtype="<i4", count=count, offset=k) == want) * 4 + k)
    cand = np.sort(np.concatenate(found), kind="stable") - 4  # the contig field is 4 bytes in
    cand = cand[(cand >= start) & (cand <= n - _FIXED_BYTES)]
    if len(cand) == 0:
        return np.zeros(0, dtype=np.int64), start, np.zeros(0, dtype=_FIXED)
    # rows of raw bytes (selecting rows of a structured array is slow; of bytes, fast)
    rows = _gather(data, cand, _FIXED_BYTES)
    fixed = rows.view(_FIXED)
    size = fixed["block_size"].astype(np.int64)
    l_seq = fixed["l_seq"].astype(np.int64)
    # the mate's fields (contig, position) look like a record's head: the fields that
    # follow them (read name bytes taken as lengths) do not fit in the "record"
    fits = (32 + fixed["l_qname"].astype(np.int64) + 4 * fixed["n_cigar"].astype(np.int64) + l_seq
            + (l_seq + 1) // 2) <= size
    good = ((fixed["pos"] >= min_pos) & (fixed["pos"] < end) & (size >= 32) & (fixed["l_qname"] > 0)
            & (l_seq >= 0) & fits)
    cand, rows = cand[good], rows[good]
    step = cand + 4 + size[good]
    if not (len(cand) and cand[0] == start and np.array_equal(step[:-1], cand[1:])):
        for _ in range(3):
            # keep the candidates some candidate steps to (and the start)
            at = np.searchsorted(cand, step)
            linked_from = at < len(cand)
            linked_from[linked_from] = cand[at[linked_from]] == step[linked_from]
            linked = np.zeros(len(cand), dtype=bool)
            linked[at[linked_from]] = True
            linked |= cand == start
            if linked.all():
                break
            cand, step, rows = cand[linked], step[linked], rows[linked]
        if len(cand) == 0:
            return np.zeros(0, dtype=np.int64), start, np.zeros(0, dtype=_FIXED)
        if cand[0] != start or not np.array_equal(step[:-1], cand[1:]):
            return None
    fixed = rows.view(_FIXED)
    # the last candidate may be cut by the end of data: it belongs to the next batch
    if step[-1] > n:
        return cand[:-1], int(cand[-1]), fixed[:-1]
    return cand, int(step[-1]), fixed


def _gather(data: bytes, at: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bytes from each byte offset ``at`` of ``data``, as one opaque item
    each (numpy copies such items with memcpy; view them as the type they hold)."""
    count = len(data) - width + 1
    if count <= 0:
        return np.zeros(len(at), dtype=f"V{width}")
    every = np.ndarray(shape=(count,), dtype=f"V{width}", buffer=data, strides=(1,))
    return every[at]


def _u32(data: bytes, at: np.ndarray) -> np.ndarray:
    """Little-endian uint32 at each byte offset ``at`` of ``data`` (offsets need no alignment)."""
    if len(at) == 0:
        return np.zeros(0, dtype=np.uint32)
    return _gather(data, at, 4).view("<u4")


def _columns(data: bytes, offsets: np.ndarray, fixed: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...], np.ndarray | None]:
    """(fixed fields, end of each record on the reference, CIGAR operations as columns:
    owning record, code, length, reference start; the compiled reader's per-record
    summary of the CIGAR or None)."""
    if fixed is None:
        fixed = _gather(data, offsets, _FIXED_BYTES).view(_FIXED)
    if _native is not None:
        ends = np.empty(len(offsets), dtype=np.int64)
        summary = np.empty((len(offsets), 5), dtype=np.int64)
        _native.cigar_summary(data, np.ascontiguousarray(offsets, dtype=np.int64), ends, summary)
        return fixed, ends, (None, None, None, None), summary
    n = fixed["n_cigar"].astype(np.int64)
    m = len(offsets)
    total = int(n.sum())
    first = np.cumsum(n) - n  # index of each record's first operation
    record = np.repeat(np.arange(m, dtype=np.int64), n)
    # operation j of a record sits 4 * j bytes after the read name
    base = offsets + _FIXED_BYTES + fixed["l_qname"].astype(np.int64) - 4 * first
    at = np.arange(0, 4 * total, 4, dtype=np.int64) + np.repeat(base, n)
    raw = _u32(data, at) if total else np.zeros(0, dtype=np.uint32)
    code = (raw & 0xF).astype(np.int64)
    length = (raw >> 4).astype(np.int64)
    ref_length = length * _REF_CONSUMING[code]
    cumulative = np.cumsum(ref_length)
    before = cumulative - ref_length  # reference bases of the batch's reads before each operation
    pos = fixed["pos"].astype(np.int64)
    nonempty = n > 0
    if nonempty.all():
        record_before = before[first]
        span = cumulative[first + n - 1] - record_before
    else:
        record_before = np.zeros(m, dtype=np.int64)
        span = np.zeros(m, dtype=np.int64)
        record_before[nonempty] = before[first[nonempty]]
        span[nonempty] = cumulative[(first + n - 1)[nonempty]] - record_before[nonempty]
    ref_start = before + np.repeat(pos - record_before, n)
    mapped = (fixed["flag"] & 0x4) == 0
    end = np.where(mapped & (n > 0) & (span > 0), pos + span, pos + 1)
    return fixed, end, (record, code, length, ref_start), None


def _region_start(bam: pysam.AlignmentFile, chrom: str, start: int, end: int):
    """(first record of the region or None, virtual offset just after it)."""
    iterator = bam.fetch(chrom, start, end)
    first = next(iterator, None)
    return first, (bam.tell() if first is not None else 0)


_MALLOC_TUNED = False


def keep_freed_memory() -> None:
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the
    system at once. Bulk reading allocates and frees arrays of a few megabytes per batch;
    by default each comes as fresh pages from the kernel (over 100,000 page faults for 2
    million records, a fifth of the run). Peak memory is unchanged: the freed blocks are
    reused. Once per process; a no-op where the C library is not glibc."""
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # pragma: no cover - not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 * 1024 * 1024)  # blocks below 32 MB (the largest allowed) from the heap
    mallopt(m_trim_threshold, 256 * 1024 * 1024)  # give memory back beyond 256 MB free


def scan_region(bam: pysam.AlignmentFile, chrom: str, start: int, end: int,
                max_read: int = MAX_READ_BYTES, threads: int = 1
                ) -> tuple[pysam.AlignedSegment | None, Iterator[RecordBatch]]:
    """The records of ``chrom:[start, end)``: the first as a pysam record, the rest in batches.
    With ``threads`` > 1 the blocks are inflated in a second thread while the records of
    the previous ones are read (the batches are the same).

    Raises :class:`ScanError` (before yielding anything) when the file cannot be read this
    way (CRAM, SAM); a :class:`ScanError` while iterating means the stream is damaged."""
    if bam.is_cram or not bam.is_bam:
        raise ScanError("not a BAM")
    tid = bam.get_tid(chrom)
    if tid < 0:
        raise ScanError(f"unknown contig {chrom}")
    path = bam.filename.decode() if isinstance(bam.filename, bytes) else str(bam.filename)
    keep_freed_memory()
    first, voffset = _region_start(bam, chrom, start, end)
    if first is None:
        return None, iter(())
    return first, _batches(path, tid, start, end, voffset, max(1, max_read), first.reference_start, threads)


def _read_into(reader, buffer: memoryview) -> int:
    """Fill ``buffer`` from the decompressing reader; bytes read (fewer only at the end)."""
    got = 0
    while got < len(buffer):
        n = reader.readinto(buffer[got:])
        if not n:
            break
        got += n
    return got


def _take_buffer(pool: list[bytearray], size: int) -> bytearray:
    """A buffer of ``size`` bytes: one of ``pool`` that nothing else refers to any more
    (its batch is gone: a caller looping over batches still holds the previous one, so
    the pool keeps a few), which spares allocating and zeroing megabytes per batch; a new
    one otherwise."""
    for buffer in pool:
        if sys.getrefcount(buffer) <= _UNSHARED_REFS:
            if len(buffer) > size:
                del buffer[size:]
            elif len(buffer) < size:
                buffer.extend(bytes(size - len(buffer)))
            return buffer
    buffer = bytearray(size)
    if len(pool) < _POOLED_BUFFERS:
        pool.append(buffer)
    return buffer


def _batches(path: str, tid: int, start: int, end: int, voffset: int, max_read: int,
             min_pos: int, threads: int = 1) -> Iterator[RecordBatch]:
    size = min(FIRST_READ_BYTES, max_read)  # decompressed bytes read at a time
    # a BAM at a URL: its blocks by range requests (imtfusion.remotefile; unbuffered: a read
    # returns what one request brought, so a small locus asks for little)
    if is_url(path):
        from imtfusion import remotefile  # (http.client: only for a URL)

        fh = remotefile.open_url(path)
    else:
        fh = open(path, "rb")
    with fh:
        fh.seek(voffset >> 16)
        if threads > 1 and _threaded_open is not None:
            # a second thread inflates ahead (ISA-L lets go of the GIL) while this one
            # reads the records (numpy and the compiled walk let go of it too)
            reader = _threaded_open(fh, "rb", threads=1)
        else:
            reader = _GzipReader(fileobj=fh, mode="rb")
        try:
            skip = voffset & 0xFFFF  # bytes of the first block already consumed (the first record)
            if skip and len(reader.read(skip)) != skip:
                raise ScanError(f"{path}: the file ends inside the region's first block")
            carry = b""  # start of a record cut by the end of the previous batch
            pool: list[bytearray] = []
            while True:
                # the cut record first, then fresh bytes: one buffer, no joining
                buffer = None
                buffer = _take_buffer(pool, len(carry) + size)
                buffer[:len(carry)] = carry
                with memoryview(buffer) as view:
                    got = _read_into(reader, view[len(carry):])
                size = min(2 * size, max_read)
                if not got:
                    if carry.strip(b"\x00"):
                        raise ScanError(f"{path}: the file ends inside a record")
                    return
                if got < len(buffer) - len(carry):
                    del buffer[len(carry) + got:]
                data = buffer
                offsets, rest, ended, fixed, keys = _records(data, tid, min_pos, end, path)
                data = None  # (the buffer is reused once no batch refers to it)
                carry = bytes(buffer[rest:])
                if len(offsets):
                    fixed, ends, ops, summary = _columns(buffer, offsets, fixed)
                    if (fixed["block_size"] < 32).any():
                        raise ScanError(f"{path}: a record shorter than its fixed fields")
                    # sorted file: the region ends at the first record on another contig or at/after end
                    beyond = (fixed["tid"] != tid) | (fixed["pos"].astype(np.int64) >= end)
                    stop = len(offsets)
                    if beyond.any():
                        stop = int(np.argmax(beyond))
                        ended = True
                    keep = np.zeros(len(offsets), dtype=bool)
                    keep[:stop] = ends[:stop] > start
                    if keep.any():
                        yield _select(buffer, offsets, fixed, ends, ops, keep, keys, summary)
                if ended:
                    return
        except (EOFError, OSError, _InflateError) as exc:
            # a damaged or cut stream (gzip header, CRC or length checks)
            raise ScanError(f"{path}: cannot be decompressed after the region's start ({exc})") from None
        finally:
            reader.close()  # (stops the inflating thread, if any)


def _records(data: bytes, tid: int, min_pos: int, end: int, path: str = "the BAM"
             ) -> tuple[np.ndarray, int, bool, np.ndarray | None, np.ndarray | None]:
    """(offsets of the complete records from 0, where the rest starts, whether a complete
    record outside the region was reached, their fixed fields when already read, their
    name keys when already computed). Offsets may run past the region: the caller checks
    contig and position."""
    if _native is not None:
        capacity = len(data) // _FIXED_BYTES + 1  # a record is at least 36 bytes
        offsets = np.empty(capacity, dtype=np.int64)
        rows = np.empty(capacity, dtype=_FIXED)
        keys = np.empty(capacity, dtype=np.uint64)
        count, rest, ended, status = _native.walk(data, tid, end, offsets, rows, keys)
        if status:
            raise ScanError(f"{path}: a record shorter than its fixed fields" if status == 1 else
                            f"{path}: a record whose fields do not fit in its length")
        return offsets[:count], rest, bool(ended), rows[:count], keys[:count]
    chain = _chain(data, 0, tid, min_pos, end)
    if chain is not None:
        offsets, after, fixed = chain
        n = len(data)
        if after + 4 <= n and after + 4 + struct.unpack_from("<I", data, after)[0] <= n:
            return offsets, after, True, fixed, None  # a complete record that is not the region's
        return offsets, after, False, fixed, None  # a record cut by the end of the batch
    found, rest = _walk(data, 0)
    return np.asarray(found, dtype=np.int64), rest, False, None, None


def _select(data, offsets, fixed, ends, ops, keep, keys=None, summary=None) -> RecordBatch:
    record, code, length, ref_start = ops
    if keep.all():
        return RecordBatch(data, offsets, fixed, ends, record, code, length, ref_start, keys, summary)
    if record is None:  # (the compiled reader's operations are written when asked for)
        return RecordBatch(data, offsets[keep], fixed[keep], ends[keep], None, None, None, None,
                           None if keys is None else keys[keep], None if summary is None else summary[keep])
    renumber = np.cumsum(keep) - 1
    op_keep = keep[record]
    return RecordBatch(data, offsets[keep], fixed[keep], ends[keep], renumber[record[op_keep]], code[op_keep],
                       length[op_keep], ref_start[op_keep], None if keys is None else keys[keep],
                       None if summary is None else summary[keep])


# ----------------------------------------------------------------------------------
# turning selected records back into pysam objects
# ----------------------------------------------------------------------------------


def _bam_header_bytes(bam: pysam.AlignmentFile) -> bytes:
    parts = [b"BAM\x01", struct.pack("<i", 0), struct.pack("<i", len(bam.references))]
    for name, length in zip(bam.references, bam.lengths):
        raw = name.encode() + b"\x00"
        parts.append(struct.pack("<i", len(raw)) + raw + struct.pack("<i", length))
    return b"".join(parts)


def _bgzf_blocks(payload: bytes) -> Iterator[bytes]:
    for i in range(0, len(payload), 0xFF00):
        piece = payload[i:i + 0xFF00]
        compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
        body = compressor.compress(piece) + compressor.flush()
        yield (BGZF_MAGIC + b"\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00" + struct.pack("<H", len(body) + 25)
               + body + struct.pack("<II", zlib.crc32(piece) & 0xFFFFFFFF, len(piece)))


def materialize(bam: pysam.AlignmentFile, raw: Sequence[bytes]) -> list[pysam.AlignedSegment]:
    """Records given as their BAM bytes (:meth:`RecordBatch.raw`) as pysam objects, in
    order, with ``bam``'s contigs: written to a small temporary BAM and read back."""
    if not raw:
        return []
    payload = _bam_header_bytes(bam) + b"".join(raw)
    fd, tmp = tempfile.mkstemp(prefix="imtfusion-", suffix=".bam")
    try:
        with os.fdopen(fd, "wb") as out:
            for block in _bgzf_blocks(payload):
                out.write(block)
            out.write(BGZF_EOF)
        with pysam.AlignmentFile(tmp, "rb", check_sq=False) as small:
            records = list(small.fetch(until_eof=True))
    finally:
        os.unlink(tmp)
    if len(records) != len(raw):
        raise ScanError(f"{len(raw)} records selected, {len(records)} read back")
    return records


def fetch_selected(bam: pysam.AlignmentFile, chrom: str, start: int, end: int,
                   select: Callable[[RecordBatch], np.ndarray]) -> list[pysam.AlignedSegment] | None:
    """The records of a region that ``select`` (a boolean per record of a batch) keeps, as
    pysam objects in file order; the region's first record is always included (the caller
    filters exactly). None when the file cannot be read in bulk: use ``bam.fetch`` then."""
    try:
        first, batches = scan_region(bam, chrom, start, end)
        raw: list[bytes] = []
        for batch in batches:
            raw.extend(batch.raw(np.flatnonzero(select(batch))))
        return ([first] if first is not None else []) + materialize(bam, raw)
    except (ScanError, OSError, ValueError):
        return None


def aligned_blocks(batch: RecordBatch, records: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(record index, start, end) of the aligned blocks (pysam's ``get_blocks()``: the
    M/=/X operations) of the records where ``records`` (a boolean per record) is set."""
    if _native is not None:
        n = len(batch.op_record)
        out = tuple(np.empty(n, dtype=np.int64) for _ in range(3))
        selected = np.ascontiguousarray(records, dtype=bool).view(np.uint8)
        count = _native.aligned_blocks(batch.op_record, batch.op_code, batch.op_length, batch.op_ref_start,
                                       selected, *out)
        return out[0][:count], out[1][:count], out[2][:count]
    block = records[batch.op_record] & _ALIGNED[batch.op_code]
    start = batch.op_ref_start[block]
    return batch.op_record[block], start, start + batch.op_length[block]


def classify(batch: RecordBatch, settings: np.ndarray, adapters: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(primary alignments overlapping the gene, records to examine one by one, counts) of
    a batch of a target locus, as ``evidence._LocusScan._classify`` gives them, in one
    compiled pass; None when the compiled reader is not there or did not read the batch
    (the caller then classifies in numpy). ``settings`` and ``adapters``: see
    ``_bamwalk.c``."""
    if _native is None or batch.summary is None:
        return None
    marks = np.empty(len(batch), dtype=np.uint8)
    counts = np.zeros(5, dtype=np.int64)
    _native.classify(batch.data, np.ascontiguousarray(batch.offsets, dtype=np.int64),
                     np.ascontiguousarray(batch.end, dtype=np.int64),
                     np.ascontiguousarray(batch.summary, dtype=np.int64), settings, adapters, marks, counts)
    return (marks & _MARK_IN_GENE) != 0, (marks & _MARK_CHOSEN) != 0, counts


_MARK_CHOSEN, _MARK_IN_GENE = 1, 2  # the bits of classify's marks (_bamwalk.c)


def gene_depth(batch: RecordBatch, records: np.ndarray, diff: np.ndarray, start: int, end: int,
               exon_starts: np.ndarray, exon_ends: np.ndarray) -> int:
    """Adds the aligned blocks of the records where ``records`` (a boolean per record) is
    set to the depth difference array ``diff`` of ``[start, end)`` (:func:`pile_up`), and
    returns how many of those records have a block overlapping an exon (``exon_starts``,
    ``exon_ends``: int64, sorted, disjoint)."""
    if (_native is not None and diff.dtype == np.int64 and diff.flags.c_contiguous
            and exon_starts.dtype == np.int64 and exon_ends.dtype == np.int64):
        selected = np.ascontiguousarray(records, dtype=bool).view(np.uint8)
        if batch._op_record is None:  # from the CIGARs (the operation columns were not written)
            return _native.record_depth(batch.data, np.ascontiguousarray(batch.offsets, dtype=np.int64), selected,
                                        diff, start, end, np.ascontiguousarray(exon_starts),
                                        np.ascontiguousarray(exon_ends))
        return _native.gene_depth(batch.op_record, batch.op_code, batch.op_length, batch.op_ref_start, selected,
                                  diff, start, end, np.ascontiguousarray(exon_starts), np.ascontiguousarray(exon_ends))
    record, b_start, b_end = aligned_blocks(batch, records)
    pile_up(diff, start, end, b_start, b_end)
    if not len(exon_starts):
        return 0
    k = np.searchsorted(exon_ends, b_start, side="right")
    hit = k < len(exon_starts)
    hit[hit] = exon_starts[k[hit]] < b_end[hit]
    in_exon = np.zeros(len(batch), dtype=bool)
    in_exon[record[hit]] = True
    return int(in_exon.sum())


def pile_up(diff: np.ndarray, start: int, end: int, b_start: np.ndarray, b_end: np.ndarray) -> None:
    """Add aligned blocks ``[b_start, b_end)`` to the depth difference array ``diff``
    (int64, ``end - start + 1`` items) of ``[start, end)``: +1 where a block starts, -1
    where it ends (blocks clipped to the region)."""
    if _native is not None and diff.dtype == np.int64 and diff.flags.c_contiguous:
        _native.pile_up(diff, start, end, np.ascontiguousarray(b_start, dtype=np.int64),
                        np.ascontiguousarray(b_end, dtype=np.int64))
        return
    lo = np.maximum(b_start, start) - start
    hi = np.minimum(b_end, end) - start
    inside = hi > lo
    size = len(diff)
    diff += np.bincount(lo[inside], minlength=size)[:size]
    diff -= np.bincount(hi[inside], minlength=size)[:size]
