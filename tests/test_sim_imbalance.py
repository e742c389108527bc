"""The simulator's samples for the 3'/5' imbalance and ALK-ATI (issue #18 items 2-3):
fusions without junction fragments at a fusion fraction, and transcripts starting in ALK
intron 19. No aligner needed."""

from __future__ import annotations

import shutil

import pytest

from imtfusion_tools.bench.accuracy import BENCH_SEED, benchmark_layout
from imtfusion_tools.sim.genome import Genome, build_genome
from imtfusion_tools.sim.imbalance import FRACTIONS, build_panel, profile_panel
from imtfusion_tools.sim.reads import (
    AtiSpec,
    ChimeraSpec,
    HiddenFusionSpec,
    LibrarySpec,
    SampleSpec,
    ati_transcript,
    build_chimeric_transcript,
    copies_to_fragments,
    simulate_sample,
)


@pytest.fixture(scope="module")
def genome() -> Genome:
    return build_genome(benchmark_layout(), BENCH_SEED)


def _alk_expression(genome: Genome, n: int) -> tuple[tuple[str, int], ...]:
    return ((genome.gene("ALK").canonical.name, n), (genome.gene("TPM3").canonical.name, 300))


def test_a_hidden_fusion_has_no_fragment_across_its_junction_and_the_fraction_sets_its_copies(genome):
    lib = LibrarySpec(read_length=100)
    chim = ChimeraSpec("TPM3", 7, "ALK", 20, 0)
    spec = SampleSpec("H1", 5, lib, expression=_alk_expression(genome, 2000),
                      hidden_fusions=(HiddenFusionSpec(chim, 0.5, premrna=0.1),))
    sim = simulate_sample(genome, spec)
    ct = build_chimeric_transcript(genome, chim)
    hidden = [f for f in sim.fragments if f.kind == "hidden_fusion"]
    premrna = [f for f in sim.fragments if f.kind == "hidden_fusion_premrna"]
    assert hidden and premrna
    assert not any(f.start < ct.junction < f.end for f in hidden)  # nothing crosses the junction
    assert not sim.truth_rows()  # no junction, no truth row of the accuracy benchmark
    # drawn fragments: one copy per wild-type copy at 50%; those across the junction dropped
    drawn = copies_to_fragments(2000, genome.gene("ALK").canonical.length, 0.5, len(ct.sequence), lib.fragment_mean)
    assert 0.75 * drawn < len(hidden) < drawn
    # the 3' part of the fusion: as many fragments per base as the wild type (equal copies)
    tx_len = genome.gene("ALK").canonical.length
    alk_part = len(ct.sequence) - ct.junction
    in_alk = sum(1 for f in hidden if f.start >= ct.junction)
    assert 0.75 < (in_alk / alk_part) / (2000 / tx_len) < 1.25


def test_fractions_give_the_expected_copies():
    assert copies_to_fragments(1000, 5000, 0.5, 5000, 250) == 1000
    assert copies_to_fragments(1000, 5000, 0.8, 5000, 250) == 4000
    assert copies_to_fragments(1000, 5000, 0.3, 2625, 250) == 214  # 3/7 of a copy, half the length less a fragment


def test_ati_transcripts_start_in_intron_19_and_run_into_exon_20(genome):
    ati = AtiSpec("ALK", 20, 0.5, intron_bases=400)
    tx = genome.gene("ALK").canonical
    seq = ati_transcript(genome, ati)
    exon20_on = tx.sequence(genome)[tx.exon_offset(20):]
    assert seq.endswith(exon20_on) and len(seq) == len(exon20_on) + 400
    # the 400 bases before exon 20 on the genome, in transcript orientation (ALK is on -)
    e20 = tx.exon(20)
    from imtfusion_tools.sim.genome import revcomp

    assert seq[:400] == revcomp(genome.fetch(tx.chrom, e20.end + 1, e20.end + 400))
    sim = simulate_sample(genome, SampleSpec("A1", 5, LibrarySpec(), expression=_alk_expression(genome, 1000), ati=(ati,)))
    starts = [f.start for f in sim.fragments if f.kind == "ati"]
    assert starts and min(starts) < 50  # fragments begin at the transcription start in the intron
    with pytest.raises(ValueError, match="intron 19 is only"):
        ati_transcript(genome, AtiSpec("ALK", 20, 0.5, intron_bases=10_000))


def test_degraded_rna_loses_5prime_fragments_and_pcr_copies_repeat_fragments(genome):
    expression = ((genome.gene("ACTB").canonical.name, 3000),)
    tx = genome.gene("ACTB").canonical
    intact = simulate_sample(genome, SampleSpec("D0", 5, LibrarySpec(), expression=expression))
    degraded = simulate_sample(genome, SampleSpec("D1", 5, LibrarySpec(degradation=500.0), expression=expression))

    def share_5prime(sim):  # fragments starting in the first third of the transcript
        return sum(f.start < tx.length / 3 for f in sim.fragments) / len(sim.fragments)

    assert share_5prime(intact) > 0.25 and share_5prime(degraded) < share_5prime(intact) / 3
    # without UMIs, duplicate_fraction gives PCR copies too: the same positions, read again
    copies = simulate_sample(genome, SampleSpec("D2", 5, LibrarySpec(duplicate_fraction=0.5), expression=expression))
    assert 5400 < len(copies.fragments) < 6600 and not any("_" in f.name for f in copies.fragments)
    assert len({(f.start, f.end) for f in copies.fragments}) <= 3000


def test_without_the_new_elements_a_sample_is_simulated_as_before(genome):
    spec = SampleSpec("S1", 3, LibrarySpec(), expression=_alk_expression(genome, 200))
    with_nothing = simulate_sample(genome, spec)
    assert not any(f.kind in ("hidden_fusion", "ati") for f in with_nothing.fragments)
    again = simulate_sample(genome, SampleSpec("S1", 3, LibrarySpec(), expression=_alk_expression(genome, 200),
                                               hidden_fusions=(), ati=()))
    assert [f.read1 for f in again.fragments] == [f.read1 for f in with_nothing.fragments]


def test_the_benchmark_panel_covers_every_kind_and_the_profile_panel_is_apart():
    panel = build_panel()
    roles = {s.role for s in panel}
    assert roles == {"negative", "ati", "hidden", "qc"}
    faults = [s.library for s in panel if s.role == "qc"]
    assert any(lib.degradation for lib in faults) and any(lib.duplicate_fraction for lib in faults)
    assert any(lib.fragment_mean < 80 for lib in faults)
    assert any(s.library.degradation for s in panel if s.role == "negative")  # mild: must pass and not be flagged
    assert {s.fraction for s in panel if s.role == "hidden"} == set(FRACTIONS)
    assert any(s.decoys for s in panel if s.role == "negative")  # ALK's 3'-exon paralogs highly expressed
    assert any(h.premrna for s in panel for h in s.hidden)
    assert not {s.name for s in profile_panel()} & {s.name for s in panel}
    with pytest.raises(ValueError):
        HiddenFusionSpec(ChimeraSpec("TPM3", 7, "ALK", 20, 5), 0.3)


@pytest.mark.skipif(shutil.which("STAR") is None, reason="needs STAR (Debian: rna-star)")
def test_the_quick_imbalance_benchmark_flags_hidden_fusions_and_neither_negatives_nor_ati(tmp_path):
    from imtfusion_tools.bench.imbalance import run_imbalance

    markdown, outcomes = run_imbalance(tmp_path, quick=True)
    hidden = [o for o in outcomes if o.expected == "hidden"]
    # the quick batch is smaller than imbalance_min_reference: its reference is the shipped profile
    assert all(o.batch.imbalance.reference.startswith("shipped") for o in outcomes if o.batch.imbalance.z is not None)
    # the QC decoys (degraded RNA, PCR duplicates): every target not assessable for the QC
    decoys = [o for o in outcomes if o.sample.role == "qc"]
    assert decoys and all(o.batch.status == "not assessable" and o.qc_failed("batch") for o in decoys)
    assert hidden and all(o.flagged("batch") for o in hidden if o.sample.fraction >= 0.8)
    assert not any(o.flagged(m) for o in outcomes if o.expected != "hidden" for m in ("batch", "shipped"))
    assert all(o.said_ati("batch") for o in outcomes if o.expected == "ati")
    assert "| hidden fusions at fraction >= 30% flagged (batch reference; deep samples) |" in markdown
    assert (tmp_path / "targets.tsv").exists() and (tmp_path / "imbalance.md").exists()
