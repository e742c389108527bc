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
buffer the records are found and their fixed fields, name keys and CIGAR summaries
written into arrays by a compiled loop (``imtfusion._bamwalk``: :func:`_records`,
:func:`_columns`), which also sorts them (:func:`classify`, :func:`gene_depth`). A
record cut by the end of a buffer starts the next one.

This is the one fast path beside the definition: what the records mean (counts, depth,
evidence) is defined by the record-by-record code on pysam objects in
:mod:`imtfusion.evidence`, and the tests hold this path to it. Where the extension is not
built (no C compiler at install time, or ``IMTFUSION_PURE_PYTHON=1``), and for CRAM (or
anything unexpected in the stream), :func:`scan_region` raises :class:`ScanError` before
yielding anything and the callers read the records with pysam: the same answers, slower
in deep loci.
"""

from __future__ import annotations

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
# IMTFUSION_PURE_PYTHON=1 in the environment, the records are read with pysam.
_native = None
if not os.environ.get("IMTFUSION_PURE_PYTHON"):
    try:
        from imtfusion import _bamwalk as _native
    except ImportError:  # pragma: no cover - built wherever a C compiler was found
        _native = None


def reader_kind() -> str:
    """Which record reader this process uses for the BAM loci: "compiled" (this module) or
    "pysam" (the extension is not built, or IMTFUSION_PURE_PYTHON is set)."""
    return "compiled" if _native is not None else "pysam"

# CIGAR operation codes (BAM): M I D N S H P = X
OP_M, OP_I, OP_D, OP_N, OP_S, OP_H, OP_P, OP_EQ, OP_X = range(9)

SEQ_CODES = "=ACMGRSVTWYHKDBN"  # the base of each 4-bit code of the SEQ field
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
    # op_length, op_ref_start): None until asked for (most batches are classified and
    # piled up from their CIGARs, which the compiled loops read in place)
    _op_record: np.ndarray | None  # int64: index of the record owning the operation
    _op_code: np.ndarray | None  # int64
    _op_length: np.ndarray | None  # int64
    _op_ref_start: np.ndarray | None  # int64: reference position where the operation starts
    keys: np.ndarray  # uint64: name_suffix_keys()
    summary: np.ndarray  # int64 (records, 5): first op code, length, last op code, length, op mask

    def __len__(self) -> int:
        return len(self.offsets)

    def _ops(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self._op_record is None:
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

    def edge_ops(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(code, length) of each record's first and of its last CIGAR operation (-1, 0
        without a CIGAR)."""
        summary = self.summary
        return summary[:, 0], summary[:, 1], summary[:, 2], summary[:, 3]

    def has_op(self, code: int) -> np.ndarray:
        """Whether each record's CIGAR holds operation ``code``."""
        return (self.summary[:, 4] & (1 << code)) != 0

    def name_suffix_keys(self) -> np.ndarray:
        """An integer per record from the last 16 bytes of its read name and the name's
        length (:func:`name_key`): equal names give equal keys (used to pick a few names
        out of many before comparing the names themselves)."""
        return self.keys


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


_MASK64 = (1 << 64) - 1
_KEY_MIX = 0x9E3779B97F4A7C15  # spreads the name length over the key's bits
_KEY_MIX2 = 0xC2B2AE3D27D4EB4F  # spreads the bytes before a name's last 8


def name_key(name: str) -> int:
    """The key the compiled walk gives a record named ``name``
    (:meth:`RecordBatch.name_suffix_keys`): the name's last 8 bytes as a little-endian
    word (the bytes before a shorter name zero), XOR the 8 bytes before them (as far as
    the name reaches) times KEY_MIX2, XOR its length times KEY_MIX. umi-tools names end
    in the UMI, which the copies of a molecule share and other molecules repeat, hence
    the bytes before it."""
    raw = name.encode()
    word = int.from_bytes(raw[-8:].rjust(8, b"\x00"), "little") if raw else 0
    before = int.from_bytes(raw[-16:-8].rjust(8, b"\x00"), "little") if len(raw) > 8 else 0
    return (word ^ ((before * _KEY_MIX2) & _MASK64) ^ ((len(raw) * _KEY_MIX) & _MASK64)) & _MASK64


def _columns(data: bytes, offsets: np.ndarray, fixed: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, tuple[None, None, None, None], np.ndarray]:
    """(fixed fields, end of each record on the reference, the CIGAR operation columns
    (written when asked for: :class:`RecordBatch`), the per-record summary of the CIGAR)."""
    ends = np.empty(len(offsets), dtype=np.int64)
    summary = np.empty((len(offsets), 5), dtype=np.int64)
    _native.cigar_summary(data, np.ascontiguousarray(offsets, dtype=np.int64), ends, summary)
    return fixed, ends, (None, None, None, None), summary


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
    way (CRAM, SAM, or the compiled extension not built); a :class:`ScanError` while
    iterating means the stream is damaged."""
    if _native is None:
        raise ScanError("the compiled record reader is not built (or IMTFUSION_PURE_PYTHON is set)")
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
    return first, _batches(path, tid, start, end, voffset, max(1, max_read), threads)


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
             threads: int = 1) -> Iterator[RecordBatch]:
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
                offsets, rest, ended, fixed, keys = _records(data, tid, end, path)
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


def _records(data: bytes, tid: int, end: int, path: str = "the BAM"
             ) -> tuple[np.ndarray, int, bool, np.ndarray, np.ndarray]:
    """(offsets of the complete records of contig ``tid`` starting before ``end`` from 0,
    where the rest starts, whether a complete record outside the region was reached,
    their fixed fields, their name keys)."""
    capacity = len(data) // _FIXED_BYTES + 1  # a record is at least 36 bytes
    offsets = np.empty(capacity, dtype=np.int64)
    rows = np.empty(capacity, dtype=_FIXED)
    keys = np.empty(capacity, dtype=np.uint64)
    count, rest, ended, status = _native.walk(data, tid, end, offsets, rows, keys)
    if status:
        raise ScanError(f"{path}: a record shorter than its fixed fields" if status == 1 else
                        f"{path}: a record whose fields do not fit in its length")
    return offsets[:count], rest, bool(ended), rows[:count], keys[:count]


def _select(data, offsets, fixed, ends, ops, keep, keys, summary) -> RecordBatch:
    if keep.all():
        return RecordBatch(data, offsets, fixed, ends, *ops, keys, summary)
    # (the operation columns are written when asked for, of the records kept)
    return RecordBatch(data, offsets[keep], fixed[keep], ends[keep], None, None, None, None, keys[keep], summary[keep])


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
        # stored, not compressed: the file is read back at once and deleted
        compressor = zlib.compressobj(0, zlib.DEFLATED, -15)
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
    n = len(batch.op_record)
    out = tuple(np.empty(n, dtype=np.int64) for _ in range(3))
    selected = np.ascontiguousarray(records, dtype=bool).view(np.uint8)
    count = _native.aligned_blocks(batch.op_record, batch.op_code, batch.op_length, batch.op_ref_start,
                                   selected, *out)
    return out[0][:count], out[1][:count], out[2][:count]


def classify(batch: RecordBatch, settings: np.ndarray, adapters: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(primary alignments overlapping the gene, records to examine one by one, counts) of
    a batch of a target locus, in one compiled pass: the counts and gene records
    ``evidence._LocusScan.add_read`` gives these records, and a superset of the records it
    takes evidence from. ``settings`` and ``adapters``: see ``_bamwalk.c``."""
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
    set to the depth difference array ``diff`` (int64) of ``[start, end)`` (:func:`pile_up`),
    and returns how many of those records have a block overlapping an exon
    (``exon_starts``, ``exon_ends``: int64, sorted, disjoint)."""
    selected = np.ascontiguousarray(records, dtype=bool).view(np.uint8)
    exon_starts = np.ascontiguousarray(exon_starts, dtype=np.int64)
    exon_ends = np.ascontiguousarray(exon_ends, dtype=np.int64)
    if batch._op_record is None:  # from the CIGARs (the operation columns were not written)
        return _native.record_depth(batch.data, np.ascontiguousarray(batch.offsets, dtype=np.int64), selected,
                                    diff, start, end, exon_starts, exon_ends)
    return _native.gene_depth(batch.op_record, batch.op_code, batch.op_length, batch.op_ref_start, selected,
                              diff, start, end, exon_starts, exon_ends)


def pile_up(diff: np.ndarray, start: int, end: int, b_start: np.ndarray, b_end: np.ndarray) -> None:
    """Add aligned blocks ``[b_start, b_end)`` to the depth difference array ``diff``
    (int64, ``end - start + 1`` items) of ``[start, end)``: +1 where a block starts, -1
    where it ends (blocks clipped to the region)."""
    _native.pile_up(diff, start, end, np.ascontiguousarray(b_start, dtype=np.int64),
                    np.ascontiguousarray(b_end, dtype=np.int64))
