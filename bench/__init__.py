"""Benchmarks: each module has a ``main()`` that prints its workload, a baseline measured in the
same run, and the ratio. ``python -m bench`` (``make bench``) runs them all; ``python -m bench
catalogue`` runs one."""
