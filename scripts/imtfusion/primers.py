"""Primer BEDs of anchored multiplex PCR panels, and the reads that start at a primer.

An anchored multiplex PCR (AMP, FusionPlex-style) library reads one end of every
molecule from a gene-specific primer in a target exon: that read's 5' end is the
primer's 5' end, and its first bases are the primer's sequence, synthesised, not read
from the RNA. The other read starts at a ligated adapter, at a random place of the
partner, so the number of distinct partner-side starts of a junction
(:func:`imtfusion.umis.start_sites`) is what tells molecules apart, and true discordant
pairs hardly exist.

The BED is 0-based half-open, read once here (:func:`read_primer_bed`) into
:class:`Primer` records in the BAM's contig names; everything after works in those
coordinates. A primer on ``+`` primes reads that run forward from its start, one on
``-`` reads that run backward from its last base; a BED without a strand column (or
``.``) lets the read's own strand decide.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from imtfusion.errors import PrimerFileError
from imtfusion.model import Breakend
from imtfusion.targets import _aliases

#: a read's (unclipped) 5' end this many bases from a primer's 5' end still starts at it
#: (a primer's first bases trimmed, or an aligner's clip of a mismatch next to its end)
PRIMER_TOLERANCE = 3
STRANDS = ("+", "-", ".")
BED_FIX = "a primer BED line is 'chrom<TAB>start<TAB>end[<TAB>name[<TAB>score<TAB>strand]]', 0-based half-open"


@dataclass(frozen=True, slots=True, order=True)
class Primer:
    """One primer: BAM contig, 0-based half-open span, strand (``+``, ``-`` or ``.``), name."""

    chrom: str
    start: int
    end: int
    strand: str
    name: str

    @property
    def length(self) -> int:
        return self.end - self.start

    def primes(self, pos: int, reverse: bool) -> bool:
        """Whether a read whose 5'-most base is ``pos`` (0-based) on the strand given by
        ``reverse`` starts at this primer, within :data:`PRIMER_TOLERANCE`."""
        if self.strand == ("+" if reverse else "-"):
            return False
        five = self.end - 1 if reverse else self.start
        return abs(pos - five) <= PRIMER_TOLERANCE

    def bases_beyond(self, end: Breakend, reverse: bool) -> int | None:
        """Target bases a molecule primed here holds between the primer and the junction
        at ``end`` (the primer's own bases excluded), measured along the genome; None
        when a read primed here does not run toward ``end`` (another contig, or the
        junction behind the primer)."""
        if end.chrom != self.chrom:
            return None
        if not reverse and end.side == "L" and end.pos >= self.start:
            return max(0, end.pos - self.end + 1)
        if reverse and end.side == "R" and end.pos < self.end:
            return max(0, self.start - end.pos)
        return None


@dataclass(frozen=True)
class PrimerSet:
    """The primers of one BED, sorted, with a lookup by a read's 5' end."""

    source: str
    primers: tuple[Primer, ...]

    def __post_init__(self) -> None:
        by_chrom: dict[str, list[Primer]] = {}
        for p in self.primers:
            by_chrom.setdefault(p.chrom, []).append(p)
        object.__setattr__(self, "_by_chrom", {c: sorted(ps) for c, ps in by_chrom.items()})
        object.__setattr__(self, "_starts", {c: [p.start for p in ps] for c, ps in self._by_chrom.items()})
        object.__setattr__(self, "_longest", max((p.length for p in self.primers), default=0))

    def primer_at(self, chrom: str, pos: int, reverse: bool) -> Primer | None:
        """The primer a read starts at: its 5'-most base ``pos`` (0-based, BAM contig
        ``chrom``) and strand (``reverse``); the nearest when several are in reach; None
        when it starts at none."""
        primers = self._by_chrom.get(chrom)
        if not primers:
            return None
        starts = self._starts[chrom]
        lo = bisect.bisect_left(starts, pos - self._longest - PRIMER_TOLERANCE)
        hi = bisect.bisect_right(starts, pos + PRIMER_TOLERANCE)
        hits = [p for p in primers[lo:hi] if p.primes(pos, reverse)]
        if not hits:
            return None
        return min(hits, key=lambda p: (abs(pos - (p.end - 1 if reverse else p.start)), p))

    def primer_of_key(self, key: tuple, contig_names: Mapping[int, str]) -> tuple[Primer, bool] | None:
        """The primer a record starts at, from its duplicate key
        (:func:`imtfusion.evidence.dup_key`: reference id, unclipped 5' end -- one past
        the last base for a reverse record --, strand, ...), and the record's strand."""
        if not key or key[0] < 0 or key[0] not in contig_names:
            return None
        reverse = bool(key[2])
        pos = key[1] - 1 if reverse else key[1]
        primer = self.primer_at(contig_names[key[0]], pos, reverse)
        return (primer, reverse) if primer is not None else None


def _fail(path: Path, lineno: int, problem: str, fix: str = BED_FIX) -> PrimerFileError:
    return PrimerFileError(f"{path}: line {lineno}: {problem}; {fix}")


def _parse_line(path: Path, lineno: int, line: str, contigs: Mapping[str, int]) -> Primer:
    cells = line.rstrip("\n").split("\t") if "\t" in line else line.split()
    if not 3 <= len(cells) <= 12:
        raise _fail(path, lineno, f"{len(cells)} column(s), a BED line has 3 to 12")
    chrom, start_text, end_text = (c.strip() for c in cells[:3])
    try:
        start, end = int(start_text), int(end_text)
    except ValueError:
        raise _fail(path, lineno, f"start {start_text!r} or end {end_text!r} is not an integer") from None
    if start < 0 or start >= end:
        raise _fail(path, lineno, f"start {start} must be >= 0 and smaller than end {end}",
                    "BED is 0-based half-open: a primer on bases 101-120 (1-based) is '100<TAB>120'")
    bam_chrom = next((a for a in _aliases(chrom) if a in contigs), None)
    if bam_chrom is None:
        shown = ", ".join(sorted(contigs)[:5])
        raise _fail(path, lineno, f"contig {chrom!r} is not in the BAM (its contigs: {shown}, ...)",
                    "use the BAM's contig names (with or without 'chr'), or the BED of this assembly")
    if end > contigs[bam_chrom]:
        raise _fail(path, lineno, f"end {end} is past the end of {bam_chrom} ({contigs[bam_chrom]} bases)",
                    "use the BED of the assembly the BAM was aligned to")
    name = cells[3].strip() if len(cells) > 3 and cells[3].strip() else f"{bam_chrom}:{start + 1}-{end}"
    strand = cells[5].strip() if len(cells) > 5 else "."
    if strand not in STRANDS:
        raise _fail(path, lineno, f"strand {strand!r} is not +, - or .")
    return Primer(bam_chrom, start, end, strand, name)


def read_primer_bed(path: str | Path, contigs: Mapping[str, int]) -> PrimerSet:
    """Read a primer BED (BED3 or more: name, score, strand optional; ``#``, ``track``
    and ``browser`` lines skipped) against the BAM's contigs (name -> length); contig
    names are matched with or without ``chr``. Raises :class:`PrimerFileError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise PrimerFileError(f"{path}: cannot read the primer BED ({reason}); give the panel's primer BED") from None
    primers = []
    for lineno, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        primers.append(_parse_line(path, lineno, line, contigs))
    if not primers:
        raise PrimerFileError(f"{path}: the primer BED holds no primer; {BED_FIX}, one line per primer")
    return PrimerSet(str(path), tuple(sorted(set(primers))))
