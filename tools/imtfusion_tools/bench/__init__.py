"""Benchmarks of imtfusion on simulated data, behind ``imtfusion benchmark``.

Modules: :mod:`~imtfusion_tools.bench.cli` (the ``benchmark`` command and its
sub-commands) and :mod:`~imtfusion_tools.bench.accuracy` (recall, precision and
breakpoint accuracy per aligner on a simulated panel with known truth).
"""
