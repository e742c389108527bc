"""Primer-anchored evidence (issue #17, item 2): the primer BED, reads that start at a
primer, primer bases as non-evidence, distinct partner-side start sites, and the
filter ``primer_only_anchor``."""

from __future__ import annotations

import pytest

from imtfusion.errors import PrimerFileError
from imtfusion.model import Breakend
from imtfusion.primers import PRIMER_TOLERANCE, Primer, read_primer_bed

CONTIGS = {"chr2": 1_000_000, "chr12": 500_000}


def _bed(tmp_path, text: str):
    path = tmp_path / "primers.bed"
    path.write_text(text)
    return path


def test_a_bed6_is_read_into_bam_coordinates_and_contig_names(tmp_path):
    path = _bed(tmp_path, "track name=panel\n# comment\n2\t100\t120\tALK_e20\t0\t-\nchr12\t5000\t5022\n")
    primers = read_primer_bed(path, CONTIGS)
    assert primers.primers == (
        Primer("chr12", 5000, 5022, ".", "chr12:5001-5022"),  # no name: the 1-based span
        Primer("chr2", 100, 120, "-", "ALK_e20"),
    )
    # and the other way round: a BED with chr names against a BAM without
    assert read_primer_bed(_bed(tmp_path, "chr2\t100\t120\n"), {"2": 1000}).primers[0].chrom == "2"


def test_a_read_starts_at_a_primer_within_the_tolerance_on_its_strand(tmp_path):
    primers = read_primer_bed(_bed(tmp_path, "chr2\t100\t120\tP1\t0\t-\nchr2\t300\t320\tP2\t0\t+\n"
                                             "chr12\t50\t70\tP3\n"), CONTIGS)
    # a reverse read primed by P1 starts (5'-most base) at its last base, 119
    assert primers.primer_at("chr2", 119, True).name == "P1"
    assert primers.primer_at("chr2", 119 + PRIMER_TOLERANCE, True).name == "P1"
    assert primers.primer_at("chr2", 119 + PRIMER_TOLERANCE + 1, True) is None
    assert primers.primer_at("chr2", 119, False) is None  # the wrong strand
    assert primers.primer_at("chr2", 100, False) is None
    assert primers.primer_at("chr2", 300 - PRIMER_TOLERANCE, False).name == "P2"
    assert primers.primer_at("chr2", 300, True) is None
    # no strand column: either strand, each from its own end
    assert primers.primer_at("chr12", 50, False).name == "P3" and primers.primer_at("chr12", 69, True).name == "P3"
    assert primers.primer_at("chr12", 50, True) is None
    # from a duplicate key: a reverse record's key holds one past its last base
    names = {0: "chr2", 1: "chr12"}
    assert primers.primer_of_key((0, 120, True, -1, -1, ""), names)[0].name == "P1"
    assert primers.primer_of_key((0, 119, True, -1, -1, ""), names)[0].name == "P1"
    assert primers.primer_of_key((0, 200, True, -1, -1, ""), names) is None
    assert primers.primer_of_key((-1, -1, False, -1, -1, ""), names) is None


def test_primer_bases_do_not_count_toward_the_target_side():
    forward = Primer("chr2", 300, 320, "+", "P2")
    # a forward read from the primer to a junction after base 349 keeps 30 bases beyond the primer
    assert forward.bases_beyond(Breakend("chr2", 349, "L"), False) == 30
    assert forward.bases_beyond(Breakend("chr2", 319, "L"), False) == 0  # the junction at the primer's end
    assert forward.bases_beyond(Breakend("chr2", 310, "L"), False) == 0  # inside the primer
    assert forward.bases_beyond(Breakend("chr2", 349, "R"), False) is None  # behind the read
    assert forward.bases_beyond(Breakend("chr12", 349, "L"), False) is None
    reverse = Primer("chr2", 100, 120, "-", "P1")
    assert reverse.bases_beyond(Breakend("chr2", 60, "R"), True) == 40
    assert reverse.bases_beyond(Breakend("chr2", 100, "R"), True) == 0
    assert reverse.bases_beyond(Breakend("chr2", 130, "R"), True) is None


@pytest.mark.parametrize("text, words", [
    ("chr2\t100\n", ["line 1", "2 column(s)", "chrom<TAB>start<TAB>end"]),
    ("chr2\t100\t120\nchr2\tten\t120\n", ["line 2", "'ten'", "not an integer"]),
    ("chr2\t120\t100\n", ["line 1", "smaller than end", "0-based half-open"]),
    ("chr2\t100\t100\n", ["line 1", "smaller than end"]),
    ("chr7\t100\t120\n", ["line 1", "'chr7' is not in the BAM", "contig names"]),
    ("chr2\t100\t2000000\n", ["line 1", "past the end of chr2"]),
    ("chr2\t100\t120\tP\t0\tx\n", ["line 1", "strand 'x'"]),
    ("# only a comment\n\n", ["holds no primer", "one line per primer"]),
    ("", ["holds no primer"]),
])
def test_a_bad_primer_bed_names_the_file_the_line_and_the_fix(tmp_path, text, words):
    path = _bed(tmp_path, text)
    with pytest.raises(PrimerFileError) as err:
        read_primer_bed(path, CONTIGS)
    message = str(err.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_a_missing_primer_bed_is_a_domain_error(tmp_path):
    with pytest.raises(PrimerFileError, match="cannot read the primer BED"):
        read_primer_bed(tmp_path / "absent.bed", CONTIGS)


# --- toy BAMs (pysam, no aligner): a true AMP fusion, a mispriming chimera, a PCR jackpot

from test_calling import add_background, by_fusion, make_toy  # noqa: E402

from imtfusion.params import CallParameters  # noqa: E402
from imtfusion.pipeline import run_sample  # noqa: E402

# ALK (- strand, chr2) is read from primers toward its 5' end: forward reads in the genome.
# P1 sits in ALK exon 3 (20000-20150), 90 bases before its first base 20149; P2 in exon 2.
PRIMER_BED = "chr2\t20040\t20060\tALK_e3_P1\t0\t+\nchr2\t26100\t26120\tALK_e2_P2\t0\t+\n"


def amp_fusion(toy, name: str, adapter_start: int, umi: str = "") -> None:
    """One PARTP::ALK molecule as anchored multiplex PCR reads it: read 1 from primer P1
    through ALK exon 3 (110 bases, 20 of them primer) into PARTP exon 2 (40 bases); read 2
    from the ligated adapter at ``adapter_start`` in PARTP exon 2 (the partner-side start)."""
    read1 = [("chr2", 20040, "+", 110), ("chr4", 4110, "-", 40)]
    read2 = [("chr4", adapter_start, "+", 100)]
    for rec in toy.fragment(name, read1, read2):
        if umi:
            rec.set_tag("RX", umi)


def mispriming(toy, name: str, adapter_start: int) -> None:
    """Primer P2 (ALK exon 2) primed on PART1 RNA: read 1 is the primer's 20 bases, then
    PART1 exon 3 (- strand, from its last base 8000); read 2 from the adapter in PART1."""
    read1 = [("chr2", 26100, "+", 20), ("chr1", 8000, "+", 60)]
    read2 = [("chr1", adapter_start, "-", 50)]
    toy.fragment(name, read1, read2)


def amp_call(tmp_path, toy, primers: bool = True, fasta: bool = False, **params):
    params.setdefault("min_fragments", 2)
    params.setdefault("qc_min_unique_fragments", 10)
    params.setdefault("qc_min_on_target_reads", 10)
    params.setdefault("lod_max_fraction", 0.99)
    bam = toy.write_bam(tmp_path / "s.bam")
    gtf = toy.write_gtf(tmp_path / "a.gtf")
    bed = _bed(tmp_path, PRIMER_BED) if primers else None
    return run_sample(bam, gtf, "S1", targets=["ALK", "ETV6"], params=CallParameters.from_mapping(params),
                      primers=bed, fasta=toy.write_fasta(tmp_path / "g.fa") if fasta else None)


def amp_toy():
    toy = make_toy()
    add_background(toy)
    for i in range(6):  # six molecules, six partner-side start sites
        amp_fusion(toy, f"true{i}", 4000 + 10 * i)
    for i in range(4):
        mispriming(toy, f"mis{i}", 8060 + 3 * i)
    return toy


def test_a_mispriming_chimera_is_discarded_beside_a_true_amp_fusion(tmp_path):
    result = amp_call(tmp_path, amp_toy())
    [fusion] = by_fusion(result, "PARTP::ALK")
    assert (fusion.end5.label(), fusion.end3.label(), fusion.precision) == ("chr4:4150", "chr2:20150", "exact")
    assert fusion.primer_reads == 6 and fusion.primer_names == ("ALK_e3_P1",)
    assert fusion.start_sites >= 6 and fusion.discordant_pairs == 0
    assert fusion.best_anchor == 40  # 90 ALK bases beyond the primer, 40 of PARTP
    assert fusion.confidence == "high"
    [chimera] = [c for c in result.discarded if c.fusion == "PART1::ALK"]
    assert "primer_only_anchor" in chimera.filters
    assert chimera.primer_names == ("ALK_e2_P2",) and set(chimera.primed.values()) == {0}
    assert chimera.best_anchor == 0  # its 20 ALK bases are the primer's


def test_without_the_primer_bed_the_mispriming_chimera_passes_as_a_junction(tmp_path):
    # the decoy is one: with the primer's 20 bases taken for ALK RNA it is called
    result = amp_call(tmp_path, amp_toy(), primers=False)
    [chimera] = by_fusion(result, "PART1::ALK")
    assert chimera.primer_reads == 0 and chimera.best_anchor == 20
    [fusion] = by_fusion(result, "PARTP::ALK")
    assert fusion.primer_reads == 0 and fusion.best_anchor == 40


def test_a_single_start_pcr_jackpot_is_no_confident_call(tmp_path):
    toy = make_toy()
    add_background(toy)
    umis = ["ACGTACGT", "TTGCAGCA", "GATCCTAG", "CAGTTGAC", "GGTACCAA", "TCAGGTCA", "ATATCGCG", "CCGGAATT"]
    for i, umi in enumerate(umis):  # eight copies of one molecule: one adapter start
        amp_fusion(toy, f"jack{i}", 4020, umi)
    result = amp_call(tmp_path, toy)
    jackpot = [c for c in result.called + result.discarded if c.fusion == "PARTP::ALK"]
    assert jackpot and all(c.primer_reads == 8 for c in jackpot)
    assert all(c.start_sites <= 2 for c in jackpot)
    assert all(c.confidence == "low" for c in jackpot if c in result.called)
    # without the BED its eight UMIs would make it a high-confidence call
    (tmp_path / "s.bam").unlink()
    [plain] = by_fusion(amp_call(tmp_path, toy, primers=False), "PARTP::ALK")
    assert plain.molecules == 8 and plain.confidence == "high"


def test_primer_fields_reach_every_output(tmp_path):
    import json

    from imtfusion.pipeline import write_sample_outputs

    result = amp_call(tmp_path, amp_toy())
    paths = write_sample_outputs(result, tmp_path / "out")
    rows = [line.split("\t") for line in paths["fusions"].read_text().splitlines()]
    head = rows[0]
    [row] = [r for r in rows[1:] if r[head.index("fusion")] == "PARTP::ALK"]
    assert row[head.index("primer_reads")] == "6" and row[head.index("primers")] == "ALK_e3_P1"
    assert int(row[head.index("start_sites")]) >= 6
    data = json.loads(paths["json"].read_text())
    assert data["schema_version"] == "1.9.0" and data["inputs"]["primers"].endswith("primers.bed")
    [call] = [c for c in data["calls"] if c["fusion"] == "PARTP::ALK"]
    assert call["primer_reads"] == 6 and call["primers"] == ["ALK_e3_P1"]
    vcf = paths["vcf"].read_text()
    assert "##INFO=<ID=PRIMER_READS," in vcf and "PRIMER_READS=6;PRIMERS=ALK_e3_P1" in vcf
    report = paths["report"].read_text()
    assert "6 fragment(s) read from primer(s) ALK_e3_P1" in report
    from imtfusion.jsonout import load_schema
    import jsonschema

    jsonschema.validate(data, load_schema())


def test_a_bad_primer_bed_is_one_line_from_the_cli(tmp_path):
    import subprocess
    import sys

    toy = amp_toy()
    bam = toy.write_bam(tmp_path / "s.bam")
    gtf = toy.write_gtf(tmp_path / "a.gtf")
    bed = _bed(tmp_path, "chr2\t20040\n")
    out = subprocess.run([sys.executable, "-m", "imtfusion.cli", "call", "--bam", str(bam), "--gtf", str(gtf),
                          "--sample", "S1", "--outdir", str(tmp_path / "out"), "--targets", "ALK",
                          "--primers", str(bed)], capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert f"{bed}: line 1: 2 column(s)" in out.stderr
    assert not (tmp_path / "out" / "S1").exists()


# --- the simulator's anchored multiplex PCR panel: its primer BED and mispriming decoy


def test_the_simulated_primer_bed_holds_every_primer_the_amp_reads_start_at(tmp_path):
    from imtfusion.primers import PrimerSet
    from imtfusion_tools.sim.demo import DEMO_SEED
    from imtfusion_tools.sim.genome import build_genome, default_layout
    from imtfusion_tools.sim.reads import (PRIMER_LENGTH, LibrarySpec, MisprimingSpec, SampleSpec, simulate_sample,
                                     write_primer_bed)

    genome = build_genome(default_layout(), DEMO_SEED)
    lib = LibrarySpec(protocol="amp", primer_distance=50)
    bed = write_primer_bed(genome, lib, tmp_path / "primers.bed")
    primers: PrimerSet = read_primer_bed(bed, {c.name: len(c.sequence) for c in genome.contigs})
    alk, ntrk3 = genome.gene("ALK").canonical, genome.gene("NTRK3").canonical
    spec = SampleSpec("P1", 5, lib, expression=((alk.name, 30), (ntrk3.name, 30)),
                      misprimed=(MisprimingSpec("ALK", 20, "ACTB", 4),))
    sim = simulate_sample(genome, spec)
    for tx in (alk, ntrk3):  # ALK on -, NTRK3 on +: the primer read runs toward the 5' end
        wild = [f for f in sim.fragments if f.kind == "transcript" and f.source == tx.name]
        assert len(wild) == 30
        for f in wild:
            five = tx.to_genome(f.end - 1) - 1  # the primer read's first base (0-based)
            hit = primers.primer_at(tx.chrom, five, tx.strand == "+")
            assert hit is not None and hit.name.startswith(f"{tx.gene_name}_e") and hit.name.endswith("_as")
    decoys = [f for f in sim.fragments if f.kind == "mispriming"]
    assert len(decoys) == 4 and {f.source for f in decoys} == {"ACTB>ALK:primer20"}
    e = alk.exon_offset(20) + lib.primer_distance
    primer = alk.sequence(genome)[e - PRIMER_LENGTH:e]
    for f in decoys:  # the primer read starts with the primer (antisense of ALK exon 20), then ACTB
        read = f.read2 if f.r1_sense else f.read1
        molecule = read.translate(str.maketrans("ACGT", "TGCA"))[::-1]
        assert sum(a != b for a, b in zip(molecule[-PRIMER_LENGTH:], primer)) <= 2
        assert f.junction_in in ("read2" if f.r1_sense else "read1", "both")
    # samples without the decoy are simulated exactly as before it existed
    plain = simulate_sample(genome, SampleSpec("P1", 5, lib, expression=spec.expression))
    assert plain.fragments == tuple(f for f in sim.fragments if f.kind != "mispriming")


def test_primer_reads_left_unmapped_beside_a_partner_nobody_knows_count(tmp_path):
    # HISAT2 on an anchored multiplex PCR panel: the primer read of each molecule (ALK
    # exon 3 into PART1, no known partner of ALK) left unmapped beside its mate, the
    # adapter read in PART1; nothing of these molecules is aligned in the ALK locus
    toy = make_toy()
    add_background(toy)
    for i in range(4):
        toy.unmapped_pair(f"u{i}", [("chr2", 20040, "+", 110), ("chr1", 8000, "+", 40)], ("chr1", 8060 + 10 * i, "-", 100))
    # the decoy beside them: unmapped reads of other genes (PART1 into PARTP) beside mates in PART1
    for i in range(3):
        toy.unmapped_pair(f"x{i}", [("chr1", 7900, "+", 100), ("chr4", 4100, "-", 50)], ("chr1", 8070 + 10 * i, "-", 100))
    result = amp_call(tmp_path, toy, fasta=True)
    [c] = by_fusion(result, "PART1::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr1:8001", "chr2:20150")
    assert c.split_fragments == {"u0", "u1", "u2", "u3"} and c.molecules == 4
    assert any("outside the target loci were scanned" in n for n in result.notes)
    # without the primer BED (not a primer panel) the BAM is not read beyond the loci and
    # the known partners: nothing names these reads
    (tmp_path / "s.bam").unlink()
    plain = amp_call(tmp_path, toy, primers=False, fasta=True)
    assert not [k for k in plain.called + plain.discarded if k.fusion == "PART1::ALK"]
    # nor with more such reads than max_unmapped_scan: a note says they were left out
    (tmp_path / "s.bam").unlink()
    capped = amp_call(tmp_path, toy, fasta=True, max_unmapped_scan=3)
    assert not by_fusion(capped, "PART1::ALK")
    assert any("were not scanned for junction reads outside the target loci" in n for n in capped.notes)


def test_an_ambiguous_mispriming_junction_leaves_the_target_assessable(tmp_path):
    # the mispriming chimera's reads placed with MAPQ 0 (a copy shares the primer's exon):
    # their ALK side is the primer's own bases, so they say nothing of ALK RNA and ALK is
    # not made "not assessable" by them; the same junction read beyond the primer is
    # (the decoy: without the BED the primer bases pass for ALK RNA)
    def ambiguous(toy, name, read1, read2):
        toy.fragment(name, read1, read2, mapq=0, part_mapqs1=[0, 0])

    def statuses(toy, primers):
        result = amp_call(tmp_path, toy, primers=primers, fasta=True)
        (tmp_path / "s.bam").unlink()
        assert not [c for c in result.called if "ALK" in c.fusion]
        return {s.target: s for s in result.statuses}

    toy = make_toy()
    add_background(toy)
    for i in range(4):
        ambiguous(toy, f"mis{i}", [("chr2", 26100, "+", 20), ("chr1", 8000, "+", 60)], [("chr1", 8060 + 3 * i, "-", 50)])
    alk = statuses(toy, True)["ALK"]
    assert alk.status.startswith("not detected") and "junction reads from ALK" not in alk.reason, alk.reason
    assert "4 molecules have junction reads from ALK" in statuses(toy, False)["ALK"].reason
    toy = make_toy()
    add_background(toy)
    for i in range(4):
        ambiguous(toy, f"amb{i}", [("chr2", 20040, "+", 110), ("chr4", 4110, "-", 40)], [("chr4", 4000 + 10 * i, "+", 100)])
    alk = statuses(toy, True)["ALK"]
    assert alk.status == "not assessable" and "4 molecules have junction reads from ALK" in alk.reason
