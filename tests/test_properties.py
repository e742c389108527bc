"""Property-based tests (hypothesis) of the evidence parser and the junction clustering,
and a fuzz pass over the BAM, GTF and sample-sheet readers."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pysam
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imtfusion.annotation import read_gtf
from imtfusion.calling import call_candidates, canonical, junction_invariant, shift_junction
from imtfusion.commands.index_bam import index_bam
from imtfusion.errors import ImtfusionError
from imtfusion.evidence import cigar_geometry, collect_evidence, make_segment, parse_sa_tag
from imtfusion.model import Breakend, SplitRead
from imtfusion.params import CallParameters
from imtfusion.pipeline import run_sample
from imtfusion.samplesheet import read_sample_sheet
from imtfusion.targets import ContigMap, resolve_targets
from test_calling import PARTP_ALK_READ, TARGETS, add_background, make_toy

OPS = "MIDNSH=X"

# ----------------------------------------------------------------- strategies
core_ops = st.lists(st.tuples(st.sampled_from([0, 1, 2, 3, 7, 8]), st.integers(1, 60)), min_size=1, max_size=6)


@st.composite
def cigars(draw):
    """Valid CIGARs: optional H/S clips around a core with at least one M."""
    core = draw(core_ops)
    if not any(op in (0, 7, 8) for op, _ in core):
        core.append((0, draw(st.integers(1, 60))))
    lead = draw(st.lists(st.tuples(st.sampled_from([5, 4]), st.integers(1, 40)), max_size=2))
    trail = draw(st.lists(st.tuples(st.sampled_from([4, 5]), st.integers(1, 40)), max_size=2))
    # H must be outermost
    lead.sort(key=lambda t: t[0] != 5)
    trail.sort(key=lambda t: t[0] == 5)
    return lead + core + trail


def cigar_string(ops) -> str:
    return "".join(f"{n}{'MIDNSHP=X'[op]}" for op, n in ops)


@given(cigars(), st.booleans(), st.integers(0, 10_000))
def test_segment_geometry_is_consistent(ops, reverse, pos):
    lead, aligned, trail, ref = cigar_geometry(ops)
    seg = make_segment("c", pos, reverse, ops, 60)
    assert 0 <= seg.read_start <= seg.read_end <= seg.read_length
    assert seg.read_end - seg.read_start == aligned
    assert seg.ref_end - seg.ref_start == ref > 0
    assert seg.read_length == lead + aligned + trail


@given(st.text(max_size=200))
def test_sa_parser_never_crashes(text):
    for seg in parse_sa_tag(text):
        assert seg.ref_start >= 0 and seg.read_end >= seg.read_start


@given(st.lists(st.tuples(st.sampled_from(["chr1", "chr2"]), st.integers(1, 10**6), st.sampled_from("+-"), cigars(),
                          st.integers(0, 255)), max_size=4))
def test_sa_parser_reads_what_it_is_given(entries):
    tag = "".join(f"{c},{p},{s},{cigar_string(ops)},{q},0;" for c, p, s, ops, q in entries)
    segs = parse_sa_tag(tag)
    assert [(s.chrom, s.ref_start + 1, "-" if s.reverse else "+", s.mapq) for s in segs] == [
        (c, p, s, q) for c, p, s, _, q in entries
    ]


breakends = st.builds(Breakend, st.sampled_from(["chr1", "chr2"]), st.integers(100, 10**6), st.sampled_from("LR"))


@given(breakends, breakends, st.integers(-20, 20))
def test_shifting_a_junction_keeps_its_invariant(a, b, d):
    na, nb = shift_junction(a, b, d)
    assert junction_invariant(na, nb) == junction_invariant(a, b)
    assert shift_junction(na, nb, -d) == (a, b)


@given(breakends, breakends)
def test_canonical_order_is_the_same_from_both_ends(a, b):
    r1 = SplitRead("f", a, b, 30, 40, 60, 60, "supplementary")
    r2 = SplitRead("f", b, a, 40, 30, 60, 60, "supplementary")
    assert (canonical(r1).end_a, canonical(r1).end_b) == (canonical(r2).end_a, canonical(r2).end_b)


# ------------------------------------------- random reads through the whole caller
TOY = make_toy()
LOCI_GENES = {"ALK": ("chr2", 10000, 32400), "ETV6": ("chr3", 3000, 9100)}


@st.composite
def random_record_specs(draw):
    """A fragment: a read in a target locus with a random CIGAR and strand, maybe an SA
    tag to anywhere, maybe a mate anywhere."""
    target = draw(st.sampled_from(sorted(LOCI_GENES)))
    chrom, lo, hi = LOCI_GENES[target]
    pos = draw(st.integers(lo, hi - 200))
    ops = draw(cigars())
    reverse = draw(st.booleans())
    sa = draw(st.one_of(st.none(), st.tuples(st.sampled_from(list(TOY.contigs)), st.integers(1, 8000),
                                              st.sampled_from("+-"), cigars(), st.integers(0, 60))))
    mate = draw(st.one_of(st.none(), st.tuples(st.sampled_from(list(TOY.contigs)), st.integers(0, 8000), st.booleans())))
    supplementary = sa is not None and draw(st.booleans())
    return chrom, pos, ops, reverse, sa, mate, supplementary


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(random_record_specs(), min_size=1, max_size=25))
def test_random_reads_never_crash_and_count_fragments_once(tmp_path_factory, specs):
    tmp = tmp_path_factory.mktemp("prop")
    header = pysam.AlignmentHeader.from_dict(
        {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": c, "LN": n} for c, n in TOY.contigs.items()]}
    )
    unsorted = tmp / "u.bam"
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        for i, (chrom, pos, ops, reverse, sa, mate, supplementary) in enumerate(specs):
            for copy in range(2):  # the same fragment name twice: both mates/records
                rec = pysam.AlignedSegment(header)
                rec.query_name = f"frag{i}"
                rec.reference_name = chrom
                rec.reference_start = pos + copy * 7
                rec.cigartuples = ops
                length = sum(n for op, n in ops if op in (0, 1, 4, 7, 8))
                rec.query_sequence = "".join(random.Random(i).choice("ACGT") for _ in range(length))
                rec.mapping_quality = 60
                rec.is_reverse = reverse
                if sa is not None:
                    c, p, s, sops, q = sa
                    rec.set_tag("SA", f"{c},{p},{s},{cigar_string(sops)},{q},0;")
                    rec.is_supplementary = supplementary and copy == 1
                if mate is not None:
                    rec.is_paired = True
                    rec.next_reference_name = mate[0]
                    rec.next_reference_start = mate[1]
                    rec.mate_is_reverse = mate[2]
                out.write(rec)
    bam = tmp / "s.bam"
    pysam.sort("-o", str(bam), str(unsorted))
    pysam.index(str(bam))
    gtf = TOY.write_gtf(tmp / "a.gtf")
    ann = read_gtf(gtf)
    params = CallParameters(min_fragments=1)
    with pysam.AlignmentFile(str(bam)) as handle:
        contigs = ContigMap.build(ann.contigs, dict(zip(handle.references, handle.lengths)))
        loci = resolve_targets(ann, TARGETS, params.margin, contigs, str(bam))
        evidence = collect_evidence(handle, loci, params)
    candidates = call_candidates(evidence, loci, ann, contigs, params)
    names = {f"frag{i}" for i in range(len(specs))}
    for c in candidates:
        # each fragment once: split and discordant counts never overlap
        assert c.fragments == len(c.split_fragments | c.discordant_fragments) <= len(names)
        assert c.split_reads + c.discordant_pairs == c.fragments
        # one end in a target gene; the other in a gene or marked intergenic
        ends = [(c.end5, c.gene5), (c.end3, c.gene3)]
        assert any(l.contains(e.chrom, e.pos) for e, _ in ends for l in loci)
        for e, g in ends:
            inside = [x.gene_id for x in ann.genes_overlapping(e.chrom, e.pos)]
            assert g.intergenic or g.gene_id in inside
    # and the full pipeline too (filters, annotation, outputs)
    result = run_sample(bam, gtf, "P1", targets=TARGETS, params=params)
    assert len(result.called) + len(result.discarded) == len(candidates)


# ------------------------------------------------------------------- fuzzing
def _mutate(data: bytes, rng: random.Random, n: int) -> bytes:
    buf = bytearray(data)
    for _ in range(n):
        kind = rng.random()
        i = rng.randrange(len(buf))
        if kind < 0.6:
            buf[i] = rng.randrange(256)
        elif kind < 0.8:
            del buf[i:i + rng.randrange(1, 20)]
        else:
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
    return bytes(buf)


@pytest.fixture(scope="module")
def fuzz_inputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    toy = make_toy()
    add_background(toy)
    for i in range(4):
        toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)])
    bam = toy.write_bam(tmp / "good.bam")
    gtf = toy.write_gtf(tmp / "good.gtf")
    return tmp, bam, gtf


def _run_or_own_error(fn) -> None:
    try:
        fn()
    except ImtfusionError:
        pass


# htslib complains (through pysam's destructors) about the garbage it is fed: expected
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_fuzzed_bams_fail_only_with_our_errors(fuzz_inputs, tmp_path):
    _, bam, gtf = fuzz_inputs
    rng = random.Random(11)
    raw = bam.read_bytes()
    plain = gzip.decompress(raw)
    for k in range(200):
        target = tmp_path / f"m{k}.bam"
        if k % 2:
            target.write_bytes(_mutate(raw, rng, rng.randrange(1, 4)))  # damaged BGZF blocks
        else:
            # valid compression around damaged BAM records/header
            with pysam.BGZFile(str(target), "wb") as out:
                out.write(_mutate(plain, rng, rng.randrange(1, 4)))

        def attempt(target=target):
            index_bam(target, Path(str(target) + ".bai"))
            run_sample(target, gtf, "F1", targets=TARGETS)

        _run_or_own_error(attempt)


def test_fuzzed_gtfs_fail_only_with_our_errors(fuzz_inputs, tmp_path):
    _, bam, gtf = fuzz_inputs
    rng = random.Random(12)
    raw = gtf.read_bytes()
    for k in range(60):
        target = tmp_path / f"m{k}.gtf"
        target.write_bytes(_mutate(raw, rng, rng.randrange(1, 6)))
        _run_or_own_error(lambda target=target: run_sample(bam, target, "F1", targets=TARGETS))


def test_fuzzed_sample_sheets_fail_only_with_our_errors(tmp_path):
    rng = random.Random(13)
    raw = b"\xef\xbb\xbfsample\tbam\r\nS1\ta.bam\r\n\r\nS-2\tb/c.bam\n# note\n"
    for k in range(300):
        target = tmp_path / f"m{k}.tsv"
        target.write_bytes(_mutate(raw, rng, rng.randrange(1, 6)))
        _run_or_own_error(lambda target=target: read_sample_sheet(target))


# ------------------------------------------- partner lookup vs a pyranges join
gene_rows = st.lists(
    st.tuples(st.sampled_from(["chr1", "chr2", "7"]), st.integers(0, 5_000), st.integers(1, 3_000),
              st.sampled_from("+-")),
    min_size=1, max_size=40,
)


def _gene_annotation(rows):
    """(gene rows, an Annotation of just those genes, read from a GTF of gene lines) from
    (contig, start, length, strand)."""
    import tempfile

    table = [(c, s, s + length, strand, f"G{i}", f"GENE{i}", "protein_coding")
             for i, (c, s, length, strand) in enumerate(rows)]
    with tempfile.TemporaryDirectory() as tmp:
        gtf = Path(tmp) / "genes.gtf"
        gtf.write_text("".join(f'{c}\tt\tgene\t{s + 1}\t{e}\t.\t{strand}\t.\tgene_id "{gid}"; gene_name "{name}"; '
                               f'gene_type "{gtype}";\n' for c, s, e, strand, gid, name, gtype in table))
        return table, read_gtf(gtf)


@settings(max_examples=60, deadline=None)
@given(rows=gene_rows, positions=st.lists(st.tuples(st.sampled_from(["chr1", "chr2", "7", "chrX"]),
                                                   st.integers(0, 9_000)), min_size=1, max_size=30))
def test_partner_lookup_equals_a_pyranges_join(rows, positions):
    """The annotation's interval index finds, for any position, the genes a pyranges join
    of the position against every gene finds (pyranges is the reference here; the call
    does not import it: pandas alone costs more than a whole call)."""
    import pandas as pd
    import pyranges as pr

    table, annotation = _gene_annotation(rows)
    genes = pr.PyRanges(pd.DataFrame(table, columns=["Chromosome", "Start", "End", "Strand", "gene_id", "gene_name",
                                                     "gene_type"]))
    query = pr.PyRanges(pd.DataFrame({"Chromosome": [c for c, _ in positions], "Start": [p for _, p in positions],
                                      "End": [p + 1 for _, p in positions]}))
    expected: dict[tuple[str, int], set[str]] = {p: set() for p in positions}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joined = query.join(genes, suffix="_gene", apply_strand_suffix=False).df
    for row in joined.itertuples(index=False):
        expected[(str(row.Chromosome), int(row.Start))].add(str(row.gene_id))
    for chrom, pos in positions:
        assert {g.gene_id for g in annotation.genes_overlapping(chrom, pos)} == expected[(chrom, pos)]


@settings(max_examples=60, deadline=None)
@given(rows=gene_rows, positions=st.lists(st.tuples(st.sampled_from(["chr1", "chr2", "7", "chrX"]),
                                                   st.integers(0, 9_000)), min_size=1, max_size=30),
       max_distance=st.sampled_from([0, 50, 1_000, 1_000_000]))
def test_nearest_genes_equal_a_scan_of_every_gene(rows, positions, max_distance):
    """nearest_genes (bisection within the contig's run of genes) against the distance
    to every gene of the table, computed one by one."""
    table, annotation = _gene_annotation(rows)
    for chrom, pos in positions:
        expected = []
        for c, start, end, _, gene_id, _, _ in table:
            if c != chrom:
                continue
            distance = 0 if start <= pos < end else (start - pos if pos < start else pos - end + 1)
            if distance <= max_distance:
                expected.append((distance, start, gene_id))
        found = annotation.nearest_genes(chrom, pos, max_distance)
        assert [(d, g.start, g.gene_id) for g, d in found] == sorted(expected)
