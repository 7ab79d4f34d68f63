"""Sinks: where an export's pages go, each with its shard's checkpoint, atomically."""
