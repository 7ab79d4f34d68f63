"""Engines run a plan's shards: :class:`LocalEngine` in this process, ``DaskEngine`` on Dask."""
