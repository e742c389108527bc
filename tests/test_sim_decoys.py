"""The simulator's decoys of issue #15 (item 5): paralogs and pseudogenes with an unmutated stretch,
fused pre-mRNA, fusion isoforms, a promiscuous artefact breakpoint and poly-G mates."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from imtfusion_tools.bench.accuracy import (
    BENCH_SEED,
    DECOY_DIVERGENCE,
    IDENTICAL_STRETCH,
    PROMISCUOUS_ANCHOR,
    benchmark_layout,
    build_panel,
    decoy_specs,
    promiscuous_artefacts,
    promiscuous_offset,
)
from imtfusion_tools.sim.genome import DecoySpec, Genome, build_genome, decoy_identical_range, default_layout, revcomp, write_gtf
from imtfusion_tools.sim.reads import (
    MIN_ANCHOR,
    TRUTH_COLUMNS,
    TRUTH_EXTRA_COLUMNS,
    ChimeraSpec,
    LibrarySpec,
    PolyGSpec,
    SampleSpec,
    fused_premrna,
    simulate_sample,
    write_truth_table,
)


@pytest.fixture(scope="module")
def genome() -> Genome:
    return build_genome(benchmark_layout(), BENCH_SEED)


def _spec(name: str) -> DecoySpec:
    return next(d for d in decoy_specs() if d.name == name)


def _source_mrna(genome: Genome, d: DecoySpec) -> str:
    tx = genome.gene(d.source).canonical
    end = tx.exon_offset(d.last_exon) + tx.exon(d.last_exon).length
    return tx.sequence(genome)[tx.exon_offset(d.first_exon) : end]


def _identity(a: str, b: str) -> float:
    assert len(a) == len(b)
    return sum(x == y for x, y in zip(a, b)) / len(a)


# --------------------------------------------------------------------------
# decoys
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ALKP2", "ALKP3", "TPM3P1"])
def test_decoy_is_92_percent_identical_except_the_70_bp_stretch(genome: Genome, name: str) -> None:
    d = _spec(name)
    src = _source_mrna(genome, d)
    copy = genome.gene(name).canonical.sequence(genome)
    lo, hi = decoy_identical_range(d, _exon_lengths(genome, d.source))  # type: ignore[misc]
    assert hi - lo == IDENTICAL_STRETCH
    assert copy[lo:hi] == src[lo:hi]
    outside = _identity(src[:lo] + src[hi:], copy[:lo] + copy[hi:])
    assert abs(outside - (1 - DECOY_DIVERGENCE)) < 0.002
    # the unmutated stretch is not longer than designed: the bases next to it may differ, but
    # no stretch elsewhere of 70 identical bases exists
    runs = [len(m.group(0)) for m in re.finditer(r"=+", "".join("=" if x == y else "x" for x, y in zip(src, copy)))]
    assert sorted(runs)[-2] < IDENTICAL_STRETCH and sorted(runs)[-1] == IDENTICAL_STRETCH


def _exon_lengths(genome: Genome, gene: str) -> list[int]:
    return [e.length for e in genome.gene(gene).canonical.exons]


def test_alkp2_is_a_spliced_copy_of_alk_exons_20_to_29(genome: Genome) -> None:
    alk, p2 = genome.gene("ALK").canonical, genome.gene("ALKP2")
    assert p2.gene_type == "transcribed_unprocessed_pseudogene" and not p2.canonical.is_coding
    exons = p2.canonical.exons
    assert [e.length for e in exons] == [alk.exon(n).length for n in range(20, 30)]
    # the identical stretch is the first 70 bases of copy exon 2 (= ALK exon 21)
    alk21 = alk.sequence(genome)[alk.exon_offset(21) : alk.exon_offset(21) + IDENTICAL_STRETCH]
    e2 = exons[1]
    assert genome.fetch(p2.chrom, e2.start, e2.start + IDENTICAL_STRETCH - 1) == alk21  # ALKP2 is on +
    introns = [b.start - a.end - 1 for a, b in zip(exons, exons[1:])]
    assert introns[0] > 10_000 and all(60 <= n <= 3000 for n in introns[1:])
    for a, b in zip(exons, exons[1:]):
        intron = genome.fetch(p2.chrom, a.end + 1, b.start - 1)
        assert intron[:2] == "GT" and intron[-2:] == "AG"


def test_processed_pseudogenes_have_one_exon_and_their_stretch_where_designed(genome: Genome) -> None:
    alk, tpm3 = genome.gene("ALK").canonical, genome.gene("TPM3").canonical
    p3, tp = genome.gene("ALKP3"), genome.gene("TPM3P1")
    for g in (p3, tp):
        assert g.gene_type == "processed_pseudogene" and len(g.canonical.exons) == 1 and not g.canonical.is_coding
    # ALKP3: 35 bases of the end of ALK exon 22 and 35 of exon 23, unmutated
    j = alk.exon_offset(23)
    stretch = alk.sequence(genome)[j - 35 : j + 35]
    off = j - alk.exon_offset(20)
    assert p3.canonical.sequence(genome)[off - 35 : off + 35] == stretch
    assert p3.canonical.length == alk.length - alk.exon_offset(20)
    # TPM3P1: TPM3 exons 1-7 as one exon, its last 70 bases unmutated, ending where TPM3 exon 7 ends
    end7 = tpm3.exon_offset(8)
    assert tp.canonical.length == end7
    assert tp.canonical.sequence(genome)[-IDENTICAL_STRETCH:] == tpm3.sequence(genome)[end7 - IDENTICAL_STRETCH : end7]


def test_decoys_in_the_gtf_have_no_cds(genome: Genome, tmp_path: Path) -> None:
    text = write_gtf(genome, tmp_path / "a.gtf").read_text()
    for name, kind in (("ALKP2", "transcribed_unprocessed_pseudogene"), ("ALKP3", "processed_pseudogene"),
                       ("TPM3P1", "processed_pseudogene")):
        lines = [ln for ln in text.splitlines() if f'gene_name "{name}"' in ln]
        assert {ln.split("\t")[2] for ln in lines} == {"gene", "transcript", "exon"}
        assert all(f'gene_type "{kind}"' in ln for ln in lines)


def test_benchmark_genome_keeps_the_demo_coordinates_and_adds_a_g_rich_stretch(genome: Genome) -> None:
    demo = build_genome(default_layout(), BENCH_SEED)
    for g in demo.genes:
        b = genome.gene(g.name)
        assert (b.chrom, b.start, b.end) == (g.chrom, g.start, g.end)
        assert b.canonical.sequence(genome) == g.canonical.sequence(demo)
    chr12 = genome.contig("chr12").sequence
    runs = list(re.finditer(r"G{8,}", chr12))  # generated sequence has no run longer than MAX_RUN
    start, end = runs[0].start(), runs[-1].end()
    stretch = chr12[start:end]
    assert 300 <= len(stretch) <= 400 and stretch.count("G") / len(stretch) > 0.95
    assert start > genome.gene("MYL6").end + 10_000
    assert not any(re.search(r"G{8,}", c.sequence) for c in genome.contigs if c.name != "chr12")


def test_decoy_spec_validation() -> None:
    with pytest.raises(ValueError):
        DecoySpec("X", "ALK", 20, 29, 0.08, "chr3", identical_exon=31, identical_after=70)
    with pytest.raises(ValueError):
        DecoySpec("X", "ALK", 20, 29, 0.08, "chr3", processed=True, intron_lengths=((1, 12_000),))
    with pytest.raises(ValueError):
        DecoySpec("X", "ALK", 20, 29, 0.08, "chr3", intron_lengths=((10, 500),))


# --------------------------------------------------------------------------
# fused pre-mRNA and isoforms
# --------------------------------------------------------------------------


def _sample(genome: Genome, lib: LibrarySpec | None = None, **kw: object) -> SampleSpec:
    return SampleSpec("D1", 7, lib or LibrarySpec(error_rate=0.0), expression=(), **kw)  # type: ignore[arg-type]


def test_premrna_fragments_cross_the_dna_junction_inside_both_introns(genome: Genome) -> None:
    spec = ChimeraSpec("TPM3", 7, "ALK", 20, 10, premrna_fragments=30)
    sim = simulate_sample(genome, _sample(genome, fusions=(spec,)))
    ct = sim.fusions[0]
    tpm3, alk = genome.gene("TPM3").canonical, genome.gene("ALK").canonical
    (c5, d5), (c3, d3) = ct.dna_breakpoint5, ct.dna_breakpoint3  # type: ignore[misc]
    # TPM3 and ALK are on -: intron 7 of TPM3 lies between exon 8's end and exon 7's start
    lo5, hi5 = tpm3.exon(8).end + 1, tpm3.exon(7).start - 1
    lo3, hi3 = alk.exon(20).end + 1, alk.exon(19).start - 1
    assert 0.3 <= (hi5 - d5 + 1) / (hi5 - lo5 + 1) <= 0.7
    assert 0.3 <= (d3 - lo3 + 1) / (hi3 - lo3 + 1) <= 0.7
    assert (c5, c3) == ("chr1", "chr2")
    assert ct.premrna[: ct.premrna_junction].endswith(revcomp(genome.fetch("chr1", d5, d5 + 99)))
    assert ct.premrna[ct.premrna_junction :].startswith(revcomp(genome.fetch("chr2", d3 - 99, d3)))
    assert (ct.premrna, ct.premrna_junction) == fused_premrna(genome, spec)[:2]
    frags = [f for f in sim.fragments if f.kind == "fusion_premrna"]
    assert len(frags) == 30 and {f.source for f in frags} == {"TPM3::ALK pre-mRNA"}
    intron5 = revcomp(genome.fetch("chr1", lo5, hi5))
    intron3 = revcomp(genome.fetch("chr2", lo3, hi3))
    for f in frags:
        j = ct.premrna_junction
        assert f.start + MIN_ANCHOR <= j <= f.end - MIN_ANCHOR
        assert ct.premrna[f.start : j] in intron5 and ct.premrna[j : f.end] in intron3  # intronic sequence only
    row = sim.truth_rows(extended=True)[0]
    assert (row["premrna_fragments"], row["dna_breakpoint5"], row["dna_breakpoint3"]) == (
        "30", f"chr1:{d5}", f"chr2:{d3}")
    assert row["fragments"] == "10"  # the main junction's fragments only


def test_isoforms_belong_to_their_event_in_the_truth(genome: Genome, tmp_path: Path) -> None:
    spec = ChimeraSpec("CLTC", 31, "ALK", 20, 20, offset5=-24, isoforms=(
        ChimeraSpec("CLTC", 31, "ALK", 20, 5, offset5=-24, offset3=-11), ChimeraSpec("CLTC", 30, "ALK", 20, 4)))
    sim = simulate_sample(genome, _sample(genome, fusions=(spec, ChimeraSpec("ETV6", 5, "NTRK3", 15, 3))))
    assert sim.truth_rows() == [f.truth_row("D1") for f in sim.fusions]  # plain rows: main junctions only
    rows = sim.truth_rows(extended=True)
    assert [(r["fusion"], r["isoform"], r["isoform_of"], r["fragments"]) for r in rows] == [
        ("CLTC::ALK", "CLTC:31-24::ALK:20", ".", "20"),
        ("CLTC::ALK", "CLTC:31-24::ALK:20-11", "CLTC:31-24::ALK:20", "5"),
        ("CLTC::ALK", "CLTC:30::ALK:20", "CLTC:31-24::ALK:20", "4"),
        ("ETV6::NTRK3", "ETV6:5::NTRK3:15", ".", "3"),
    ]
    assert {r["event"] for r in rows[:3]} == {"CLTC::ALK"}
    alk20_end = genome.gene("ALK").canonical.exon(20).end
    assert rows[1]["breakpoint3"] == f"chr2:{alk20_end - 11}" and rows[1]["breakpoint5"] == rows[0]["breakpoint5"]
    kinds = Counter((f.kind, f.source) for f in sim.fragments)
    assert kinds[("fusion_isoform", "CLTC::ALK [CLTC:31-24::ALK:20-11]")] == 5
    assert kinds[("fusion", "CLTC::ALK")] == 20
    path = write_truth_table(rows, tmp_path / "truth.tsv", TRUTH_COLUMNS + TRUTH_EXTRA_COLUMNS)
    assert path.read_text().splitlines()[0].split("\t") == list(TRUTH_COLUMNS + TRUTH_EXTRA_COLUMNS)


def test_chimera_spec_validation() -> None:
    with pytest.raises(ValueError, match="joins other genes"):
        ChimeraSpec("TPM3", 7, "ALK", 20, 4, isoforms=(ChimeraSpec("TPM4", 7, "ALK", 20, 1),))
    with pytest.raises(ValueError, match="main junction"):
        ChimeraSpec("TPM3", 7, "ALK", 20, 4, isoforms=(ChimeraSpec("TPM3", 7, "ALK", 20, 1),))
    with pytest.raises(ValueError):
        ChimeraSpec("TPM3", 7, "ALK", 20, 4, anchor3=(16, 12))
    with pytest.raises(ValueError):
        SampleSpec("X", 1, LibrarySpec(paired=False), polyg=(PolyGSpec("ALK-201", 3),))


# --------------------------------------------------------------------------
# the promiscuous breakpoint and poly-G mates
# --------------------------------------------------------------------------


def test_promiscuous_breakpoint_reads_end_in_12_to_16_bases_of_one_alk_intron_19_motif(genome: Genome) -> None:
    arts = promiscuous_artefacts(genome, BENCH_SEED, "X1")
    lib = LibrarySpec(error_rate=0.0, strandedness="unstranded")
    sim = simulate_sample(genome, _sample(genome, lib, artefacts=arts))
    assert sim.truth_rows() == []
    off = promiscuous_offset(genome)
    alk = genome.gene("ALK").canonical
    pos = alk.exon(20).end + off  # ALK is on -: the artefact's first ALK base
    motif = revcomp(genome.fetch("chr2", pos - 11, pos))
    by_partner = Counter(f.source for f in sim.fragments if f.kind == "artefact")
    assert len(by_partner) == 6 and all(3 <= n <= 9 for n in by_partner.values())
    seqs = {ct.name: ct for ct in sim.artefacts}
    lo, hi = PROMISCUOUS_ANCHOR
    for f in sim.fragments:
        ct = seqs[f.source]
        k = f.end - ct.junction
        assert lo <= k <= hi
        tail = ct.sequence[ct.junction : f.end]
        assert tail.startswith(motif)
        # the read covering the fragment's 3' end holds the junction, with k bases of ALK at its end
        anti = f.read2 if f.r1_sense else f.read1
        assert revcomp(anti).endswith(tail) and len(anti) > k + MIN_ANCHOR


def test_polyg_mates(genome: Genome) -> None:
    lib = LibrarySpec(error_rate=0.0)
    sim = simulate_sample(genome, _sample(genome, lib, polyg=(PolyGSpec("ALK-201", 6), PolyGSpec("ROS1-201", 4, mate="either"))))
    frags = [f for f in sim.fragments if f.kind == "polyg"]
    assert len(frags) == 10
    alk = genome.gene("ALK").canonical.sequence(genome)
    for f in frags:
        reads = [f.read1, f.read2]
        polyg = [r for r in reads if r and r.count("G") >= len(r) - 3]
        real = [r for r in reads if r not in polyg]
        assert len(polyg) == 1 and len(real) == 1 and len(polyg[0]) == len(real[0])
        if f.source == "ALK-201":
            assert f.read2 in polyg
            assert revcomp(real[0]) in alk  # reverse-stranded: read 1 is antisense


def test_same_seed_same_fastqs_with_every_decoy(genome: Genome, tmp_path: Path) -> None:
    panel = build_panel(genome, BENCH_SEED)
    ps = next(p for p in panel if p.name == "BP01")
    assert ps.fusions[0].premrna_fragments and ps.fusions[0].isoforms and ps.polyg and ps.pseudogenes
    ps = type(ps)(ps.name, ps.library, ps.fusions, ps.readthroughs, ps.noise, ps.decoy_fragments, ps.pseudogenes,
                  promiscuous_artefacts(genome, BENCH_SEED, ps.name, {"TPM3", "ALK", "ETV6", "NTRK3"}), ps.polyg)
    a = simulate_sample(genome, ps.sample_spec(genome, BENCH_SEED)).write_fastqs(tmp_path / "a")
    b = simulate_sample(genome, ps.sample_spec(genome, BENCH_SEED)).write_fastqs(tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert build_genome(benchmark_layout(), BENCH_SEED).contigs == genome.contigs
    c = simulate_sample(genome, ps.sample_spec(genome, BENCH_SEED + 1)).write_fastqs(tmp_path / "c")
    assert c[0].read_bytes() != a[0].read_bytes()


def test_extra_expression_leaves_the_other_fragments_as_they_were(genome: Genome) -> None:
    base = SampleSpec("E1", 3, fusions=(ChimeraSpec("TPM3", 7, "ALK", 20, 12),),
                      expression=(("ALK-201", 30), ("TPM3-201", 30)))
    more = SampleSpec("E1", 3, fusions=base.fusions, expression=base.expression,
                      extra_expression=(("ALKP2-201", 50), ("TPM3P1-201", 20)))

    def content(spec: SampleSpec) -> Counter[tuple[str, str, int, int, str]]:
        return Counter((f.kind, f.source, f.start, f.end, f.read1) for f in simulate_sample(genome, spec).fragments)

    a, b = content(base), content(more)
    assert a - b == Counter() and sum((b - a).values()) == 70
    assert {src for _, src, *_ in b - a} == {"ALKP2-201", "TPM3P1-201"}
