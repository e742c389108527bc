"""Build hook for the one optional C extension; everything else is in pyproject.toml.

``imtfusion._bamwalk`` follows the chain of BAM records of the target loci in C, and
sorts them (QC counts, depth, the records that may carry evidence). It is
optional: without a C compiler the install still succeeds and imtfusion.scan uses its
numpy code, which gives the same results more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "imtfusion._bamwalk",
            sources=["scripts/imtfusion/_bamwalk.c"],
            optional=True,
        )
    ]
)
