"""Sweeps: many digital-twin runs varying what the user names, on dask.distributed.

`spec` expands a sweep into runs (each with its own seed) and keeps their results on disk; `runner` runs one of
them in the twin; `cluster` farms runs out to a Dask cluster; `plots` draws the table.
"""
