"""Benchmarks of imtfusion on simulated data, behind ``imtfusion benchmark``.

Modules: :mod:`~imtfusion.bench.cli` (the ``benchmark`` command and its
sub-commands) and :mod:`~imtfusion.bench.accuracy` (recall, precision and
breakpoint accuracy per aligner on a simulated panel with known truth).
"""
