"""Results that benchmark scripts recorded and chapters show, shipped with the package.

A chapter opened alone (Colab, Binder) has no repository around it, so the runs it shows instead
of training them itself travel inside labkit as package data. Read them with
:func:`labkit.config.recorded_results`; the scripts in ``benchmarks/`` write them here.
"""
