"""The data store: where object bytes live (see local.py for the on-disk layout)."""

from .local import FileWriter, LocalDataStore, ReadSpan
from .volstore import DataUnavailable, VolumeDataStore

__all__ = ["DataUnavailable", "FileWriter", "LocalDataStore", "ReadSpan", "VolumeDataStore"]
