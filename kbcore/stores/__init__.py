"""Adapters of the storage port (kbcore.index_store)."""
