"""Simulated samples for the 3'/5' expression imbalance and ALK-ATI (issue #18 items 2-3).

Three kinds of sample, on the accuracy benchmark's genome (the demo genome with the ALK
paralogs ALKP1-3 and TPM3P1):

* **negatives**: the kinase targets (ALK, ROS1, NTRK3, and ETV6) expressed as wild-type
  transcripts only; some with the paralogs of ALK's 3' exons (ALKP2, ALKP3: copies of
  exons 20-29) and ALKP1 (exons 18-25) highly expressed, whose reads aligned to ALK would
  fake a 3' excess;
* **ALK-ATI**: ALK transcripts that start about 400 bases into intron 19 and run through
  exon 29 (Wiesner et al., Nature 2015) at a share of ALK's transcripts, no fusion;
* **QC decoys**: libraries the sample QC gates must stop (degraded RNA, whose 3' bias
  also fakes a 3' excess; unflagged PCR duplicates; very short inserts; a few fragments
  per gene): their targets must be *not assessable*, never flagged;
* **hidden fusions**: TPM3::ALK (or EML4::ALK keeping 53 bases of intron 19), TFG::ROS1
  (or YWHAE::ROS1) and ETV6::NTRK3 at a fusion fraction (fused transcripts among the
  target's transcripts), with every fragment across the junction removed (partner not
  captured, breakpoint deep in an intron): only the kinase's 3' part is over-expressed;
  half of them with fused pre-mRNA (10% of the fused copies), whose intronic reads cover
  the kinase intron from the DNA breakpoint on.

:func:`profile_panel` is a separate set of negatives from which ``imtfusion simulate
imbalance-profile`` makes the profile shipped in ``resources/imbalance_profile.tsv`` (the
reference without a batch); the benchmark's samples are not among them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from imtfusion_tools.sim.genome import Genome
from imtfusion_tools.sim.reads import AtiSpec, ChimeraSpec, HiddenFusionSpec, LibrarySpec, SampleSpec, default_expression

IMBALANCE_SEED = 20260118
KINASES = ("ALK", "ROS1", "NTRK3")
#: Wild-type fragments of each target's canonical transcript: a deep sample (the bar's) and
#: a shallow one (reported beside it)
DEEP = (1500, 3000)
SHALLOW = (300, 500)
FRACTIONS = (0.1, 0.2, 0.3, 0.5, 0.8)
PREMRNA = 0.1  # fused pre-mRNA copies per fused mRNA copy, in half of the hidden fusions

# two fusions per kinase; the second keeps intronic bases (EML4::ALK: 53 bases of ALK intron 19)
HIDDEN = {
    "ALK": (ChimeraSpec("TPM3", 7, "ALK", 20, 0), ChimeraSpec("EML4", 13, "ALK", 20, 0, offset3=53)),
    "ROS1": (ChimeraSpec("TFG", 4, "ROS1", 35, 0), ChimeraSpec("YWHAE", 5, "ROS1", 35, 0)),
    "NTRK3": (ChimeraSpec("ETV6", 5, "NTRK3", 15, 0), ChimeraSpec("ETV6", 5, "NTRK3", 15, 0, offset5=-11, offset3=-4)),
}


def _libraries() -> tuple[LibrarySpec, ...]:
    return (
        LibrarySpec(read_length=100, strandedness="reverse"),
        LibrarySpec(read_length=100, strandedness="unstranded"),
        LibrarySpec.ffpe(read_length=75, strandedness="reverse"),
        LibrarySpec(read_length=75, strandedness="reverse"),
        LibrarySpec(read_length=75, paired=False, strandedness="reverse"),
        LibrarySpec.ffpe(read_length=75, strandedness="unstranded"),
    )


@dataclass(frozen=True)
class ImbalanceSample:
    """One sample: ``role`` is ``negative``, ``ati``, ``hidden`` or ``qc`` (a library the
    sample QC gates must stop); ``depth`` the wild-type fragments of each target (drawn
    from that range per target); ``scale`` multiplies every other gene's fragments."""

    name: str
    library: LibrarySpec
    role: str
    depth: tuple[int, int]
    fraction: float = 0.0
    hidden: tuple[HiddenFusionSpec, ...] = ()
    ati: tuple[AtiSpec, ...] = ()
    decoys: tuple[tuple[str, int], ...] = ()  # (paralog gene, fragments)
    expected: dict[str, str] = field(default_factory=dict, compare=False)  # target -> hidden / ati / negative
    scale: float = 1.0
    fault: str = ""  # the QC decoy's fault, in words

    @property
    def shallow(self) -> bool:
        return self.depth == SHALLOW

    def sample_spec(self, genome: Genome, seed: int) -> SampleSpec:
        import random

        from imtfusion_tools.sim.genome import sub_rng

        rng: random.Random = sub_rng(seed, "imbalance-depth", self.name)
        targets = {genome.gene(t).canonical.name for t in (*KINASES, "ETV6")}
        expression = tuple((tx, rng.randint(*self.depth) if tx in targets else max(1, round(n * self.scale)))
                           for tx, n in default_expression(genome, seed, self.name))
        extra = tuple((genome.gene(g).canonical.name, n) for g, n in self.decoys if n)
        return SampleSpec(self.name, seed, self.library, expression=expression, extra_expression=extra,
                          hidden_fusions=self.hidden, ati=self.ati)


def _negative(name: str, lib: LibrarySpec, depth: tuple[int, int], decoys: tuple[tuple[str, int], ...] = ()
              ) -> ImbalanceSample:
    return ImbalanceSample(name, lib, "negative", depth, decoys=decoys,
                           expected={t: "negative" for t in KINASES})


def build_panel(quick: bool = False) -> tuple[ImbalanceSample, ...]:
    """The benchmark's samples (``quick``: a few of each kind)."""
    libs = _libraries()
    heavy = (("ALKP1", 800), ("ALKP2", 1500), ("ALKP3", 1500))
    out: list[ImbalanceSample] = []
    n_neg, n_ati, per_fraction = (4, 2, 2) if quick else (14, 6, 4)
    for i in range(n_neg):
        depth = SHALLOW if i % 7 == 6 else DEEP
        out.append(_negative(f"IN{i + 1:02d}", libs[i % len(libs)], depth, heavy if i % 3 == 2 else ()))
    if not quick:  # degraded RNA that passes the QC gates: must not look like a fusion
        for k, intact in enumerate((5000.0, 2500.0, 1500.0)):
            out.append(_negative(f"IN{15 + k}", LibrarySpec(read_length=100, degradation=intact), DEEP))
    for i in range(n_ati):
        share = (0.3, 0.5, 0.7, 0.9, 0.5, 0.7)[i]
        ati = AtiSpec("ALK", 20, share, intron_bases=(400, 350, 450, 400, 420, 380)[i])
        out.append(ImbalanceSample(f"IA{i + 1:02d}", libs[(i + 1) % len(libs)], "ati", DEEP, share, ati=(ati,),
                                   expected={"ALK": "ati", "ROS1": "negative", "NTRK3": "negative"}))
    fractions = (0.3, 0.8) if quick else FRACTIONS
    for f in fractions:
        for k in range(per_fraction):
            hidden = tuple(HiddenFusionSpec(HIDDEN[t][k % 2], f, PREMRNA if k >= per_fraction // 2 else 0.0)
                           for t in KINASES)
            out.append(ImbalanceSample(f"IH{round(100 * f):02d}{k + 1}", libs[(k + 2) % len(libs)], "hidden", DEEP, f,
                                       hidden=hidden, expected={t: "hidden" for t in KINASES}))
    # libraries the sample QC gates must stop (their targets: not assessable, never flagged)
    qc_decoys = (
        ("IQ01", LibrarySpec(read_length=100, degradation=400.0), DEEP, 1.0,
         "degraded RNA: molecules intact for 400 bases from the 3' end on average, which also raises every "
         "3'/5' ratio"),
        ("IQ02", LibrarySpec(read_length=100, duplicate_fraction=0.95), (40, 60), 0.3,
         "95% unflagged PCR duplicates"),
        ("IQ03", LibrarySpec(read_length=75, fragment_mean=60.0, fragment_sd=8.0, min_fragment=50), DEEP, 1.0,
         "inserts of 50-80 bases"),
        ("IQ04", LibrarySpec(read_length=100), (3, 6), 0.05, "a few fragments per gene"),
    )
    for name, lib, depth, scale, fault in qc_decoys[:2] if quick else qc_decoys:
        out.append(ImbalanceSample(name, lib, "qc", depth, scale=scale, fault=fault,
                                   expected={t: "qc" for t in KINASES}))
    if not quick:
        for f in (0.3, 0.5, 0.8):
            for k in range(2):
                hidden = tuple(HiddenFusionSpec(HIDDEN[t][k], f) for t in KINASES)
                out.append(ImbalanceSample(f"IS{round(100 * f):02d}{k + 1}", libs[k % len(libs)], "hidden", SHALLOW,
                                           f, hidden=hidden, expected={t: "hidden" for t in KINASES}))
    return tuple(out)


def profile_panel(n: int = 12) -> tuple[ImbalanceSample, ...]:
    """The negatives the shipped profile is made from (other names, hence other reads,
    than the benchmark's)."""
    libs = _libraries()
    return tuple(_negative(f"PN{i + 1:02d}", libs[i % len(libs)], DEEP) for i in range(n))


def panel_text(samples: Sequence[ImbalanceSample]) -> list[str]:
    """One line per sample for the benchmark's report and the profile's comments."""
    from imtfusion_tools.bench.accuracy import library_label

    lines = []
    for s in samples:
        what = {"negative": "negative", "ati": f"ALK-ATI at {s.fraction:.0%}",
                "hidden": f"hidden fusions at {s.fraction:.0%}", "qc": f"QC decoy: {s.fault}"}[s.role]
        extra = []
        if s.hidden:
            extra.append(", ".join(f"{h.chimera.isoform_label}" + (f" +pre-mRNA {h.premrna:.0%}" if h.premrna else "")
                                   for h in s.hidden))
        if s.ati:
            extra.append(", ".join(f"{a.name} {a.intron_bases} bases of intron {a.exon - 1}" for a in s.ati))
        if s.decoys:
            extra.append(", ".join(f"{g} {n}" for g, n in s.decoys))
        if s.library.degradation and s.role != "qc":
            extra.append(f"degraded RNA, intact for {s.library.degradation:.0f} bases from the 3' end on average")
        lines.append(f"{s.name}: {library_label(s.library)}, targets {s.depth[0]}-{s.depth[1]} fragments, {what}"
                     + (f" ({'; '.join(extra)})" if extra else ""))
    return lines
