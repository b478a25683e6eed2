"""The data store: where object bytes live (see local.py for the on-disk layout)."""

from coffer.server.data.local import FileWriter, LocalDataStore, ReadSpan
from coffer.server.data.volumes.store import DataUnavailable, VolumeDataStore

__all__ = ["DataUnavailable", "FileWriter", "LocalDataStore", "ReadSpan", "VolumeDataStore"]
