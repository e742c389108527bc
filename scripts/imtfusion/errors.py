"""Domain errors. Each message names the file involved and says what to do about it.

The CLI turns any :class:`ImtfusionError` into one line on stderr and exit status 1;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class ImtfusionError(Exception):
    """Base class of every error a user can fix by changing the input or the command."""


class InputFileError(ImtfusionError):
    """An input file is missing, unreadable or malformed."""


class AlignmentFileError(InputFileError):
    """A BAM/CRAM file cannot be used as it is."""


class AlignmentFileNotIndexedError(AlignmentFileError):
    """The BAM/CRAM has no usable index."""


class AnnotationError(InputFileError):
    """The GTF cannot be used (unreadable, or lacks what the run needs)."""


class TargetGeneNotFoundError(AnnotationError):
    """A configured target gene is absent from the GTF."""


class ContigMismatchError(ImtfusionError):
    """BAM, GTF and FASTA do not name or size their contigs compatibly."""


class FastaError(InputFileError):
    """The FASTA cannot be used."""


class SampleSheetError(InputFileError):
    """The sample sheet is malformed."""


class PrimerFileError(InputFileError):
    """The primer BED of an anchored multiplex PCR panel is malformed or does not fit the BAM."""


class ConfigError(ImtfusionError):
    """A configuration value is invalid."""


class ExternalToolError(ImtfusionError):
    """An external program (only used by the simulator and benchmarks) failed or is absent."""
