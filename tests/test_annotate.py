"""Transcript-level annotation: exon numbers, sites, reading frame, domains, sequences.

Toy genes (see test_calling.py): PARTP on +, exons 200/150/300 bp; ALK on -, exons in
transcript order [32000,32400) 400 bp, [26000,26200) 200 bp, [20000,20150) 150 bp, ...
Their CDS is the whole transcript, so CDS offsets are transcript offsets.
"""

from __future__ import annotations

import pytest

from imtfusion.annotate import Domain, annotate_fusion, reading_frame
from imtfusion.transcript import TranscriptGeometry
from imtfusion.annotation import Transcript, read_gtf
from test_calling import make_toy
from toolkit import revcomp

TAGS = ("Ensembl_canonical", "MANE_Select")


@pytest.fixture()
def toy_annotation(tmp_path):
    toy = make_toy()
    ann = read_gtf(toy.write_gtf(tmp_path / "a.gtf"))
    return toy, ann


def gene_id(ann, name):
    return ann.find_gene(name).gene_id


def annotate(ann, p5, s5, p3, s3, domains=(), fetch=None, g5="PARTP", g3="ALK"):
    return annotate_fusion(ann, gene_id(ann, g5), gene_id(ann, g3), p5, s5, p3, s3, g5, g3, list(domains), TAGS, fetch)


def test_exon_boundaries_give_exon_numbers_and_frame(toy_annotation):
    _, ann = toy_annotation
    a = annotate(ann, 4149, "L", 20149, "L")  # PARTP exon 2 end :: ALK exon 3 start
    assert (a.exon5, a.exon3) == (2, 3)
    assert (a.site5, a.site3) == ("splice_site", "splice_site")
    # 350 coding bases kept from PARTP (350 % 3 == 2); ALK resumes at CDS index 600 (% 3 == 0)
    assert a.reading_frame == "out-of-frame"
    assert a.transcript5.startswith("ENST") and a.transcript3.startswith("ENST")


def test_breakpoints_inside_exons_on_both_strands(toy_annotation):
    _, ann = toy_annotation
    # PARTP keeps 200 + 101 bases (301 % 3 == 1); ALK (minus strand) resumes 49 bases into
    # exon 3, i.e. CDS index 600 + 49 = 649 (% 3 == 1): in frame
    a = annotate(ann, 4100, "L", 20100, "L")
    assert (a.exon5, a.exon3) == (2, 3)
    assert (a.site5, a.site3) == ("exonic", "exonic")
    assert a.reading_frame == "in-frame"


def test_intronic_breakpoints_keep_intron_bases_in_the_frame(toy_annotation):
    _, ann = toy_annotation
    # ALK keeps 351 intronic bases (20150..20500) before exon 3: first kept CDS index 249
    a = annotate(ann, 4149, "L", 20500, "L")
    assert a.exon3 == 3 and a.site3 == "intronic"
    # 350 % 3 == 2 and 249 % 3 == 0
    assert a.reading_frame == "out-of-frame"
    # PARTP keeps 2 intronic bases after exon 1 (ends at 1199): 200 + 2 = 202 (% 3 == 1)
    a = annotate(ann, 1201, "L", 20100, "L")
    assert a.exon5 == 1 and a.site5 == "intronic"
    assert a.reading_frame == "in-frame"


def test_a_junction_intronic_on_both_sides_is_read_as_its_spliced_mrna(toy_annotation):
    # PARTP intron 2 (after exon 2, ends at 4149) :: ALK intron 2 (before exon 3, first base
    # 20149): a genomic breakpoint read in pre-mRNA. As kept bases the 3' side would start
    # 851 intronic bases before ALK's CDS index 600 (no frame); the mRNA splices PARTP exon 2
    # to ALK exon 3, as the exon-boundary junction does (350 % 3 == 2, 600 % 3 == 0)
    toy, ann = toy_annotation
    domains = [Domain("ALK", "kinase", "kinase", 220, 250, "test"), Domain("PARTP", "head", "other", 1, 50, "test")]

    def fetch(chrom, start, end):
        return toy.seq[chrom][max(0, start):end]

    deep = annotate(ann, 4500, "L", 21000, "L", domains, fetch=fetch)
    at_exons = annotate(ann, 4149, "L", 20149, "L", domains, fetch=fetch)
    assert (deep.site5, deep.site3, deep.exon5, deep.exon3) == ("intronic", "intronic", 2, 3)
    assert deep.reading_frame == at_exons.reading_frame == "out-of-frame"
    assert deep.peptide == at_exons.peptide and deep.peptide
    assert deep.retained_domains == at_exons.retained_domains and deep.kinase_domain == "retained"
    # the junction as read keeps the intronic bases; its description says where it lies
    left, right = deep.fusion_transcript.split("|")
    assert left == toy.seq["chr4"][4500 + 1 - 60:4501].lower()
    assert "intron" in deep.exon_description
    # one intronic side is bases the mRNA keeps (a cryptic splice site), as before
    kept = annotate(ann, 4149, "L", 21000, "L", domains, fetch=fetch)
    assert kept.reading_frame == "unknown" and kept.site5 == "splice_site"


def test_minus_strand_five_prime_partner(toy_annotation):
    _, ann = toy_annotation
    # PART1 (minus): exon 2 in transcript order is [8000,8120); its last base is 8000
    a = annotate(ann, 8000, "R", 6000, "R", g5="PART1", g3="ETV6")
    assert (a.exon5, a.exon3) == (2, 2)
    assert (a.site5, a.site3) == ("splice_site", "splice_site")
    # PART1 keeps 300 + 120 = 420 (% 3 == 0); ETV6 exon 2 starts at CDS index 200 (% 3 == 2)
    assert a.reading_frame == "out-of-frame"


def test_domains_retained_partial_and_lost(toy_annotation):
    _, ann = toy_annotation
    domains = [
        Domain("ALK", "kinase", "kinase", 220, 250, "test"),  # CDS 657-750: after the junction
        Domain("ALK", "early", "other", 100, 150, "test"),  # before: lost
        Domain("ALK", "spanning", "other", 190, 210, "test"),  # across aa 201: partial
        Domain("PARTP", "head", "other", 1, 50, "test"),
    ]
    a = annotate(ann, 4149, "L", 20149, "L", domains)
    assert a.kinase_domain == "retained"
    assert set(a.retained_domains) == {"ALK:kinase", "ALK:spanning (partial)", "PARTP:head"}
    # the same fusion breaking after the kinase domain loses it
    late = annotate(ann, 4149, "L", 15100, "L", domains)
    assert late.kinase_domain == "lost"
    # mapped to the genome: aa 220-250 = CDS 657..749, in ALK exon 4 (tx 750..869) -> exon 3
    [(name, kind, intervals)] = [d for d in a.domains3 if d[0] == "kinase"]
    assert sum(e - s for s, e in intervals) == 93
    assert all(20000 <= s and e <= 20150 or 15000 <= s and e <= 15120 for s, e in intervals)


def test_no_declared_kinase_is_not_applicable(toy_annotation):
    _, ann = toy_annotation
    a = annotate(ann, 4149, "L", 20149, "L", [])
    assert a.kinase_domain == "not applicable"


def test_fusion_transcript_and_peptide_with_a_fasta(toy_annotation):
    toy, ann = toy_annotation
    # PARTP's CDS reads GCT GCT ... (Ala); ALK exon 3 reads TGG TGG ... (Trp) in mRNA
    # orientation, i.e. CCA CCA ... on the plus strand
    seq4 = list(toy.seq["chr4"])
    seq4[1000:1200] = ("GCT" * 67)[:200]
    seq4[4000:4150] = ("GCT" * 67)[200 % 3: 200 % 3 + 150]
    toy.seq["chr4"] = "".join(seq4)
    seq2 = list(toy.seq["chr2"])
    seq2[20000:20150] = "CCA" * 50
    toy.seq["chr2"] = "".join(seq2)

    def fetch(chrom, start, end):
        return toy.seq[chrom][max(0, start):end]

    a = annotate(ann, 4100, "L", 20100, "L", fetch=fetch)
    left, right = a.fusion_transcript.split("|")
    assert left == toy.seq["chr4"][4101 - 60:4101]
    assert right == revcomp(toy.seq["chr2"][20101 - 60:20101])
    # 301 PARTP bases: 100 Ala codons and a G; ALK resumes 49 bases into exon 3, i.e. at
    # the second base of a TGG codon: the junction codon is G+GG (Gly), then Trp
    assert a.reading_frame == "in-frame"
    assert a.peptide == "A" * 30 + "|" + "G" + "W" * 30


def test_utr_sites_and_unknown_frame():
    # a plus-strand transcript with a 50-base 5'UTR and 40-base 3'UTR
    t = Transcript("T1", "G1", "G", "c", "+", "protein_coding", (), ((100, 300), (400, 600)), ((150, 300, 0), (400, 560, 0)))
    g = TranscriptGeometry(t)
    assert g.locate_5prime(120).site == "5'UTR"
    assert g.locate_5prime(580).site == "3'UTR"
    assert g.locate_5prime(299).site == "splice_site"
    assert g.locate_3prime(400).site == "splice_site"
    assert g.locate_3prime(200).site == "exonic"
    assert reading_frame(g.locate_5prime(120), g.locate_3prime(400)) == "unknown"
    assert reading_frame(g.locate_5prime(299), g.locate_3prime(400)) == "in-frame"


def test_the_index_gives_the_gtfs_genes_and_names_shared_by_several_genes(tmp_path):
    """Genes come back from the index's stored columns, and from its SQL table when the
    index predates them; a gene name used by several genes finds all of them."""
    import sqlite3

    from imtfusion.annotation import load_annotation, write_index

    rows = []
    for k, (name, chrom, start, gid) in enumerate([
        ("ALK", "chr2", 29_000, "ENSG1.5"), ("Y_RNA", "chr1", 500, "ENSG2.1"), ("Y_RNA", "chr3", 900, "ENSG3.2"),
        ("ZZZ", "chr1", 100, "ENSG4"), ("AAA", "chr1", 100, "ENSG0.1"), ("Y_RNA", "chr1", 50, "ENSG5.1"),
    ]):
        attrs = f'gene_id "{gid}"; gene_name "{name}"; gene_type "protein_coding";'
        tx = f'{attrs} transcript_id "T{k}";'
        rows += [f"{chrom}\tt\tgene\t{start + 1}\t{start + 300}\t.\t+\t.\t{attrs}",
                 f"{chrom}\tt\ttranscript\t{start + 1}\t{start + 300}\t.\t+\t.\t{tx}",
                 f"{chrom}\tt\texon\t{start + 1}\t{start + 300}\t.\t+\t.\t{tx} exon_number \"1\";"]
    gtf = tmp_path / "g.gtf"
    gtf.write_text("\n".join(rows) + "\n")
    from_gtf = load_annotation(gtf)
    index = tmp_path / "g.idx"
    write_index(from_gtf, index)
    from_index = load_annotation(index)
    old = tmp_path / "old.idx"
    old.write_bytes(index.read_bytes())
    with sqlite3.connect(str(old)) as db:
        db.execute("DROP TABLE gene_columns")
    from_sql = load_annotation(old)
    for a in (from_gtf, from_index, from_sql):
        assert a.genes.columns == from_gtf.genes.columns
        assert a.genes["gene_id"] == ["ENSG5.1", "ENSG0.1", "ENSG4", "ENSG2.1", "ENSG1.5", "ENSG3.2"]
        assert a.contigs == ["chr1", "chr2", "chr3"]
        assert a.find_gene("ALK").gene_id == a.find_gene("ENSG1").gene_id == a.find_gene("ENSG1.5").gene_id == "ENSG1.5"
        assert a.find_gene("Y_RNA").chrom == "chr1"  # several: a short contig name, then the longest copy
        assert a._name_index().get("Y_RNA") == [0, 3, 5]  # rows sorted by contig and start
        assert [g.gene_id for g in a.genes_overlapping("chr1", 120, 360)] == ["ENSG5.1", "ENSG0.1", "ENSG4"]
        assert [g.gene_id for g in a.genes_overlapping("chr3", 0)] == []
        with pytest.raises(Exception, match="not in the annotation"):
            a.find_gene("NOPE")
        # curated partner names are looked up as gene names only (no id index is built)
        fresh = load_annotation(index)
        assert fresh.find_gene("ALK", by_id=False).gene_id == "ENSG1.5"
        with pytest.raises(Exception, match="not in the annotation"):
            fresh.find_gene("ENSG1", by_id=False)
        assert fresh._ids is None


def test_the_gene_table_holds_each_contig_strand_and_gene_type_once():
    """Read from a GTF, every row's contig is a new string; the table keeps one object per
    value, so an index pickles each once (a GENCODE-sized table: 4.3 MB -> 3.0 MB, and
    faster to load in every call)."""
    import pickle

    from imtfusion.annotation import GeneTable

    rows = [("".join(["chr", "1"]), 100 * i, 100 * i + 50, "".join("+"), f"G{i}", f"GENE{i}", "".join(["lnc", "RNA"]))
            for i in range(500)]
    assert rows[0][0] is not rows[1][0]  # (the test's own strings are distinct objects)
    table = GeneTable(rows)
    for column in ("Chromosome", "Strand", "gene_type"):
        assert len({id(value) for value in table[column]}) == 1
    assert table["Chromosome"][0] == "chr1" and table["Start"][:2] == [0, 100]
    # the same values as separate objects (a new string per row) pickle larger
    loose = {name: [f"{v}!"[:-1] if isinstance(v, str) else v for v in col] for name, col in table.columns.items()}
    assert loose == table.columns
    assert len(pickle.dumps(table.columns)) < len(pickle.dumps(loose))


def test_the_report_says_a_both_sides_intronic_call_is_read_as_spliced(tmp_path):
    # pre-mRNA junction reads of PARTP intron 2 :: ALK intron 2 make an intronic call; its
    # card gives the spliced mRNA's frame and says which exons it joins
    from test_calling import add_background, by_fusion, call

    from imtfusion.report import render_sample_report

    toy = make_toy()
    add_background(toy)
    for i in range(4):
        toy.fragment(f"dna{i}", [("chr4", 4440 + i, "+", 60 - i), ("chr2", 20960, "-", 40 + i)],
                     [("chr2", 20700 + 7 * i, "+", 100)])
    result = call(tmp_path, toy, fasta=True)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.pos, c.end3.pos) == (4499, 20999)
    assert (c.annotation.site5, c.annotation.site3, c.annotation.reading_frame) == ("intronic", "intronic", "out-of-frame")
    page = render_sample_report(result)
    assert "those of the mRNA spliced across it, PARTP exon 2 :: ALK exon 3)" in page
