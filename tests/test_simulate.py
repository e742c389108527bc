"""Tests of the simulator (imtfusion_tools.sim) and checks of the committed demo data.

Most tests are fast and pure Python; the STAR test is skipped when STAR is not
on PATH.  The demo checks read resources/demo independently of the simulator
code where it matters (GTF parsed here, BAM read with pysam).
"""

from __future__ import annotations

import csv
import re
import shutil
from collections import Counter
from pathlib import Path

import pysam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imtfusion.errors import ExternalToolError
from imtfusion_tools.sim import align as sim_align
from imtfusion_tools.sim.demo import DEMO_SEED, demo_samples, split_reads_at_breakpoints
from imtfusion_tools.sim.genome import (
    DESIGNED_FUSIONS,
    DOMAINS,
    MAX_RUN,
    DecoySpec,
    Genome,
    build_genome,
    EXTENDED_DESIGNED_FUSIONS,
    default_layout,
    demo_layout,
    fusion_frames,
    revcomp,
    translate,
    write_fasta,
    write_gtf,
)
from imtfusion_tools.sim.reads import (
    MIN_ANCHOR,
    TRUTH_COLUMNS,
    ChimeraSpec,
    LibrarySpec,
    SampleSpec,
    build_chimeric_transcript,
    fragment_length_stats,
    simulate_sample,
)

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"


@pytest.fixture(scope="module")
def genome() -> Genome:
    return build_genome(default_layout(), DEMO_SEED)


@pytest.fixture(scope="module")
def demo_genome() -> Genome:
    """The committed demo's genome: the layout above plus the late extended targets."""
    return build_genome(demo_layout(), DEMO_SEED)


def _no_errors(**kw: object) -> LibrarySpec:
    return LibrarySpec(error_rate=0.0, **kw)  # type: ignore[arg-type]


def _small_expression(genome: Genome, genes: tuple[str, ...] = ("ALK", "TPM3")) -> tuple[tuple[str, int], ...]:
    return tuple((genome.gene(g).canonical.name, 40) for g in genes)


# --------------------------------------------------------------------------
# gene models
# --------------------------------------------------------------------------


def test_gene_models_follow_the_design(genome: Genome) -> None:
    for spec in genome.layout.genes:
        gene = genome.gene(spec.name)
        tx = gene.canonical
        assert (gene.chrom, gene.strand) == (spec.chrom, spec.strand)
        assert len(tx.exons) == spec.n_exons
        protein = tx.protein(genome)
        assert len(protein) == spec.aa_length and protein[0] == "M" and "*" not in protein
        assert translate(tx.cds_sequence(genome))[-1] == "*"


def test_real_strands_and_exon_counts(genome: Genome) -> None:
    expected = {
        "ALK": ("chr2", "-", 29, 1620), "ROS1": ("chr6", "-", 43, 2347), "ETV6": ("chr12", "+", 8, 452),
        "NTRK3": ("chr15", "-", 20, 839), "TPM3": ("chr1", "-", 10, 285), "TPM4": ("chr19", "+", 8, 248),
        "CLTC": ("chr17", "+", 32, 1675), "RANBP2": ("chr2", "+", 29, 3224), "EML4": ("chr2", "+", 23, 981),
        "TFG": ("chr3", "+", 8, 400), "YWHAE": ("chr17", "-", 6, 255),
    }
    for name, (chrom, strand, n, aa) in expected.items():
        tx = genome.gene(name).canonical
        assert (tx.chrom, tx.strand, len(tx.exons), len(tx.protein(genome))) == (chrom, strand, n, aa), name
    background = [g for g in genome.genes if g.name not in expected and g.name != "BCL2L14"]
    assert len(background) >= 15 and {g.strand for g in background} == {"+", "-"}


def test_introns_are_gt_ag_and_exons_in_transcript_order(genome: Genome) -> None:
    for gene in genome.genes:
        for tx in gene.transcripts:
            starts = [e.start for e in tx.exons]
            assert starts == sorted(starts, reverse=tx.strand == "-"), tx.name
            assert [e.number for e in tx.exons] == list(range(1, len(tx.exons) + 1))
            for a, b in zip(tx.exons, tx.exons[1:]):
                if tx.strand == "+":
                    intron = genome.fetch(tx.chrom, a.end + 1, b.start - 1)
                else:
                    intron = revcomp(genome.fetch(tx.chrom, b.end + 1, a.start - 1))
                assert intron.startswith("GT") and intron.endswith("AG")
                assert 60 <= len(intron) <= 7000


def test_literature_coordinates_fall_in_the_right_exons(genome: Genome) -> None:
    alk = genome.gene("ALK").canonical
    assert alk.exon_aa_range(20)[0] == 1058  # type: ignore[index]
    assert alk.exon_aa_range(19)[1] < DOMAINS["ALK"][1]  # type: ignore[index]
    ros1 = genome.gene("ROS1").canonical
    assert ros1.exon_aa_range(35)[0] < DOMAINS["ROS1"][1]  # type: ignore[index]
    assert ros1.exon_aa_range(34)[0] < ros1.exon_aa_range(35)[0]  # type: ignore[index]
    etv6 = genome.gene("ETV6").canonical
    pnt_lo, pnt_hi = DOMAINS["ETV6"][1:]
    assert etv6.exon_aa_range(2)[1] < pnt_lo <= etv6.exon_aa_range(3)[1]  # type: ignore[index]
    assert etv6.exon_aa_range(4)[0] <= pnt_hi <= etv6.exon_aa_range(4)[1]  # type: ignore[index]
    ntrk3 = genome.gene("NTRK3").canonical
    assert ntrk3.exon_aa_range(15)[0] < DOMAINS["NTRK3"][1]  # type: ignore[index]
    assert ntrk3.exon_aa_range(14)[1] < DOMAINS["NTRK3"][1]  # type: ignore[index]
    # partners keep the expected protein lengths at their breakpoints
    assert genome.gene("TPM3").canonical.exon_aa_range(7)[1] == 221  # type: ignore[index]
    assert genome.gene("EML4").canonical.exon_aa_range(13)[1] == 496  # type: ignore[index]


def test_alk_intron_19_is_long(genome: Genome) -> None:
    alk = genome.gene("ALK").canonical
    assert alk.exon(19).start - alk.exon(20).end - 1 >= 5000


def test_designed_fusions_are_in_frame(genome: Genome) -> None:
    for g5, e5, g3, e3 in DESIGNED_FUSIONS:
        f5, f3 = fusion_frames(genome, g5, e5, g3, e3)
        assert f5 == f3, (g5, g3)
        ct = build_chimeric_transcript(genome, ChimeraSpec(g5, e5, g3, e3, 1))
        assert ct.reading_frame == "in-frame" and ct.junction_type == "splice_site"


def test_out_of_frame_is_detected(genome: Genome) -> None:
    ct = build_chimeric_transcript(genome, ChimeraSpec("TPM3", 6, "ALK", 20, 1))
    f5, f3 = fusion_frames(genome, "TPM3", 6, "ALK", 20)
    assert (ct.reading_frame == "in-frame") == (f5 == f3)
    assert build_chimeric_transcript(genome, ChimeraSpec("ETV6", 5, "ALK", 20, 1)).reading_frame == "out-of-frame"


def test_eml4_alk_is_a_nearby_inversion(genome: Genome) -> None:
    eml4, alk = genome.gene("EML4"), genome.gene("ALK")
    assert eml4.chrom == alk.chrom and eml4.strand != alk.strand
    assert 100_000 <= eml4.start - alk.end <= 1_000_000


def test_non_canonical_transcripts_shift_exon_numbers(genome: Genome) -> None:
    for gene, skipped in (("ALK", 4), ("ROS1", 10), ("ETV6", 2)):
        g = genome.gene(gene)
        assert len(g.transcripts) == 2
        can, alt = g.canonical, next(t for t in g.transcripts if not t.canonical)
        assert len(alt.exons) == len(can.exons) - 1 and alt.length < can.length
        later = can.exon(skipped + 1)
        assert (alt.exon(skipped).start, alt.exon(skipped).end) == (later.start, later.end)
        assert alt.exon(skipped).exon_id == later.exon_id
        assert len(alt.protein(genome)) == len(can.protein(genome)) - can.exon(skipped).length // 3


def test_readthrough_neighbour(genome: Genome) -> None:
    etv6, bcl = genome.gene("ETV6"), genome.gene("BCL2L14")
    assert etv6.chrom == bcl.chrom and etv6.strand == bcl.strand == "+"
    assert 1_000 <= bcl.start - etv6.end <= 10_000
    last = etv6.canonical.exon(8)
    assert genome.fetch("chr12", last.end + 1, last.end + 2) == "GT"
    rt = build_chimeric_transcript(genome, ChimeraSpec("ETV6", 8, "BCL2L14", 2, 1))
    assert rt.breakpoint5 == ("chr12", last.end)
    assert rt.breakpoint3 == ("chr12", bcl.canonical.exon(2).start)


def test_sequence_has_realistic_gc_and_no_long_runs(genome: Genome) -> None:
    seq = "".join(c.sequence for c in genome.contigs)
    gc = (seq.count("G") + seq.count("C")) / len(seq)
    assert 0.42 <= gc <= 0.48
    longest = max(len(m.group(0)) for m in re.finditer(r"A+|C+|G+|T+", seq))
    assert longest <= MAX_RUN + 3  # seams between designed pieces may add a few
    assert 1_000_000 <= genome.size <= 5_000_000


def test_subset_layout_keeps_gene_sequences(genome: Genome) -> None:
    small = build_genome(default_layout().subset(["TPM3", "ALK"]), DEMO_SEED)
    assert [c.name for c in small.contigs] == ["chr1", "chr2"]
    for name in ("TPM3", "ALK"):
        assert small.gene(name).canonical.sequence(small) == genome.gene(name).canonical.sequence(genome)


def test_paralog_decoy_copies_exons_with_divergence() -> None:
    layout = default_layout().subset(["ALK"]).with_decoy(DecoySpec("ALKP1", "ALK", 20, 25, 0.04, "chr2", "-"))
    g = build_genome(layout, 3)
    decoy = g.gene("ALKP1").canonical
    alk = g.gene("ALK").canonical
    assert g.gene("ALKP1").gene_type == "unprocessed_pseudogene" and not decoy.is_coding
    assert len(decoy.exons) == 6
    src = alk.sequence(g)[alk.exon_offset(20) : alk.exon_offset(26)]
    copy = decoy.sequence(g)
    assert len(src) == len(copy)
    diff = sum(a != b for a, b in zip(src, copy)) / len(src)
    assert 0.035 <= diff <= 0.045


# --------------------------------------------------------------------------
# files: GTF and FASTA
# --------------------------------------------------------------------------


def _parse_gtf(path: Path) -> list[tuple[list[str], dict[str, list[str]]]]:
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        assert len(f) == 9, line
        attrs: dict[str, list[str]] = {}
        for k, v in re.findall(r'(\w+) "?([^";]+)"?;', f[8]):
            attrs.setdefault(k, []).append(v)
        out.append((f, attrs))
    return out


def test_gtf_is_gencode_like(genome: Genome, tmp_path: Path) -> None:
    path = write_gtf(genome, tmp_path / "a.gtf")
    recs = _parse_gtf(path)
    order = [c.name for c in genome.contigs]
    keys = [(order.index(f[0]), int(f[3])) for f, _ in recs]
    assert keys == sorted(keys)
    assert {f[2] for f, _ in recs} == {"gene", "transcript", "exon", "CDS", "UTR", "start_codon", "stop_codon"}
    for f, a in recs:
        assert re.fullmatch(r"ENSG9\d{10}\.1", a["gene_id"][0])
        if f[2] == "gene":
            assert set(a) == {"gene_id", "gene_type", "gene_name", "level"}
            continue
        for key in ("transcript_id", "transcript_type", "transcript_name", "gene_name", "gene_type", "level"):
            assert key in a
        if f[2] != "transcript":
            assert "exon_number" in a and re.fullmatch(r"ENSE9\d{10}\.1", a["exon_id"][0])
        if f[2] in ("CDS", "start_codon", "stop_codon"):
            assert f[7] in "012"
        else:
            assert f[7] == "."
    canon = {a["transcript_name"][0] for f, a in recs if f[2] == "transcript" and "Ensembl_canonical" in a.get("tag", [])}
    mane = {a["transcript_name"][0] for f, a in recs if f[2] == "transcript" and "MANE_Select" in a.get("tag", [])}
    assert canon == mane == {g.canonical.name for g in genome.genes}


def test_gtf_cds_phases_match_the_sequence(genome: Genome, tmp_path: Path) -> None:
    recs = _parse_gtf(write_gtf(genome, tmp_path / "a.gtf"))
    by_tx: dict[str, list[list[str]]] = {}
    for f, a in recs:
        if f[2] == "CDS":
            by_tx.setdefault(a["transcript_id"][0], []).append(f)
    assert by_tx
    for tid, cds in by_tx.items():
        tx = genome.transcript(tid)
        cds.sort(key=lambda f: int(f[3]), reverse=tx.strand == "-")
        done = 0
        seq = ""
        for f in cds:
            assert int(f[7]) == (3 - done % 3) % 3, tid
            s, e = int(f[3]), int(f[4])
            piece = genome.fetch(tx.chrom, s, e)
            seq += piece if tx.strand == "+" else revcomp(piece)
            done += e - s + 1
        assert seq == tx.cds_sequence(genome)[:-3]


def test_fasta_is_60_columns_and_indexed(genome: Genome, tmp_path: Path) -> None:
    path = write_fasta(genome, tmp_path / "g.fa")
    lines = path.read_text().splitlines()
    assert max(len(x) for x in lines if not x.startswith(">")) == 60
    with pysam.FastaFile(str(path)) as fa:
        assert list(fa.references) == [c.name for c in genome.contigs]
        alk = genome.gene("ALK").canonical.exon(20)
        assert fa.fetch("chr2", alk.start - 1, alk.end) == genome.fetch("chr2", alk.start, alk.end)


# --------------------------------------------------------------------------
# fusion transcripts
# --------------------------------------------------------------------------


def test_fusion_sequence_and_truth_at_splice_sites(genome: Genome) -> None:
    ct = build_chimeric_transcript(genome, ChimeraSpec("TPM3", 7, "ALK", 20, 30))
    tpm3, alk = ct.transcript5, ct.transcript3
    s5, s3 = tpm3.sequence(genome), alk.sequence(genome)
    cut5 = tpm3.exon_offset(8)
    cut3 = alk.exon_offset(20)
    assert ct.sequence == s5[:cut5] + s3[cut3:]
    assert ct.junction == cut5
    # both genes are on the minus strand: last 5' base = lowest coordinate of TPM3 exon 7,
    # first 3' base = highest coordinate of ALK exon 20
    assert ct.breakpoint5 == ("chr1", tpm3.exon(7).start)
    assert ct.breakpoint3 == ("chr2", alk.exon(20).end)
    row = ct.truth_row("S1")
    assert tuple(row) == TRUTH_COLUMNS
    assert row["fusion"] == "TPM3::ALK" and row["exon5"] == "7" and row["exon3"] == "20"
    assert row["transcript5"] == tpm3.transcript_id and row["reading_frame"] == "in-frame"


def test_plus_strand_breakpoints(genome: Genome) -> None:
    ct = build_chimeric_transcript(genome, ChimeraSpec("CLTC", 31, "ALK", 20, 1))
    assert ct.breakpoint5 == ("chr17", genome.gene("CLTC").canonical.exon(31).end)
    ct = build_chimeric_transcript(genome, ChimeraSpec("TPM3", 7, "ETV6", 3, 1))
    assert ct.breakpoint3 == ("chr12", genome.gene("ETV6").canonical.exon(3).start)


def test_intronic_and_exonic_junctions(genome: Genome) -> None:
    base = build_chimeric_transcript(genome, ChimeraSpec("EML4", 13, "ALK", 20, 1))
    intr = build_chimeric_transcript(genome, ChimeraSpec("EML4", 13, "ALK", 20, 1, offset3=50))
    alk20 = genome.gene("ALK").canonical.exon(20)
    assert intr.junction_type == "intronic"
    assert intr.breakpoint3 == ("chr2", alk20.end + 50)
    kept = revcomp(genome.fetch("chr2", alk20.end + 1, alk20.end + 50))
    assert intr.sequence == base.sequence[: base.junction] + kept + base.sequence[base.junction :]
    assert kept.endswith("AG")
    exo = build_chimeric_transcript(genome, ChimeraSpec("EML4", 13, "ALK", 20, 1, offset5=-10))
    assert exo.junction_type == "exonic" and exo.junction == base.junction - 10
    assert exo.breakpoint5 == ("chr2", genome.gene("EML4").canonical.exon(13).end - 10)
    with pytest.raises(ValueError):
        build_chimeric_transcript(genome, ChimeraSpec("EML4", 13, "ALK", 20, 1, offset3=100_000))


@settings(max_examples=40, deadline=None)
@given(off5=st.integers(-40, 40), off3=st.integers(-40, 40))
def test_junction_bases_match_the_genome(off5: int, off3: int) -> None:
    genome = _GENOME_CACHE.setdefault("g", build_genome(default_layout().subset(["EML4", "ALK"]), DEMO_SEED))
    ct = build_chimeric_transcript(genome, ChimeraSpec("EML4", 13, "ALK", 20, 1, off5, off3))
    (c5, p5), (c3, p3) = ct.breakpoint5, ct.breakpoint3
    assert ct.sequence[ct.junction - 1] == genome.fetch(c5, p5, p5)  # EML4 is plus
    assert ct.sequence[ct.junction] == revcomp(genome.fetch(c3, p3, p3))  # ALK is minus
    expected = "splice_site" if off5 == off3 == 0 else "exonic" if min(off5, off3) < 0 else "intronic"
    assert ct.junction_type == expected


_GENOME_CACHE: dict[str, Genome] = {}


def test_chimera_spec_parse() -> None:
    assert ChimeraSpec.parse("TPM3:7:ALK:20:40") == ChimeraSpec("TPM3", 7, "ALK", 20, 40)
    assert ChimeraSpec.parse("EML4:13:ALK:20:10:0:35").offset3 == 35
    for bad in ("TPM3:7:ALK:20", "TPM3:x:ALK:20:4", "TPM3:0:ALK:20:4", "A:1:B:2:3:4"):
        with pytest.raises(ValueError):
            ChimeraSpec.parse(bad)


# --------------------------------------------------------------------------
# reads
# --------------------------------------------------------------------------


def _sources(genome: Genome, sim) -> dict[str, str]:  # type: ignore[no-untyped-def]
    seqs = {t.name: t.sequence(genome) for t in genome.transcripts}
    for ct in sim.fusions + sim.readthroughs:
        seqs[ct.name] = ct.sequence
    return seqs


def test_same_seed_same_fastqs(genome: Genome, tmp_path: Path) -> None:
    spec = SampleSpec("S1", 7, fusions=(ChimeraSpec("TPM3", 7, "ALK", 20, 10, body_fragments=5),),
                      expression=_small_expression(genome))
    a = simulate_sample(genome, spec).write_fastqs(tmp_path / "a")
    b = simulate_sample(genome, spec).write_fastqs(tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    other = SampleSpec("S1", 8, fusions=spec.fusions, expression=spec.expression)
    c = simulate_sample(genome, other).write_fastqs(tmp_path / "c")
    assert c[0].read_bytes() != a[0].read_bytes()


def test_read_names_do_not_encode_truth(genome: Genome) -> None:
    sim = simulate_sample(genome, SampleSpec("IMTX", 1, fusions=(ChimeraSpec("TPM3", 7, "ALK", 20, 10),),
                                             expression=_small_expression(genome)))
    names = [f.name for f in sim.fragments]
    assert all(re.fullmatch(r"IMTX:\d{6}", n) for n in names)
    assert names == sorted(names)
    kinds = [f.kind for f in sim.fragments]
    assert kinds != sorted(kinds)  # shuffled: fusion fragments are not grouped


@pytest.mark.parametrize("strandedness", ["reverse", "forward", "unstranded"])
def test_read_pair_geometry_and_strandedness(genome: Genome, strandedness: str) -> None:
    lib = _no_errors(read_length=100, strandedness=strandedness)
    sim = simulate_sample(genome, SampleSpec("S1", 3, lib, expression=_small_expression(genome, ("ALK", "ETV6", "GAPDH"))))
    seqs = _sources(genome, sim)
    for f in sim.fragments:
        frag = seqs[f.source][f.start : f.end]
        sense, anti = (f.read1, f.read2) if f.r1_sense else (f.read2, f.read1)
        assert sense == frag[: len(sense)]
        assert anti == revcomp(frag[len(frag) - len(anti) :])
        assert len(f.read1) == min(100, len(frag)) and len(f.qual1) == len(f.read1)
    share = sum(f.r1_sense for f in sim.fragments) / len(sim.fragments)
    if strandedness == "reverse":
        assert share == 0
    elif strandedness == "forward":
        assert share == 1
    else:
        assert 0.35 < share < 0.65


def test_fragment_lengths_and_ffpe_overlap(genome: Genome) -> None:
    expr = _small_expression(genome, ("GAPDH", "ACTB", "EEF1A1", "COL1A1", "CLTC"))
    normal = simulate_sample(genome, SampleSpec("S1", 4, _no_errors(), expression=expr))
    mean, sd = fragment_length_stats(normal.fragments)
    assert 235 <= mean <= 265 and 40 <= sd <= 60
    ffpe = simulate_sample(genome, SampleSpec("S2", 4, LibrarySpec.ffpe(read_length=75, error_rate=0.0), expression=expr))
    mean, sd = fragment_length_stats(ffpe.fragments)
    assert 140 <= mean <= 160
    overlapping = sum(1 for f in ffpe.fragments if f.end - f.start < 150)
    assert overlapping / len(ffpe.fragments) > 0.4


def test_single_end(genome: Genome, tmp_path: Path) -> None:
    lib = _no_errors(paired=False, read_length=50)
    sim = simulate_sample(genome, SampleSpec("SE", 1, lib, fusions=(ChimeraSpec("ETV6", 5, "NTRK3", 15, 10),),
                                             expression=_small_expression(genome)))
    assert all(f.read2 is None and len(f.read1) == 50 for f in sim.fragments)
    assert len(sim.write_fastqs(tmp_path)) == 1
    assert {f.junction_in for f in sim.fragments if f.kind == "fusion"} <= {"read1", "insert"}


def test_fusion_fragments_cross_the_junction(genome: Genome) -> None:
    spec = SampleSpec("S1", 5, fusions=(ChimeraSpec("TFG", 4, "ROS1", 35, 50, body_fragments=40),),
                      expression=())
    sim = simulate_sample(genome, spec)
    j = sim.fusions[0].junction
    fusion = [f for f in sim.fragments if f.kind == "fusion"]
    body = [f for f in sim.fragments if f.kind == "fusion_body"]
    assert len(fusion) == 50 and len(body) == 40
    assert all(f.start + MIN_ANCHOR <= j <= f.end - MIN_ANCHOR for f in fusion)
    assert not any(f.start < j < f.end for f in body)
    where = Counter(f.junction_in for f in fusion)
    assert where["read1"] + where["read2"] + where["both"] > where["insert"] > 0
    assert sim.truth_rows()[0]["fragments"] == "50"


def test_sequencing_errors_and_qualities(genome: Genome) -> None:
    lib = LibrarySpec(error_rate=0.003)
    sim = simulate_sample(genome, SampleSpec("S1", 9, lib, expression=_small_expression(genome, ("GAPDH", "COL1A1", "CLTC"))))
    seqs = _sources(genome, sim)
    mism = total = 0
    low_q_mism = 0
    for f in sim.fragments:
        frag = seqs[f.source][f.start : f.end]
        sense_read, sense_q = (f.read1, f.qual1) if f.r1_sense else (revcomp(f.read1), f.qual1[::-1])
        ref = frag[: len(f.read1)] if f.r1_sense else frag[len(frag) - len(f.read1) :]
        for a, b, q in zip(sense_read, ref, sense_q):
            total += 1
            if a != b:
                mism += 1
                low_q_mism += ord(q) - 33 < 30
    assert 0.002 <= mism / total <= 0.004
    assert low_q_mism / mism > 0.5  # errors sit mostly on low-quality bases
    quals = Counter(q for f in sim.fragments for q in f.qual1)
    assert set(quals) == {chr(12 + 33), chr(25 + 33), chr(37 + 33)}


def test_readthrough_is_not_truth(genome: Genome) -> None:
    spec = SampleSpec("NEG", 2, readthroughs=(ChimeraSpec("ETV6", 8, "BCL2L14", 2, 15),), expression=())
    sim = simulate_sample(genome, spec)
    assert sim.truth_rows() == []
    assert sum(f.kind == "readthrough" for f in sim.fragments) == 15


def test_default_expression_makes_targets_assessable(genome: Genome) -> None:
    sim = simulate_sample(genome, SampleSpec("S1", 1))
    per_gene = Counter(f.source.rsplit("-", 1)[0] for f in sim.fragments)
    for target in ("ALK", "ROS1", "ETV6", "NTRK3"):
        assert per_gene[target] >= 40
    assert per_gene["GAPDH"] >= 100


# --------------------------------------------------------------------------
# aligners
# --------------------------------------------------------------------------


def test_missing_aligner_is_an_actionable_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExternalToolError, match="apt-get install -y rna-star"):
        sim_align.require_tool("STAR")
    with pytest.raises(ValueError):
        sim_align.align("nope", [], tmp_path, tmp_path, tmp_path, tmp_path / "x.bam")


def test_scrub_paths() -> None:
    text = "/usr/bin/STAR-avx2 --runThreadN 4 --genomeDir /w/idx --readFilesIn /home/u/r1.fq"
    assert sim_align.scrub_paths(text, Path("/w")) == "STAR --runThreadN THREADS --genomeDir WORKDIR/idx --readFilesIn r1.fq"


@pytest.mark.needs_tool
@pytest.mark.skipif(shutil.which("STAR") is None, reason="STAR (Debian package rna-star) is not on PATH")
def test_star_chimeric_on_a_tiny_genome(tmp_path: Path) -> None:
    genome = build_genome(default_layout().subset(["TPM3", "ALK", "GAPDH"]), DEMO_SEED)
    fa = write_fasta(genome, tmp_path / "genome.fa")
    gtf = write_gtf(genome, tmp_path / "annotation.gtf")
    spec = SampleSpec("TINY", 11, fusions=(ChimeraSpec("TPM3", 7, "ALK", 20, 20),), expression=_small_expression(genome))
    sim = simulate_sample(genome, spec)
    fq = sim.write_fastqs(tmp_path / "fq")
    work = tmp_path / "work"
    res = sim_align.star_chimeric(fq, fa, gtf, work, tmp_path / "TINY.bam", threads=2, sample="TINY")
    assert Path(str(res.bam) + ".bai").exists()
    with pysam.AlignmentFile(str(res.bam)) as bam:
        assert bam.header.to_dict()["HD"]["SO"] == "coordinate"
        header = str(bam.header)
        assert str(tmp_path) not in header and "WORKDIR/" in header
        assert bam.header.to_dict()["RG"][0]["SM"] == "TINY"
    ct = sim.fusions[0]
    support = split_reads_at_breakpoints(res.bam, ct.breakpoint5, "-", ct.breakpoint3, "-")
    assert support.exact >= 8 and support.near == 0
    # realigning the same FASTQs reproduces the BAM byte for byte (index is cached)
    again = sim_align.star_chimeric(fq, fa, gtf, work, tmp_path / "again" / "TINY.bam", threads=1, sample="TINY")
    assert again.bam.read_bytes() == res.bam.read_bytes()


# --------------------------------------------------------------------------
# the committed demo batch
# --------------------------------------------------------------------------

demo_present = pytest.mark.skipif(not (DEMO / "truth.tsv").exists(), reason="resources/demo not generated")


def _truth() -> list[dict[str, str]]:
    with open(DEMO / "truth.tsv") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@demo_present
def test_demo_files_and_sample_sheet() -> None:
    with open(DEMO / "samples.tsv") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert [r["sample"] for r in rows] == ["IMT01", "IMT02", "IMT03", "IMT04", "IMT05", "IMT06"]
    for r in rows:
        assert r["bam"] == f"resources/demo/bam/{r['sample']}.bam"
        assert (REPO / r["bam"]).exists() and (REPO / (r["bam"] + ".bai")).exists()
    truth = _truth()
    assert list(truth[0]) == list(TRUTH_COLUMNS)
    assert [t["fusion"] for t in truth] == ["TPM3::ALK", "CLTC::ALK", "ETV6::NTRK3", "TFG::ROS1", "TPM3::NTRK1"]
    assert "IMT05" not in {t["sample"] for t in truth}
    assert (DEMO / "genome.fa.fai").exists() and (DEMO / "README.md").exists()
    total = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    assert total < 15_000_000


@demo_present
def test_demo_genome_and_annotation_are_reproducible(demo_genome: Genome, tmp_path: Path) -> None:
    assert write_fasta(demo_genome, tmp_path / "genome.fa").read_bytes() == (DEMO / "genome.fa").read_bytes()
    assert write_gtf(demo_genome, tmp_path / "annotation.gtf").read_bytes() == (DEMO / "annotation.gtf").read_bytes()
    assert [d.spec.name for d in demo_samples()] == ["IMT01", "IMT02", "IMT03", "IMT04", "IMT05", "IMT06"]


@demo_present
def test_demo_truth_breakpoints_are_exon_boundaries_of_the_named_exons() -> None:
    """Checked against the committed GTF, parsed here without the simulator's model."""
    exons: dict[tuple[str, int], tuple[str, int, int, str]] = {}
    for f, a in _parse_gtf(DEMO / "annotation.gtf"):
        if f[2] == "exon":
            exons[(a["transcript_id"][0], int(a["exon_number"][0]))] = (f[0], int(f[3]), int(f[4]), f[6])
        if f[2] == "transcript" and "Ensembl_canonical" in a.get("tag", []):
            exons[(a["transcript_id"][0], 0)] = (a["gene_name"][0], 0, 0, "canonical")
    for t in _truth():
        assert exons[(t["transcript5"], 0)][0] == t["gene5"]
        assert exons[(t["transcript3"], 0)][0] == t["gene3"]
        chrom5, s5, e5, strand5 = exons[(t["transcript5"], int(t["exon5"]))]
        chrom3, s3, e3, strand3 = exons[(t["transcript3"], int(t["exon3"]))]
        assert t["breakpoint5"] == f"{chrom5}:{e5 if strand5 == '+' else s5}"
        assert t["breakpoint3"] == f"{chrom3}:{s3 if strand3 == '+' else e3}"
        assert t["junction"] == "splice_site" and t["reading_frame"] == "in-frame"


@demo_present
def test_demo_bams_hold_split_reads_exactly_at_the_truth_breakpoints(demo_genome: Genome) -> None:
    for t in _truth():
        c5, p5 = t["breakpoint5"].split(":")
        c3, p3 = t["breakpoint3"].split(":")
        support = split_reads_at_breakpoints(
            DEMO / "bam" / f"{t['sample']}.bam",
            (c5, int(p5)), demo_genome.gene(t["gene5"]).strand,
            (c3, int(p3)), demo_genome.gene(t["gene3"]).strand,
        )
        assert support.exact >= 10, (t["fusion"], support)
        assert support.near == 0, (t["fusion"], support)
        assert support.fragments_exact <= int(t["fragments"])


@demo_present
def test_demo_negative_sample_has_no_chimeric_reads_and_the_readthrough_is_spliced(genome: Genome, demo_genome: Genome) -> None:
    """No read of IMT05's genes of the default layout is chimeric. Of the reads of the late
    genes, STAR writes one NTRK1 read as chimeric with 14 of its bases on ALK by chance, 440 bp
    past the ALK locus: with the default targets it is in no table (the outputs are those
    of before the late genes), with imt-extended it is a one-fragment ALK::NTRK1 candidate,
    discarded."""
    etv6_end = genome.gene("ETV6").canonical.exon(8).end
    bcl_start = genome.gene("BCL2L14").canonical.exon(2).start
    ntrk1 = demo_genome.gene("NTRK1").canonical
    spliced = 0
    with pysam.AlignmentFile(str(DEMO / "bam" / "IMT05.bam")) as bam:
        chimeric = [r for r in bam.fetch(until_eof=True) if r.has_tag("SA")]
        assert len({r.query_name for r in chimeric}) <= 1
        for r in chimeric:
            if not r.is_supplementary:
                assert r.reference_name == ntrk1.chrom and ntrk1.start <= r.reference_start < ntrk1.end
        for r in bam.fetch("chr12", etv6_end - 1, etv6_end):
            blocks = r.get_blocks()  # 0-based half-open aligned blocks
            spliced += any(a[1] == etv6_end and b[0] + 1 == bcl_start for a, b in zip(blocks, blocks[1:]))
    assert spliced >= 10


@demo_present
def test_demo_bam_headers_hold_no_machine_paths() -> None:
    for bam_path in sorted((DEMO / "bam").glob("*.bam")):
        with pysam.AlignmentFile(str(bam_path)) as bam:
            header = bam.header.to_dict()
        lines = [pg.get("CL", "") for pg in header.get("PG", [])] + list(header.get("CO", []))
        assert lines
        for line in lines:
            assert not re.search(r"(^|\s)/", line), line
            assert "STAR-avx" not in line and "--runThreadN THREADS" in line
        assert header["RG"][0]["SM"] == bam_path.stem


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def test_cli_sample_without_aligner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imtfusion.cli import main

    rc = main([
        "simulate", "sample", "--outdir", str(tmp_path), "--name", "B1", "--fusion", "EML4:13:ALK:20:12:0:30",
        "--aligner", "none", "--read-length", "75", "--single-end", "--strandedness", "unstranded", "--seed", "3",
    ])
    assert rc == 0
    assert (tmp_path / "B1_R1.fastq").exists() and not (tmp_path / "B1_R2.fastq").exists()
    assert (tmp_path / "genome.fa.fai").exists() and (tmp_path / "annotation.gtf").exists()
    assert (tmp_path / "work" / "truth" / "B1.reads.tsv").exists()
    with open(tmp_path / "B1.truth.tsv") as fh:
        (row,) = list(csv.DictReader(fh, delimiter="\t"))
    assert row["fusion"] == "EML4::ALK" and row["junction"] == "intronic" and row["fragments"] == "12"
    first = (tmp_path / "B1_R1.fastq").read_text().splitlines()[0]
    assert first == "@B1:000001"


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imtfusion.cli import main

    assert main(["simulate", "sample", "--outdir", str(tmp_path), "--fusion", "TPM3:70:ALK:20:5", "--aligner", "none"]) == 1
    assert "no exon 70" in capsys.readouterr().err
    assert main(["simulate", "genome", "--outdir", str(tmp_path), "--decoy", "X:NOPE:1:2:0.1"]) == 1
    assert "unknown source gene" in capsys.readouterr().err


def test_cli_genome_with_decoy(tmp_path: Path) -> None:
    from imtfusion.cli import main

    assert main(["simulate", "genome", "--outdir", str(tmp_path), "--decoy", "ALKP1:ALK:20:29:0.03"]) == 0
    text = (tmp_path / "annotation.gtf").read_text()
    assert 'gene_name "ALKP1"' in text and 'gene_type "unprocessed_pseudogene"' in text


def test_late_genes_rename_nothing_and_leave_the_earlier_reads_as_they_were(genome: Genome, demo_genome: Genome) -> None:
    """The extended targets were added to the demo genome after its first samples: every
    gene of the layout before them keeps its IDs, coordinates and sequence, and a sample's
    fragments are the earlier ones followed by the new genes' own."""
    for g in genome.genes:
        assert demo_genome.gene(g.name) == g
    for c in genome.contigs:  # the new genes sit after the others: the sequence before them stays
        kept = c.length - genome.layout.tail
        assert demo_genome.contig(c.name).sequence[:kept] == c.sequence[:kept]
    late = [g for g in demo_genome.genes if demo_genome.is_late(g.name)]
    assert {g.name for g in late} == {"NTRK1", "NTRK2", "RET", "PDGFRB", "IGF1R"}
    assert all(g.gene_id.startswith("ENSG95") for g in late)
    spec = demo_samples()[0].spec
    before, after = simulate_sample(genome, spec), simulate_sample(demo_genome, spec)
    assert after.fragments[: len(before.fragments)] == before.fragments
    added = after.fragments[len(before.fragments):]
    assert added and {f.source.split("-")[0] for f in added} <= {g.name for g in late}
    for gene5, exon5, gene3, exon3 in EXTENDED_DESIGNED_FUSIONS:
        f5, f3 = fusion_frames(demo_genome, gene5, exon5, gene3, exon3)
        assert f5 == f3, (gene5, gene3)
