"""imtfusion's simulator (``sim``, ``simulate``) and benchmarks (``bench``).

They live in the repository's ``tools/``, not in the installed ``imtfusion`` package: a
lab's install carries only what a call needs. ``imtfusion simulate`` and ``imtfusion
benchmark`` find this package in a checkout (see :mod:`imtfusion.cli`); the tests put
``tools/`` on their path."""
