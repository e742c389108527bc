"""Gene annotation from a GTF: genes, transcripts, exons and CDS.

A GTF is streamed line by line into an SQLite database (:func:`write_database`):
``imtfusion index-gtf`` keeps it as one file, so that a batch parses the GTF once and
every sample loads the index; a GTF given directly goes to a temporary database
(:func:`load_annotation` accepts either). Memory holds the genes (every call loads them
all, as one pickled table) and the transcript models looked at, never the GTF's exons.
Genes are queried by name (targets), by position (partners: any gene of the GTF, through
a sorted interval index), and for their exon boundaries (splice sites).

All coordinates are 0-based half-open, contig names as written in the GTF.
"""

from __future__ import annotations

import bisect
import contextlib
import gzip
import hashlib
import io
import itertools
import operator
import os
import pickle
import re
import struct
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from imtfusion.errors import AnnotationError, TargetGeneNotFoundError

INDEX_FORMAT = "imtfusion-annotation-v2"
_ATTRIBUTE = re.compile(r'(\S+) "([^"]*)"')
_FEATURES = {"gene", "transcript", "exon", "CDS"}
# Transcript choice when none is given: canonical tags first, then the longest CDS.
CANONICAL_TAGS = ("Ensembl_canonical", "MANE_Select", "basic")
# A RefSeq transcript accession (NM_/NR_/XM_/XR_, optionally versioned), as a transcript_id
# (RefSeq and UCSC GTFs) or as another attribute's value, e.g. db_xref "RefSeq:NM_004304.5"
_REFSEQ = re.compile(r"(?:(?:RefSeq|refseq|REFSEQ)[:_])?((?:NM|NR|XM|XR)_\d+(?:\.\d+)?)")
GENE_COLUMNS = ("Chromosome", "Start", "End", "Strand", "gene_id", "gene_name", "gene_type")
_FEW_VALUES = ("Chromosome", "Strand", "gene_type")  # columns with few distinct values


def _typed_column(name: str, values: Iterable) -> list:
    """A gene column as ints or strings (map runs in C: a GENCODE-sized table in
    milliseconds). The few distinct contigs, strands and gene types become one string
    object each, which the pickled table of an index then stores once: a smaller blob,
    faster to load."""
    if name in ("Start", "End"):
        return list(map(int, values))
    if name in _FEW_VALUES:
        return list(map(sys.intern, map(str, values)))
    return list(map(str, values))


class GeneTable:
    """The genes of an annotation as columns (plain lists), sorted by contig, start, end
    and gene_id; rows are indexes into the columns."""

    def __init__(self, rows: Iterable[Iterable]):
        columns = list(zip(*rows)) or [()] * len(GENE_COLUMNS)
        if len(columns) != len(GENE_COLUMNS):
            raise ValueError(f"gene rows need {len(GENE_COLUMNS)} fields")
        typed = [_typed_column(name, col) for name, col in zip(GENE_COLUMNS, columns)]
        chrom, start, end, gene_id = typed[0], typed[1], typed[2], typed[4]
        # stable: equal keys keep the GTF's order
        order = sorted(range(len(chrom)), key=list(zip(chrom, start, end, gene_id)).__getitem__)
        if order != list(range(len(order))):
            typed = [[col[i] for i in order] for col in typed]
        self.columns: dict[str, list] = dict(zip(GENE_COLUMNS, typed))

    @classmethod
    def from_columns(cls, columns: dict[str, list]) -> "GeneTable":
        """A table from columns already typed and sorted (as stored by :func:`write_index`)."""
        if not isinstance(columns, dict) or list(columns) != list(GENE_COLUMNS) or \
                len({len(col) for col in columns.values()}) > 1:
            raise ValueError("stored gene columns do not match")
        table = cls.__new__(cls)
        table.columns = {name: list(col) for name, col in columns.items()}
        return table

    def __len__(self) -> int:
        return len(self.columns["gene_id"])

    def __getitem__(self, column: str) -> list:
        return self.columns[column]


@dataclass(frozen=True, slots=True)
class Gene:
    gene_id: str
    name: str
    chrom: str
    start: int
    end: int
    strand: str
    gene_type: str

    def span_label(self) -> str:
        return f"{self.chrom}:{self.start + 1}-{self.end}"


@dataclass(frozen=True, slots=True)
class Transcript:
    transcript_id: str
    gene_id: str
    gene_name: str
    chrom: str
    strand: str
    transcript_type: str
    tags: tuple[str, ...]
    exons: tuple[tuple[int, int], ...]  # in transcript order (exon 1 first)
    cds: tuple[tuple[int, int, int], ...]  # (start, end, phase) in transcript order
    refseq: str = ""  # RefSeq accession of the transcript when the GTF carries one (NM_004304.5)

    @property
    def cds_length(self) -> int:
        return sum(e - s for s, e, _ in self.cds)

    @property
    def length(self) -> int:
        return sum(e - s for s, e in self.exons)


class _SqliteStore:
    """Transcript models read on demand from an annotation database (the file of
    ``imtfusion index-gtf``, or the temporary one a GTF given directly is streamed into),
    so a sample holds only the genes it looks at in memory, whatever the size of the GTF."""

    def __init__(self, path: Path):
        import sqlite3

        self.path = path
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        # indexes written before the refseq column existed still load (without RefSeq ids)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(transcripts)")}
        self._refseq = "refseq" if "refseq" in columns else "''"

    def transcript_ids(self, gene_id: str) -> list[str]:
        rows = self.db.execute("SELECT transcript_id FROM transcripts WHERE gene_id = ? ORDER BY transcript_id", (gene_id,))
        return [r[0] for r in rows]

    def record(self, transcript_id: str) -> tuple | None:
        row = self.db.execute(
            f"SELECT gene_id, gene_name, chrom, strand, transcript_type, tags, {self._refseq} FROM transcripts "
            "WHERE transcript_id = ?",
            (transcript_id,),
        ).fetchone()
        if row is None:
            return None
        exons = self.db.execute("SELECT start, end FROM exons WHERE transcript_id = ? ORDER BY start", (transcript_id,)).fetchall()
        cds = self.db.execute("SELECT start, end, phase FROM cds WHERE transcript_id = ? ORDER BY start", (transcript_id,)).fetchall()
        return (*row, exons, cds)

    def n_transcripts(self) -> int:
        return self.db.execute("SELECT count(*) FROM transcripts").fetchone()[0]

    def splice_breakends(self) -> Iterator[tuple[str, int, str, str]]:
        """Every internal exon boundary of every transcript as (GTF contig, pos, side,
        gene_id), 'L' the last base of an exon and 'R' the first, each once, sorted.
        SQLite sorts on disk past its cache, so this streams for any GTF size."""
        return self.db.execute(
            """
            WITH ordered AS (
                SELECT transcript_id, start, end,
                       row_number() OVER w AS k, count(*) OVER (PARTITION BY transcript_id) AS n
                FROM exons WINDOW w AS (PARTITION BY transcript_id ORDER BY start, end))
            SELECT t.chrom, o.end - 1, 'L', t.gene_id FROM ordered o JOIN transcripts t USING (transcript_id)
                WHERE o.k < o.n
            UNION
            SELECT t.chrom, o.start, 'R', t.gene_id FROM ordered o JOIN transcripts t USING (transcript_id)
                WHERE o.k > 1
            ORDER BY 1, 2, 3, 4
            """
        )


class _KeyRows:
    """key -> its rows in order. Built with dict() and Counter (C speed); only keys that
    occur more than once (gene names shared by PAR copies or small RNA families) keep a
    list."""

    def __init__(self, keys: list[str], rows: list[int] | None = None):
        rows = list(range(len(keys))) if rows is None else rows
        self.row = dict(zip(keys, rows))
        self.rows: dict[str, list[int]] = {}
        if len(self.row) < len(keys):
            shared = {key for key, n in Counter(keys).items() if n > 1}
            for key, row in zip(keys, rows):
                if key in shared:
                    self.rows.setdefault(key, []).append(row)

    def get(self, key: str) -> list[int]:
        if key in self.rows:
            return self.rows[key]
        row = self.row.get(key)
        return [] if row is None else [row]


@dataclass
class Annotation:
    """The genes of one GTF in memory, its transcript models behind a store (tables of a
    parsed GTF, or the SQLite file of ``imtfusion index-gtf``), and the queries the caller
    needs."""

    genes: GeneTable  # Chromosome, Start, End, Strand, gene_id, gene_name, gene_type
    store: _SqliteStore
    source: str
    checksum: str

    def __post_init__(self) -> None:
        # per contig: its run of rows [lo, hi) (rows are sorted by contig, then start) and
        # its longest gene; each run found by bisection, not by a pass over every row
        self._by_chrom: dict[str, tuple[int, int, int]] = {}
        chroms, starts, ends = self.genes["Chromosome"], self.genes["Start"], self.genes["End"]
        lo = 0
        while lo < len(chroms):
            chrom = chroms[lo]
            hi = bisect.bisect_right(chroms, chrom, lo)
            longest = max(map(operator.sub, itertools.islice(ends, lo, hi), itertools.islice(starts, lo, hi)))
            self._by_chrom[chrom] = (lo, hi, max(longest, 0))
            lo = hi
        self._transcript_cache: dict[str, Transcript] = {}
        self._names: _KeyRows | None = None
        self._ids: _KeyRows | None = None
        self.cache: dict[tuple, object] = {}  # derived indexes kept with the annotation (e.g. exon boundaries)
        self.stored: set[tuple] = set()  # keys of derived indexes in the index file, loaded on first use
        self.notes: list[str] = []  # what reading the GTF passed over (shown in reports and by index-gtf)

    def cached(self, key: tuple) -> object | None:
        """A derived index by key: built in this process, or read from the index file
        the first time it is asked for (most samples never need the big ones)."""
        if key not in self.cache and key in self.stored:
            import sqlite3

            try:
                value = _read_blob(self.store.db, repr(key))
            except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, struct.error, sqlite3.Error):
                raise AnnotationError(
                    f"{self.source}: a stored index in the annotation index is damaged; rerun `imtfusion index-gtf`"
                ) from None
            if value is not None:
                self.cache[key] = value
        return self.cache.get(key)

    # -- genes -------------------------------------------------------------------
    @property
    def contigs(self) -> list[str]:
        return sorted(self._by_chrom)

    def _gene_at_row(self, row: int) -> Gene:
        c = self.genes.columns
        return Gene(
            gene_id=c["gene_id"][row],
            name=c["gene_name"][row],
            chrom=c["Chromosome"][row],
            start=c["Start"][row],
            end=c["End"][row],
            strand=c["Strand"][row],
            gene_type=c["gene_type"][row],
        )

    def _name_index(self) -> "_KeyRows":
        """gene_name -> gene rows, built once (at C speed: a few ms for GENCODE)."""
        if self._names is None:
            self._names = _KeyRows(self.genes["gene_name"])
        return self._names

    def _id_index(self) -> "_KeyRows":
        """gene_id and unversioned gene_id -> gene rows, built once, only when a name is
        not a gene_name (a loop over every id: 70 ms for GENCODE)."""
        if self._ids is None:
            gene_ids = self.genes["gene_id"]
            bare = [gid.partition(".")[0] for gid in gene_ids]
            # each row under its gene_id and, when versioned, its unversioned id
            keys = list(itertools.chain.from_iterable(
                (gid,) if b == gid else (gid, b) for gid, b in zip(gene_ids, bare)))
            rows = list(itertools.chain.from_iterable(
                (row,) if b == gid else (row, row) for row, (gid, b) in enumerate(zip(gene_ids, bare))))
            self._ids = _KeyRows(keys, rows)
        return self._ids

    def find_gene(self, name: str, by_id: bool = True) -> Gene:
        """The gene called ``name`` (gene_name, or with ``by_id`` gene_id with or without
        version)."""
        hits = self._name_index().get(name)
        if not hits and by_id:
            hits = self._id_index().get(name)
        if not hits:
            raise TargetGeneNotFoundError(
                f"gene {name!r} is not in the annotation {self.source}; check the gene name "
                "(HGNC symbol as in the GTF's gene_name attribute) or use a GTF that contains it"
            )
        genes = [self._gene_at_row(i) for i in hits]
        if len(genes) > 1:
            # Genes duplicated on alternative contigs / PAR copies: prefer a primary
            # assembly contig (short name), then the longest copy.
            genes.sort(key=lambda g: (len(g.chrom), -(g.end - g.start), g.chrom, g.start))
        return genes[0]

    def genes_overlapping(self, chrom: str, start: int, end: int | None = None) -> list[Gene]:
        """Genes overlapping ``[start, end)`` (a single base when ``end`` is None)."""
        if end is None:
            end = start + 1
        entry = self._by_chrom.get(chrom)
        if entry is None:
            return []
        first, stop, longest = entry
        starts = self.genes["Start"]
        lo = bisect.bisect_left(starts, start - longest, first, stop)
        hi = bisect.bisect_left(starts, end, first, stop)
        gene_ends = self.genes["End"]
        return [self._gene_at_row(row) for row in range(lo, hi) if gene_ends[row] > start]

    def nearest_genes(self, chrom: str, pos: int, max_distance: int = 1_000_000) -> list[tuple[Gene, int]]:
        """Genes near ``pos`` with their distance, nearest first."""
        entry = self._by_chrom.get(chrom)
        if entry is None:
            return []
        first, stop, longest = entry
        starts = self.genes["Start"]
        lo = bisect.bisect_left(starts, pos - max_distance - longest, first, stop)
        hi = bisect.bisect_right(starts, pos + max_distance, first, stop)
        found = []
        for row in range(lo, hi):
            gene = self._gene_at_row(row)
            if gene.start <= pos < gene.end:
                dist = 0
            elif pos < gene.start:
                dist = gene.start - pos
            else:
                dist = pos - gene.end + 1
            if dist <= max_distance:
                found.append((gene, dist))
        found.sort(key=lambda t: (t[1], t[0].start, t[0].gene_id))
        return found

    # -- transcripts --------------------------------------------------------------
    def n_transcripts(self) -> int:
        return self.store.n_transcripts()

    def transcript(self, transcript_id: str) -> Transcript:
        cached = self._transcript_cache.get(transcript_id)
        if cached is not None:
            return cached
        record = self.store.record(transcript_id)
        if record is None:
            raise AnnotationError(f"transcript {transcript_id!r} is not in the annotation {self.source}")
        gene_id, gene_name, chrom, strand, ttype, tags, refseq, exons, cds = record
        result = Transcript(
            transcript_id=transcript_id,
            gene_id=gene_id,
            gene_name=gene_name,
            chrom=chrom,
            strand=strand,
            transcript_type=ttype,
            tags=tuple(x for x in str(tags).split(",") if x),
            exons=tuple(sorted(((int(a), int(b)) for a, b in exons), reverse=(strand == "-"))),
            cds=tuple(sorted(((int(a), int(b), int(p)) for a, b, p in cds), reverse=(strand == "-"))),
            refseq=str(refseq or ""),
        )
        self._transcript_cache[transcript_id] = result
        return result

    def transcripts_of(self, gene_id: str) -> list[Transcript]:
        return [self.transcript(t) for t in self.store.transcript_ids(gene_id)]

    def canonical_transcript(self, gene_id: str, preference: Iterable[str] = CANONICAL_TAGS) -> Transcript | None:
        """The transcript a report names exons by: first one carrying the earliest tag of
        ``preference``, else the longest CDS, else the longest transcript."""
        transcripts = self.transcripts_of(gene_id)
        if not transcripts:
            return None
        for tag in preference:
            tagged = [t for t in transcripts if tag in t.tags]
            if tagged:
                return max(tagged, key=lambda t: (t.cds_length, t.length, t.transcript_id))
        return max(transcripts, key=lambda t: (t.cds_length, t.length, t.transcript_id))

    def exon_intervals(self, gene_id: str) -> list[tuple[int, int]]:
        """Union of all exons of the gene's transcripts, merged and sorted."""
        intervals = sorted(iv for t in self.transcripts_of(gene_id) for iv in t.exons)
        merged: list[list[int]] = []
        for s, e in intervals:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        return [(s, e) for s, e in merged]

    def intron_pairs(self, gene_id: str) -> dict[tuple[int, str], set[tuple[int, str]]]:
        """For each exon-boundary breakend of the gene, the breakends its own splicing
        joins it to (the other side of each intron, in any transcript)."""
        out: dict[tuple[int, str], set[tuple[int, str]]] = {}
        for t in self.transcripts_of(gene_id):
            ordered = sorted(t.exons)
            for (s1, e1), (s2, e2) in zip(ordered, ordered[1:]):
                donor, acceptor = (e1 - 1, "L"), (s2, "R")
                out.setdefault(donor, set()).add(acceptor)
                out.setdefault(acceptor, set()).add(donor)
        return out

    def splice_breakends(self, gene_id: str) -> set[tuple[int, str]]:
        """Breakends ``(pos, side)`` that fall exactly on an internal exon boundary of any
        transcript of the gene. A fusion joining exons has both its breakends here.

        A processed pseudogene's transcript (one exon, a retrocopy of its parent's spliced
        mRNA) has its two ends here too: they are where the parent's copied exons begin
        and end (TPM3P1 ends where TPM3 exon 7 does), so reads of the parent's junction
        placed on the copy are placed at its end, beside the parent's junction, however
        far the copy's next base lets a microhomology shift them."""
        out: set[tuple[int, str]] = set()
        for t in self.transcripts_of(gene_id):
            ordered = sorted(t.exons)
            if len(ordered) == 1 and "pseudogene" in t.transcript_type:
                out.update(((ordered[0][0], "R"), (ordered[0][1] - 1, "L")))
                continue
            for i, (s, e) in enumerate(ordered):
                if i > 0:
                    out.add((s, "R"))
                if i < len(ordered) - 1:
                    out.add((e - 1, "L"))
        return out


# -- reading ---------------------------------------------------------------------------


def _open_text(path: Path) -> io.TextIOBase:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def file_checksum(path: str | Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n\r").split("\t")
            if len(fields) != 9:
                raise AnnotationError(
                    f"{path}: line {lineno} has {len(fields)} tab-separated columns, a GTF line has 9; "
                    "check that the file is a GTF (not GFF3/BED) and not truncated"
                )
            yield lineno, fields


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE genes (chrom TEXT, start INTEGER, end INTEGER, strand TEXT, gene_id TEXT, gene_name TEXT, gene_type TEXT);
CREATE TABLE transcripts (transcript_id TEXT PRIMARY KEY, gene_id TEXT, gene_name TEXT, chrom TEXT,
                          start INTEGER, end INTEGER, strand TEXT, transcript_type TEXT, tags TEXT, refseq TEXT);
CREATE TABLE exons (transcript_id TEXT, start INTEGER, end INTEGER, exon_number INTEGER);
CREATE TABLE cds (transcript_id TEXT, start INTEGER, end INTEGER, phase INTEGER);
CREATE TABLE blobs (key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE gene_columns (value BLOB);
"""
_BATCH = 20_000  # GTF rows written to the database at a time


def _stream_gtf(path: Path, db, skipped: list[str] | None = None) -> GeneTable:
    """Parse the GTF line by line into the tables of ``db``; return its genes.

    A feature that starts before its contig (a start below 1, as some minigenome
    annotations have) is skipped and described in ``skipped``; an empty interval or an
    end below 1 is a broken GTF and refused.

    Exons, CDS and transcript lines go to the database in batches as they are read, so
    memory holds the genes, the ids of the transcripts seen and one batch, never the
    GTF's exons (a GENCODE GTF: 1.6 M exons). A transcript without a transcript line
    takes its fields from its first exon line; every transcript spans its exons."""
    genes: dict[str, list] = {}
    lined: set[str] = set()  # transcripts that have a transcript line (already in a batch)
    pending: dict[str, list] = {}  # transcripts seen only on exon lines so far
    transcripts: list[list] = []
    exons: list[tuple[str, int, int, int]] = []
    cds: list[tuple[str, int, int, int]] = []

    def flush() -> None:
        db.executemany("INSERT OR REPLACE INTO transcripts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", transcripts)
        db.executemany("INSERT INTO exons VALUES (?, ?, ?, ?)", exons)
        db.executemany("INSERT INTO cds VALUES (?, ?, ?, ?)", cds)
        transcripts.clear()
        exons.clear()
        cds.clear()

    try:
        for lineno, f in _records(path):
            feature = f[2]
            if feature not in _FEATURES:
                continue
            try:
                start = int(f[3]) - 1
                end = int(f[4])
            except ValueError:
                raise AnnotationError(
                    f"{path}: line {lineno} has non-numeric start/end ({f[3]!r}, {f[4]!r}); the GTF is malformed"
                ) from None
            if end <= start or end <= 0:
                raise AnnotationError(f"{path}: line {lineno} has an empty or negative interval {f[3]}-{f[4]}")
            if start < 0:
                if skipped is not None:
                    skipped.append(f"line {lineno} ({f[0]}:{f[3]}-{f[4]}, {feature})")
                continue
            strand = f[6]
            if strand not in "+-" or len(strand) != 1:
                raise AnnotationError(f"{path}: line {lineno} has strand {strand!r}; expected + or -")
            attrs: dict[str, str] = {}
            tags: list[str] = []
            refseq = ""
            for key, value in _ATTRIBUTE.findall(f[8]):
                if key == "tag":
                    tags.append(value)
                elif key not in attrs:
                    attrs[key] = value
                if not refseq and key not in ("gene_id", "gene_name") and "_" in value:
                    match = _REFSEQ.fullmatch(value)
                    if match:
                        refseq = match.group(1)
            gene_id = attrs.get("gene_id")
            if not gene_id:
                raise AnnotationError(f"{path}: line {lineno} has no gene_id attribute; GTF lines need gene_id")
            name = attrs.get("gene_name") or gene_id
            gene_type = attrs.get("gene_type") or attrs.get("gene_biotype") or "unknown"
            chrom = f[0]
            if feature == "gene":
                genes[gene_id] = [chrom, start, end, strand, gene_id, name, gene_type]
                continue
            tid = attrs.get("transcript_id")
            if not tid:
                raise AnnotationError(
                    f"{path}: line {lineno} ({feature}) has no transcript_id attribute; GTF lines need it"
                )
            if feature == "transcript":
                ttype = attrs.get("transcript_type") or attrs.get("transcript_biotype") or gene_type
                transcripts.append([tid, gene_id, name, chrom, start, end, strand, ttype, ",".join(tags), refseq])
                lined.add(tid)
                pending.pop(tid, None)
            elif feature == "exon":
                exons.append((tid, start, end, int(attrs.get("exon_number", "0") or 0)))
                if tid not in lined:
                    rec = pending.get(tid)
                    if rec is None:
                        pending[tid] = [tid, gene_id, name, chrom, start, end, strand, gene_type, ",".join(tags), refseq]
                    else:
                        rec[9] = rec[9] or refseq
                        rec[4] = min(rec[4], start)
                        rec[5] = max(rec[5], end)
            else:  # CDS
                phase = f[7]
                cds.append((tid, start, end, int(phase) if phase in ("0", "1", "2") else 0))
            if len(exons) >= _BATCH or len(cds) >= _BATCH or len(transcripts) >= _BATCH:
                flush()
            if gene_id not in genes:
                genes[gene_id] = [chrom, start, end, strand, gene_id, name, gene_type]
            else:
                g = genes[gene_id]
                if g[0] == chrom:
                    g[1] = min(g[1], start)
                    g[2] = max(g[2], end)
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not a text GTF ({exc}); give an uncompressed or gzip-compressed GTF") from None
    except (OSError, EOFError) as exc:
        raise AnnotationError(f"{path}: cannot read the GTF ({exc}); check the file is complete") from None
    if not genes:
        raise AnnotationError(f"{path}: no gene, transcript or exon lines found; is this a GTF?")
    transcripts.extend(pending.values())
    flush()
    return GeneTable(genes.values())


def write_database(gtf: str | Path, out: str | Path) -> None:
    """Stream the GTF ``gtf`` into a new annotation database at ``out`` (which must not
    exist, or be empty): the format of ``imtfusion index-gtf``, read by
    :func:`load_annotation`. The caller makes it atomic (``out`` is a temporary path)."""
    import sqlite3

    gtf = Path(gtf)
    if not gtf.exists():
        raise AnnotationError(f"GTF not found: {gtf}; check the 'gtf' path in the config or --gtf")
    db = sqlite3.connect(str(out))
    try:
        # a new file renamed into place when complete: no journal needed, nothing to sync
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.executescript(_SCHEMA)
        skipped: list[str] = []
        genes = _stream_gtf(gtf, db, skipped)
        db.executescript(
            """
            CREATE INDEX transcripts_by_gene ON transcripts (gene_id);
            CREATE INDEX exons_by_transcript ON exons (transcript_id, start);
            CREATE INDEX cds_by_transcript ON cds (transcript_id, start);
            UPDATE transcripts SET
                start = min(start, coalesce((SELECT min(e.start) FROM exons e
                                             WHERE e.transcript_id = transcripts.transcript_id), start)),
                end = max(end, coalesce((SELECT max(e.end) FROM exons e
                                         WHERE e.transcript_id = transcripts.transcript_id), end));
            """
        )
        # every call loads all genes: as one pickled blob, ten times faster than 60,000 SQL rows
        db.execute("INSERT INTO gene_columns VALUES (?)", (pickle.dumps(genes.columns, protocol=pickle.HIGHEST_PROTOCOL),))
        db.executemany("INSERT INTO genes VALUES (?, ?, ?, ?, ?, ?, ?)", zip(*(genes[c] for c in GENE_COLUMNS)))
        db.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("format", INDEX_FORMAT), ("source", str(gtf)), ("checksum", file_checksum(gtf))])
        if skipped:
            db.execute("INSERT INTO meta VALUES (?, ?)", ("note", (
                f"{gtf}: {len(skipped)} feature(s) that start before their contig were skipped "
                f"(the first: {skipped[0]})")))
        db.commit()
    except sqlite3.Error as exc:
        raise AnnotationError(f"cannot write the annotation index {out} ({exc}); check the disk space and permissions") from None
    finally:
        db.close()


_BLOB_MAGIC = b"IMTFBLB1"  # a derived index stored as a pickle and its out-of-band array buffers
_BLOB_CHUNK = 1 << 20  # bytes copied at a time between SQLite and memory


def _write_blob(db, key: str, value: object) -> None:
    """Store ``value`` under ``key``: the pickle (protocol 5) with its arrays' bytes out
    of band after it, written straight from the arrays into the blob (no copy of the
    whole in memory)."""
    buffers: list[pickle.PickleBuffer] = []
    main = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    raws = [buffer.raw() for buffer in buffers]
    header = struct.pack(f"<8sQQ{len(raws)}Q", _BLOB_MAGIC, len(main), len(raws), *(r.nbytes for r in raws))
    db.execute("INSERT OR REPLACE INTO blobs VALUES (?, zeroblob(?))",
               (key, len(header) + len(main) + sum(r.nbytes for r in raws)))
    rowid = db.execute("SELECT rowid FROM blobs WHERE key = ?", (key,)).fetchone()[0]
    with db.blobopen("blobs", "value", rowid) as blob:
        blob.write(header)
        blob.write(main)
        for raw in raws:
            for start in range(0, raw.nbytes, _BLOB_CHUNK):
                blob.write(raw[start:start + _BLOB_CHUNK])


def _read_blob(db, key: str) -> object | None:
    """The value stored by :func:`_write_blob` (or, from an index of an earlier version,
    one plain pickle). The arrays' bytes are read in chunks into one buffer that the
    arrays then use as they are: memory holds them once, not as a blob and then arrays."""
    row = db.execute("SELECT rowid FROM blobs WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    with db.blobopen("blobs", "value", row[0], readonly=True) as blob:
        head = blob.read(24)
        if head[:8] != _BLOB_MAGIC:
            blob.seek(0)
            return pickle.loads(blob.read())
        main_length, n_buffers = struct.unpack("<QQ", head[8:])
        sizes = struct.unpack(f"<{n_buffers}Q", blob.read(8 * n_buffers))
        main = blob.read(main_length)
        data = memoryview(bytearray(sum(sizes)))
        filled = 0
        while filled < len(data):
            chunk = blob.read(min(_BLOB_CHUNK, len(data) - filled))
            if not chunk:
                raise EOFError("the stored index is shorter than its header says")
            data[filled:filled + len(chunk)] = chunk
            filled += len(chunk)
    offsets = itertools.accumulate(sizes, initial=0)
    return pickle.loads(main, buffers=[data[start:start + size] for start, size in zip(offsets, sizes)])


def store_derived(path: str | Path, items: dict[tuple, object]) -> None:
    """Add derived indexes (keyed as ``Annotation.cache``) to the database at ``path``
    (a file being built, renamed into place when complete: no journal, no sync)."""
    import sqlite3

    db = sqlite3.connect(str(path))
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        for key, value in sorted(items.items()):
            _write_blob(db, repr(key), value)
        db.commit()
    finally:
        db.close()


def read_gtf(path: str | Path) -> Annotation:
    """A GTF (plain or gzip) as an :class:`Annotation`: streamed into a temporary
    database, which is deleted at once (the open connection keeps it readable)."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix="imtfusion-annotation.", suffix=".sqlite")
    os.close(fd)
    try:
        os.unlink(tmp)
        write_database(path, tmp)
        annotation = load_annotation(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return annotation


SQLITE_MAGIC = b"SQLite format 3\x00"


def write_index(annotation: Annotation, path: str | Path) -> None:
    """Store the annotation with its derived indexes (``annotation.cache``) as an index
    file for :func:`load_annotation` (atomically)."""
    import sqlite3

    from imtfusion.outputs import atomic_path

    with atomic_path(path) as tmp:
        tmp.unlink()
        dst = sqlite3.connect(str(tmp))
        try:
            annotation.store.db.backup(dst)
        finally:
            dst.close()
        store_derived(tmp, annotation.cache)


def load_annotation(path: str | Path) -> Annotation:
    """Load a GTF (plain or gzip) or an index written by :func:`write_index`."""
    import ast
    import sqlite3

    path = Path(path)
    if not path.exists():
        raise AnnotationError(f"annotation not found: {path}; check the GTF path")
    with open(path, "rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        return read_gtf(path)
    try:
        store = _SqliteStore(path)
        meta = dict(store.db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != INDEX_FORMAT:
            raise AnnotationError(
                f"{path}: annotation index of another imtfusion version; delete it and rerun `imtfusion index-gtf`"
            )
        has_blob = store.db.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'gene_columns'").fetchone()[0]
        blob = store.db.execute("SELECT value FROM gene_columns").fetchone() if has_blob else None
        if blob is not None:
            genes = GeneTable.from_columns(pickle.loads(blob[0]))
        else:  # an index written before the blob existed
            genes = GeneTable(store.db.execute(
                "SELECT chrom, start, end, strand, gene_id, gene_name, gene_type FROM genes ORDER BY rowid"))
        annotation = Annotation(genes, store, source=meta["source"], checksum=meta["checksum"])
        annotation.notes = [meta["note"]] if meta.get("note") else []
        for (key,) in store.db.execute("SELECT key FROM blobs"):
            annotation.stored.add(ast.literal_eval(key))
    except (sqlite3.Error, pickle.UnpicklingError, KeyError, ValueError, SyntaxError) as exc:
        raise AnnotationError(
            f"{path}: the annotation index is damaged ({type(exc).__name__}); delete it and rerun `imtfusion index-gtf`"
        ) from None
    return annotation
