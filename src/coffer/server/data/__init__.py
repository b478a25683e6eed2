"""The data store: where object bytes live (see local.py for the on-disk layout)."""

from .local import FileWriter, LocalDataStore, ReadSpan

__all__ = ["FileWriter", "LocalDataStore", "ReadSpan"]
