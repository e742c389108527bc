"""The simulator's targeted-panel libraries (issue #17): UMIs and PCR copies, anchored
multiplex PCR fragments read from a primer, hybrid capture's on/off-target depth; and the
accuracy benchmark's panel samples."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from imtfusion_tools.sim.demo import DEMO_SEED
from imtfusion_tools.sim.genome import build_genome, default_layout
from imtfusion_tools.sim.reads import ChimeraSpec, LibrarySpec, SampleSpec, build_chimeric_transcript, simulate_sample


@pytest.fixture(scope="module")
def genome():
    return build_genome(default_layout(), DEMO_SEED)


def _sample(genome, lib, fusion=ChimeraSpec("TPM3", 7, "ALK", 20, 30), genes=("ALK", "TPM3", "ACTB")):
    expression = tuple((genome.gene(g).canonical.name, 40) for g in genes)
    return simulate_sample(genome, SampleSpec("P1", 5, lib, fusions=(fusion,), expression=expression))


def test_umis_and_pcr_copies(genome):
    lib = LibrarySpec(umi_length=8, duplicate_fraction=0.7)
    sim = _sample(genome, lib)
    umis = [f.name.rsplit("_", 1)[1] for f in sim.fragments]
    assert all(len(u) == 8 and set(u) <= set("ACGT") for u in umis)
    molecules = defaultdict(list)
    for f in sim.fragments:
        molecules[(f.kind, f.source, f.start, f.end, f.name.rsplit("_", 1)[1])].append(f)
    copies = len(sim.fragments) - len(molecules)
    assert 0.6 < copies / len(sim.fragments) < 0.8  # 70% of the reads are copies
    # a copy is its molecule read again: same orientation, its own sequencing errors
    many = next(v for v in molecules.values() if len(v) >= 3)
    assert len({f.r1_sense for f in many}) == 1
    # the molecules are those of the library without UMIs and copies
    plain = _sample(genome, LibrarySpec())
    assert Counter((f.kind, f.source, f.start, f.end) for f in plain.fragments) == Counter(
        k[:4] for k in molecules)


def test_umi_errors_make_near_umis_of_a_molecule(genome):
    sim = _sample(genome, LibrarySpec(umi_length=8, duplicate_fraction=0.8, umi_error_rate=0.05))
    by_molecule = defaultdict(set)
    for f in sim.fragments:
        by_molecule[(f.kind, f.source, f.start, f.end)].add(f.name.rsplit("_", 1)[1])
    near = [u for us in by_molecule.values() for u in us if len(us) > 1]
    assert near  # some copies carry a misread UMI, one base off


def test_anchored_multiplex_pcr_reads_target_molecules_from_primers(genome):
    from imtfusion_tools.bench.accuracy import _amp_anchored

    lib = LibrarySpec(protocol="amp", primer_distance=50, read_length=100)
    fusion = _amp_anchored(ChimeraSpec("TPM3", 7, "ALK", 20, 30, body_fragments=20), 50)
    sim = _sample(genome, lib, fusion)
    ct = build_chimeric_transcript(genome, fusion)
    junction = [f for f in sim.fragments if f.kind == "fusion"]
    assert len(junction) == 30 and {f.end for f in junction} == {ct.junction + 50}
    assert not [f for f in sim.fragments if f.kind == "fusion_body"]
    # wild-type ALK molecules end at the primers in its exons; ACTB (off target) keeps 2%
    alk = genome.gene("ALK").canonical
    ends = {f.end for f in sim.fragments if f.kind == "transcript" and f.source == alk.name}
    assert len(ends) <= len(alk.exons)
    counts = Counter(f.source for f in sim.fragments if f.kind == "transcript")
    assert counts[genome.gene("ACTB").canonical.name] == 1 and counts[alk.name] == 40


def test_hybrid_capture_enriches_the_targets(genome):
    sim = _sample(genome, LibrarySpec(protocol="capture"))
    counts = Counter(f.source for f in sim.fragments if f.kind == "transcript")
    assert counts[genome.gene("ALK").canonical.name] == 800 and counts[genome.gene("ACTB").canonical.name] == 2


def test_bad_panel_libraries_are_refused():
    with pytest.raises(ValueError, match="protocol"):
        LibrarySpec(protocol="rna")
    with pytest.raises(ValueError, match="duplicate_fraction"):
        LibrarySpec(duplicate_fraction=1.0)
    with pytest.raises(ValueError, match="primer_distance"):
        LibrarySpec(protocol="amp", primer_distance=120, read_length=100)


def test_the_benchmark_panel_keeps_the_fusions_and_negatives(genome):
    from imtfusion_tools.bench.accuracy import benchmark_layout, build_panel, build_targeted_panel

    g = build_genome(benchmark_layout(), 7)
    wts = build_panel(g, 7)
    amp = build_targeted_panel(g, "amp", 7)
    assert [s.name for s in amp] == [s.name for s in wts]
    assert all(s.library.protocol == "amp" and s.library.umi_length == 8 and s.library.paired for s in amp)
    assert [[(c.gene5, c.gene3, c.fragments) for c in s.fusions] for s in amp] == [
        [(c.gene5, c.gene3, c.fragments) for c in s.fusions] for s in wts]
    # the primer reads the target side: ALK's, or ETV6's when the partner is not a target
    anchors = {(c.gene5, c.gene3): (c.anchor5, c.anchor3) for s in amp for c in s.fusions}
    assert anchors[("TPM3", "ALK")] == ((), (50, 50)) and anchors[("ETV6", "CALR")] == ((50, 50), ())
    [bp04] = [c for s in amp if s.name == "BP04" for c in s.fusions if c.gene5 == "EML4"]
    assert bp04.offset3 == 53 and bp04.anchor3 == (103, 103)  # 53 intronic ALK bases before the exon


def test_capture_enrichment_sets_the_target_depth(genome):
    shallow = Counter(f.source for f in _sample(genome, LibrarySpec(protocol="capture")).fragments)
    deep = Counter(f.source for f in _sample(genome, LibrarySpec(protocol="capture", capture_enrichment=300)).fragments)
    alk = genome.gene("ALK").canonical.name
    assert shallow[alk] == 20 * 40 and deep[alk] == 300 * 40
    assert deep[genome.gene("ACTB").canonical.name] == shallow[genome.gene("ACTB").canonical.name] == 2  # 5%


def test_capture_baits_catch_the_paralogs_of_a_target():
    from imtfusion_tools.bench.accuracy import benchmark_layout

    g = build_genome(benchmark_layout(), 7)
    genes = ("ALK", "ALKP2", "TPM3", "TPM3P1")
    expression = tuple((g.gene(name).canonical.name, 10) for name in genes)
    sim = simulate_sample(g, SampleSpec("P1", 5, LibrarySpec(protocol="capture"), expression=expression))
    n = Counter(f.source for f in sim.fragments)
    assert [n[g.gene(name).canonical.name] for name in genes] == [200, 40, 1, 1]  # TPM3 is no target
    with pytest.raises(ValueError, match="capture_enrichment"):
        LibrarySpec(protocol="capture", capture_enrichment=0.5)


def test_the_deep_capture_panel_deepens_the_look_alikes_not_the_fusions():
    from imtfusion_tools.bench.accuracy import (DEEP_NOISE, DEEP_SCALE, benchmark_layout, build_targeted_panel)

    g = build_genome(benchmark_layout(), 7)
    capture, deep = build_targeted_panel(g, "capture", 7), build_targeted_panel(g, "deep_capture", 7)
    assert all(s.library.protocol == "capture" and s.library.capture_enrichment == 300 for s in deep)
    for a, b in zip(capture, deep):
        assert [(c.gene5, c.gene3, c.fragments) for c in a.fusions] == [(c.gene5, c.gene3, c.fragments) for c in b.fusions]
        assert (b.decoy_fragments, b.pseudogenes) == (a.decoy_fragments, a.pseudogenes)  # the capture deepens them
        assert [c.fragments for c in b.readthroughs] == [DEEP_SCALE * c.fragments for c in a.readthroughs]
        assert [c.fragments for c in b.artefacts] == [DEEP_SCALE * c.fragments for c in a.artefacts]
        assert sum(p.fragments for p in b.polyg) == DEEP_SCALE * sum(p.fragments for p in a.polyg)
        assert [c.fragments for c in b.copy_chimeras] == [DEEP_SCALE * c.fragments for c in a.copy_chimeras]
        assert len(b.noise) == min(DEEP_NOISE, DEEP_SCALE * len(a.noise))
        pairs = [frozenset((c.gene5, c.gene3)) for c in b.noise]
        assert len(set(pairs)) == len(pairs)  # distinct gene pairs: each false call is one pair
        assert not set(pairs) & {frozenset((c.gene5, c.gene3)) for c in b.fusions}
    assert sum(bool(s.copy_chimeras) for s in deep) == 5  # the paralog chimera of BN07-BN11, deepened too


def test_ffpe_damage_turns_c_into_t_in_every_copy_of_a_molecule(genome):
    from imtfusion_tools.sim.reads import deaminate
    from imtfusion_tools.sim.genome import sub_rng

    rng = sub_rng(1, "t")
    molecule = "ACGT" * 2500
    damaged = deaminate(rng, molecule, 0.05)
    changed = [(a, b) for a, b in zip(molecule, damaged) if a != b]
    assert set(changed) == {("C", "T")} and 0.03 < len(changed) / 2500 < 0.07  # only C>T, at the rate
    plain = _sample(genome, LibrarySpec(umi_length=8, duplicate_fraction=0.6))
    ffpe = _sample(genome, LibrarySpec(umi_length=8, duplicate_fraction=0.6, damage_rate=0.02))
    # the same molecules and copies: damage draws from a stream of its own
    assert [(f.kind, f.source, f.start, f.end) for f in plain.fragments] == [
        (f.kind, f.source, f.start, f.end) for f in ffpe.fragments]
    assert sum(a.read1 != b.read1 for a, b in zip(plain.fragments, ffpe.fragments)) > len(plain.fragments) / 4
    with pytest.raises(ValueError, match="damage_rate"):
        LibrarySpec(damage_rate=0.5)


def test_the_command_line_simulates_each_panel_kind(tmp_path):
    """--library/--umi/--duplicates/--ffpe/--adapters reach the library: AMP reads end at
    primers, capture enriches the targets, UMIs end every read name, copies repeat them,
    short inserts read into the adapter."""
    import csv

    from imtfusion.cli import main

    def run(name, *extra):
        assert main(["simulate", "sample", "--outdir", str(tmp_path / name), "--name", name, "--fusion",
                     "TPM3:7:ALK:20:20", "--aligner", "none", "--seed", "4", *extra]) == 0
        names = (tmp_path / name / f"{name}_R1.fastq").read_text().splitlines()[0::4]
        return names

    wts = run("W")
    assert all("_" not in n for n in wts)
    amp = run("A", "--library", "amp", "--umi", "8", "--duplicates", "0.7", "--ffpe")
    umis = Counter(n.rsplit("_", 1)[1] for n in amp)
    assert all(len(u) == 8 for u in umis) and len(umis) < 0.5 * len(amp)  # 70% copies share a UMI
    cap = run("C", "--library", "capture")
    assert len(cap) != len(wts)  # capture re-weights the genes
    # --adapters: the same reads, those of inserts shorter than 100 bases read on into the adapter
    for out, extra in (("F", ()), ("FA", ("--adapters",))):  # one sample name: one random stream
        assert main(["simulate", "sample", "--outdir", str(tmp_path / out), "--name", "F", "--fusion",
                     "TPM3:7:ALK:20:20", "--aligner", "none", "--seed", "4", "--ffpe", *extra]) == 0
    plain = (tmp_path / "F" / "F_R1.fastq").read_text().splitlines()[1::4]
    through = (tmp_path / "FA" / "F_R1.fastq").read_text().splitlines()[1::4]
    assert len(plain) == len(through) and all(t.startswith(p) for p, t in zip(plain, through))
    short = [(p, t) for p, t in zip(plain, through) if len(p) < 100]
    adapter = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC" + "A" * 100  # read 1's, then poly-A
    assert short and all(len(t) == 100 and t[len(p):] == adapter[:100 - len(p)] for p, t in short)
    with open(tmp_path / "A" / "A.truth.tsv") as fh:
        (row,) = list(csv.DictReader(fh, delimiter="\t"))
    assert row["fusion"] == "TPM3::ALK"
    assert main(["simulate", "sample", "--outdir", str(tmp_path / "X"), "--library", "amp", "--duplicates", "1.5",
                 "--aligner", "none"]) == 1


def test_the_panel_duplicate_rate_is_the_benchmarks_to_choose():
    from imtfusion_tools.bench.accuracy import benchmark_layout, build_targeted_panel, command_line

    g = build_genome(benchmark_layout(), 7)
    assert {s.library.duplicate_fraction for s in build_targeted_panel(g, "capture", 7, quick=True)} == {0.7}
    assert {s.library.duplicate_fraction for s in build_targeted_panel(g, "amp", 7, quick=True, duplicates=0.9)} == {0.9}
    assert command_line("o", ["star_chimeric"], 2, False, 7, True, False, "amp", 0.5).endswith("--protocol amp --duplicates 0.5")
    assert "--duplicates" not in command_line("o", ["star_chimeric"], 2, False, 7, True, False, "amp")
