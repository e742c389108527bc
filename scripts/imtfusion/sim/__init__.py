"""Synthetic genome, read simulator and aligner wrappers behind ``imtfusion simulate``.

Modules: :mod:`~imtfusion.sim.genome` (designed gene models on random
sequence, FASTA/GTF writers), :mod:`~imtfusion.sim.reads` (fusion transcripts,
fragments, reads, truth), :mod:`~imtfusion.sim.align` (STAR, HISAT2, BWA-MEM,
minimap2 into deterministic sorted BAMs) and :mod:`~imtfusion.sim.demo` (the
committed demo batch).
"""
