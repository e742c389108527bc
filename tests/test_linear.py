"""Issue #20: the cost of a call grows with the evidence, not with its square. These tests
check behaviour, never wall time: the indexed and hashed ways of grouping and assigning
evidence give exactly what the pairwise ways gave, and the evidence source reads each
region of the BAM once however many candidates ask for it."""

from __future__ import annotations

import random
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest

import imtfusion.evidence as evidence
from imtfusion import calling, rescue
from imtfusion.calling import _assign_discordants, _discordant_fits, UnmappedIndex
from imtfusion.evidence import BreakendReads
from imtfusion.model import Breakend, ClippedRead, DiscordantRead, UnmappedMate
from imtfusion.params import CallParameters
from imtfusion.pipeline import run_sample

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"


# --------------------------------------------------------------------------
# the pairwise ways, as they were (the reference)
# --------------------------------------------------------------------------


def pairwise_group_clips(clips):
    """rescue.group_clips before sequences were hashed: each clip against every group."""
    by_side = defaultdict(list)
    for clip in clips:
        by_side[(clip.end.chrom, clip.end.side)].append(clip)
    by_end = defaultdict(list)
    for (chrom, side), members in by_side.items():
        members.sort(key=lambda c: (c.end.pos, c.fragment))
        runs = []
        for clip in members:
            if runs and clip.end.pos - runs[-1][0].end.pos <= rescue.CLIP_WINDOW:
                runs[-1].append(clip)
            else:
                runs.append([clip])
        for run in runs:
            counts = defaultdict(int)
            for clip in run:
                counts[clip.end.pos] += 1
            pos = max(counts, key=lambda p: (counts[p], -p if side == "L" else p))
            end = Breakend(chrom, pos, side)
            for clip in run:
                moved = rescue._moved(clip, end)
                by_end[end if moved is not None else clip.end].append(moved or clip)
    out = []
    for end in sorted(by_end):
        groups = []
        spelled = Counter(c.outward for c in by_end[end])  # the longest, most read sequence first
        for clip in sorted(by_end[end], key=lambda c: (-len(c.outward), -spelled[c.outward], c.fragment)):
            home = next((g for g in groups if rescue._agrees(clip.outward, g[0].outward)), None)
            if home is None:
                groups.append([clip])
            else:
                home.append(clip)
        out.extend((end, g) for g in groups)
    return out


def pairwise_assign(reads, candidates, params):
    """calling._assign_discordants before the sorted index: every read against every junction."""
    fitting = defaultdict(list)
    for cand in candidates:
        view = cand.junction
        for read_end, mate_end in ((view.a, view.b), (view.b, view.a)):
            fitting[(read_end.chrom, read_end.side, mate_end.chrom, mate_end.side)].append((cand, read_end, mate_end))
    leftovers = []
    for read in reads:
        best = None
        r, m = read.read_end, read.mate_end
        for cand, read_end, mate_end in fitting.get((r.chrom, r.side, m.chrom, m.side), ()):
            dist = _discordant_fits(read, read_end, mate_end, params)
            if dist is not None:
                key = (-cand.split_reads, dist)
                if best is None or key < best[0]:
                    best = (key, cand)
        if best is None:
            leftovers.append(read)
            continue
        host = best[1]
        if read.fragment not in host.discordant_fragments:
            host.mapqs.append(read.mapq)
        host.discordant_fragments.add(read.fragment)
        host.dup_keys.setdefault(read.fragment, set()).add(read.dup_key)
    return leftovers


# --------------------------------------------------------------------------
# inputs where the shortcuts could go wrong
# --------------------------------------------------------------------------

PARTNERS = ("ACGTTGCAAGGCTTACCGATGCATGCAAGTCCGATAGCTAGG", "TTGACCAGGTACGATCGGCTAGCATCGATCGGATTACAGGCT")


def _mutate(rng: random.Random, seq: str, n: int) -> str:
    s = list(seq)
    for _ in range(n):
        i = rng.randrange(len(s))
        s[i] = rng.choice([b for b in "ACGTN" if b != s[i]])
    return "".join(s)


def tricky_clips(seed: int) -> list[ClippedRead]:
    """Clips at a few breakends a few bases apart (re-cut onto the most common one), of
    two partners, many repeating a sequence exactly, others with mismatches or Ns, some
    short (they must agree exactly), some beyond the re-cut window, on both sides."""
    rng = random.Random(seed)
    inward = "GATTACAGATTACAGATTACAGATTACA"
    out = []
    for i in range(rng.randint(50, 300)):
        side = rng.choice("LR")
        pos = 1_000 + rng.choice((0, 0, 0, 1, 2, -1, 3, 5, 6, 12, 40))
        partner = rng.choice(PARTNERS)
        length = rng.choice((6, 8, 10, 15, 19, 20, 25, 42))
        bases = partner[:length]
        roll = rng.random()
        if roll < 0.3:
            bases = _mutate(rng, bases, rng.randint(1, 3))
        elif roll < 0.35:
            bases = "N" * len(bases)
        out.append(ClippedRead(f"r{i:04d}", Breakend(rng.choice(("chr2", "chr5")), pos, side), bases,
                               rng.randint(20, 80), 60, inward[: rng.randint(0, len(inward))]))
    rng.shuffle(out)
    return out


def shape(groups):
    return [(end, [(c.fragment, c.end, c.outward, c.inward, c.anchor) for c in g]) for end, g in groups]


@pytest.mark.parametrize("seed", range(40))
def test_clips_grouped_by_sequence_key_are_the_pairwise_groups(seed):
    clips = tricky_clips(seed)
    groups = rescue.group_clips(list(clips))
    assert shape(groups) == shape(pairwise_group_clips(list(clips)))
    assert sum(len(g) for _, g in groups) == len(clips)
    assert len(groups) > 2  # the inputs make several groups (partners, sides, contigs)


def test_a_clip_that_does_not_agree_with_itself_is_compared_again():
    # eight Ns agree with nothing, not even themselves: each is its own group, as before
    clips = [ClippedRead(f"n{i}", Breakend("chr2", 500, "L"), "N" * 8, 30, 60, "ACGT") for i in range(3)]
    clips += [ClippedRead(f"a{i}", Breakend("chr2", 500, "L"), PARTNERS[0][:25], 30, 60, "ACGT") for i in range(3)]
    groups = rescue.group_clips(clips)
    assert shape(groups) == shape(pairwise_group_clips(clips))
    assert [len(g) for _, g in groups] == [3, 1, 1, 1]


class FakeView:
    def __init__(self, a: Breakend, b: Breakend):
        self.a, self.b = a, b


class FakeCandidate:
    """What _assign_discordants reads and writes of a candidate."""

    def __init__(self, a: Breakend, b: Breakend, split_reads: int):
        self.junction = FakeView(a, b)
        self.split_reads = split_reads
        self.discordant_fragments: set[str] = set()
        self.mapqs: list[int] = []
        self.dup_keys: dict[str, set] = {}

    def state(self):
        return sorted(self.discordant_fragments), list(self.mapqs), sorted((k, sorted(v)) for k, v in self.dup_keys.items())


def _candidates(rng: random.Random) -> list[FakeCandidate]:
    out = []
    for _ in range(rng.randint(1, 40)):
        a = Breakend("chr2", 10_000 + rng.randint(-300, 300), rng.choice("LR"))
        b = Breakend(rng.choice(("chr1", "chr2")), 50_000 + rng.randint(-300, 300), rng.choice("LR"))
        out.append(FakeCandidate(a, b, rng.choice((1, 2, 2, 5, 9))))  # ties in support: the order decides
    return out


def _reads(rng: random.Random) -> list[DiscordantRead]:
    out = []
    for i in range(rng.randint(0, 400)):
        r = Breakend("chr2", 10_000 + rng.randint(-1_500, 1_500), rng.choice("LR"))
        m = Breakend(rng.choice(("chr1", "chr2")), 50_000 + rng.randint(-1_500, 1_500), rng.choice("LR"))
        if rng.random() < 0.5:
            r, m = m, r  # seen from the other end
        out.append(DiscordantRead(f"f{i % 300}", r, m, rng.choice((0, 20, 60)), r.pos, r.pos + 100, dup_key=(i % 7,)))
    return out


@pytest.mark.parametrize("seed", range(30))
def test_discordant_mates_assigned_by_sorted_sweep_as_by_all_pairs(seed):
    params = CallParameters(discordant_max_distance=rng_limit(seed))
    rng = random.Random(seed)
    candidates, reads = _candidates(rng), _reads(rng)
    twins = [FakeCandidate(c.junction.a, c.junction.b, c.split_reads) for c in candidates]
    left = _assign_discordants(list(reads), candidates, params)
    assert left == pairwise_assign(list(reads), twins, params)
    assert [c.state() for c in candidates] == [c.state() for c in twins]


def rng_limit(seed: int) -> int:
    return (100, 500, 1_000, 2_000)[seed % 4]


@pytest.mark.parametrize("seed", range(10))
def test_unmapped_reads_and_mates_near_breakends_by_index_as_by_scan(seed):
    rng = random.Random(seed)
    unmapped = [UnmappedMate(f"u{i}", "ACGT", rng.choice(("chr1", "chr2")), rng.randint(0, 5_000))
                for i in range(rng.randint(0, 200))]
    discordants = _reads(rng)
    index, mates = UnmappedIndex(unmapped), rescue.MateIndex(discordants)
    for _ in range(30):
        ends = [Breakend(rng.choice(("chr1", "chr2")), rng.randint(0, 5_000), rng.choice("LR")) for _ in range(2)]
        limit = rng.choice((0, 10, 300, 1_000))
        assert index.near(ends, limit) == [u for u in unmapped if any(
            u.chrom == e.chrom and abs(u.pos - e.pos) <= limit for e in ends)]
        end = Breakend("chr2", 10_000 + rng.randint(-1_000, 1_000), rng.choice("LR"))
        assert rescue._mates_of(end, mates, limit) == rescue._mates_of(end, discordants, limit)


# --------------------------------------------------------------------------
# each region read once
# --------------------------------------------------------------------------


def test_the_evidence_source_reads_each_block_once_however_many_ask(monkeypatch):
    import pysam

    reads = Counter()
    real_region = evidence.collect_region

    def region(bam, chrom, start, end, params):  # one pass of a block: its clipped and unmapped reads
        reads[chrom, start, end] += 1
        return real_region(bam, chrom, start, end, params)

    monkeypatch.setattr(evidence, "collect_region", region)
    params = CallParameters()
    with pysam.AlignmentFile(str(DEMO / "bam" / "IMT01.bam")) as bam:
        ends = BreakendReads(bam)
        once = {(c.fragment, c.end) for c in real_region(bam, "chr2", 50_000, 65_000, params)[0]}
        for k in range(200):  # 200 candidates near one junction ask for overlapping windows
            lo = 50_000 + 37 * k % 9_000
            got = ends.clipped("chr2", lo, lo + 6_000, params)
            assert {(c.fragment, c.end) for c in got} == {x for x in once if lo <= x[1].pos < lo + 6_000}
            ends.unmapped("chr2", lo, lo + 6_000)
    assert reads and max(reads.values()) == 1
    blocks = [(s, e) for (_, s, e) in reads]
    assert all(e - s == BreakendReads.REGION_BLOCK and s % BreakendReads.REGION_BLOCK == 0 for s, e in blocks)


@pytest.mark.skipif(shutil.which("STAR") is None, reason="STAR (rna-star) not installed")
def test_a_call_reads_no_partner_region_twice(monkeypatch, tmp_path):
    """The partner-side passes of a whole call (second pass, unmapped reads at the known
    partners, mate pairs) read each block of the BAM once, however many candidates ask:
    a sample simulated with 300 TPM3::ALK junction fragments, aligned by STAR without
    chimeric detection (junction reads soft-clipped or unmapped beside their mates)."""
    from imtfusion_tools.bench import speed

    spec = speed.fusion_from_truth(DEMO / "truth.tsv", "IMT01")
    built = speed.simulated_chimeric_bam(tmp_path, "star_default", 300, spec, (7, 20), DEMO / "genome.fa",
                                         DEMO / "annotation.gtf", 20240611)
    reads = Counter()
    real_region = evidence.collect_region

    def region(bam, chrom, start, end, params):
        reads[chrom, start] += 1
        return real_region(bam, chrom, start, end, params)

    monkeypatch.setattr(evidence, "collect_region", region)
    for fasta in (DEMO / "genome.fa", None):
        reads.clear()
        result = run_sample(built.path, DEMO / "annotation.gtf", "S", fasta=fasta)
        assert "TPM3::ALK" in [c.fusion for c in result.called]
        assert reads and max(reads.values()) == 1, reads.most_common(3)
