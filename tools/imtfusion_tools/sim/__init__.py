"""Synthetic genome, read simulator and aligner wrappers behind ``imtfusion simulate``.

Modules: :mod:`~imtfusion_tools.sim.genome` (designed gene models on random
sequence, FASTA/GTF writers), :mod:`~imtfusion_tools.sim.reads` (fusion transcripts,
fragments, reads, truth), :mod:`~imtfusion_tools.sim.align` (STAR, HISAT2, BWA-MEM,
minimap2 into deterministic sorted BAMs) and :mod:`~imtfusion_tools.sim.demo` (the
committed demo batch).
"""
