"""The target set imt-extended on the committed demo: IMT06's TPM3::NTRK1 is found with it
and reported nowhere without it; the other samples' calls do not depend on the set."""

from __future__ import annotations

import json

import csv
from pathlib import Path

import pytest

from imtfusion.lod import base_status

from imtfusion.annotate import annotate_fusion, load_domains
from imtfusion.annotation import load_annotation
from imtfusion.cli import main
from imtfusion.pipeline import run_sample
from imtfusion.registry import resolve_target_names

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"
GTF = DEMO / "annotation.gtf"
FASTA = DEMO / "genome.fa"

pytestmark = pytest.mark.skipif(not (DEMO / "bam" / "IMT06.bam").exists(), reason="resources/demo not generated")


def rows(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def call(tmp_path: Path, sample: str, targets: str) -> Path:
    out = tmp_path / targets
    argv = ["call", "--bam", str(DEMO / "bam" / f"{sample}.bam"), "--gtf", str(GTF), "--fasta", str(FASTA),
            "--sample", sample, "--outdir", str(out), "--targets", targets]
    assert main(argv) == 0
    return out / sample


def test_tpm3_ntrk1_is_called_with_imt_extended_and_reported_nowhere_without_it(tmp_path):
    extended = call(tmp_path, "IMT06", "imt-extended")
    [c] = rows(extended / "IMT06.fusions.tsv")
    assert (c["fusion"], c["target"], c["known"], c["confidence"]) == ("TPM3::NTRK1", "NTRK1", "known", "high")
    assert (c["breakpoint5"], c["breakpoint3"]) == ("chr1:149500", "chr1:186108")  # truth.tsv
    assert (c["exon5"], c["exon3"], c["reading_frame"], c["kinase_domain"]) == ("7", "10", "in-frame", "retained")
    assert c["retained_domains"] == "NTRK1:tyrosine kinase"
    assert c["exon_description"] == "TPM3 exon 7 :: NTRK1 exon 10"
    # TPM3 and NTRK1 lie 37 kb apart: the TPM3-side read starts are not counted as NTRK1's
    # (they were: 48 start sites for 26 fragments)
    assert (c["fragments"], c["start_sites"]) == ("26", "13")
    statuses = {r["target"]: r["status"] for r in rows(extended / "IMT06.targets.tsv")}
    assert list(statuses) == list(resolve_target_names("imt-extended"))
    assert statuses["NTRK1"] == "detected"
    assert {base_status(s) for t, s in statuses.items() if t != "NTRK1"} <= {"not detected", "not assessable"}
    assert "NTRK1 kinase domain retained" in (extended / "IMT06.report.html").read_text()
    # the STAR-aligned call, with the demo FASTA: FUSOR's model takes it; TPM3 on -, NTRK1 on +
    from fusor_models import validate_assayed_fusion

    [vicc] = json.loads((extended / "IMT06.vicc.json").read_text())["calls"]
    validate_assayed_fusion(vicc["assayedFusion"])
    five, three = vicc["assayedFusion"]["structure"]
    assert (five["exonEnd"], three["exonStart"], five["strand"], three["strand"]) == (7, 10, -1, 1)
    # inter-residue: TPM3 keeps chr1:149500 (1-based) and up, NTRK1 chr1:186108 and up
    assert five["elementGenomicEnd"]["start"] == 149499 and three["elementGenomicStart"]["start"] == 186107
    assert five["elementGenomicEnd"]["sequenceReference"]["refgetAccession"].startswith("SQ.")

    default = call(tmp_path, "IMT06", "default")
    for name in ("IMT06.fusions.tsv", "IMT06.fusions.discarded.tsv", "IMT06.fusions.vcf", "IMT06.fusions.json",
                 "IMT06.vicc.json", "IMT06.report.html"):
        assert "NTRK1" not in (default / name).read_text(), name
    assert not rows(default / "IMT06.fusions.tsv") and not rows(default / "IMT06.fusions.discarded.tsv")
    assert {base_status(r["status"]) for r in rows(default / "IMT06.targets.tsv")} <= {"not detected", "not assessable"}


def test_the_default_targets_calls_do_not_depend_on_the_set(tmp_path):
    columns = ("fusion", "breakpoint5", "breakpoint3", "split_reads", "discordant_pairs", "confidence", "target",
               "known", "exon5", "exon3", "reading_frame", "kinase_domain", "hgvs")
    for sample in ("IMT01", "IMT03"):
        default = rows(call(tmp_path, sample, "default") / f"{sample}.fusions.tsv")
        extended = rows(call(tmp_path, sample, "imt-extended") / f"{sample}.fusions.tsv")
        assert default and [[r[k] for k in columns] for r in default] == [[r[k] for k in columns] for r in extended]


def test_the_kinase_domain_of_an_extended_target_is_lost_when_the_break_is_past_it():
    """The same TPM3 end joined to NTRK1's last exon: the NTRK1 kinase domain (aa 510-781)
    is cut, so kinase_domain says lost."""
    result = run_sample(DEMO / "bam" / "IMT06.bam", GTF, "IMT06", targets=resolve_target_names("imt-extended"),
                        fasta=FASTA)
    [c] = result.called
    annotation = load_annotation(GTF)
    ntrk1 = annotation.find_gene("NTRK1")
    [tx] = [t for t in annotation.transcripts_of(ntrk1.gene_id) if "Ensembl_canonical" in t.tags]
    last_exon_start = tx.exons[-1][0]  # plus strand: the exon's lowest coordinate, 0-based
    kept = annotate_fusion(annotation, c.gene5.gene_id, c.gene3.gene_id, c.end5.pos, c.end5.side, c.end3.pos,
                           c.end3.side, "TPM3", "NTRK1", load_domains(), ("Ensembl_canonical",))
    cut = annotate_fusion(annotation, c.gene5.gene_id, c.gene3.gene_id, c.end5.pos, c.end5.side, last_exon_start,
                          c.end3.side, "TPM3", "NTRK1", load_domains(), ("Ensembl_canonical",))
    assert (kept.exon3, kept.kinase_domain) == (10, "retained")
    assert (cut.exon3, cut.kinase_domain) == (len(tx.exons), "lost")
