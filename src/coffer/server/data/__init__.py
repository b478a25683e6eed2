"""The data store: where object bytes live, behind one interface.

Modules:
  durable    Durability helpers shared by every store and key file: making a rename or a new file survive a crash.
  interface  The `DataStore` contract every store implements (writer -> SegmentWriter, spans, reader,
             read, fragments, delete, sweep_tmp, iter_refs, open/close, policies) and the optional
             `VolumeAdmin` facet (`volume_admin()`, None without volumes). The service layer sees
             only this.
  local      `LocalDataStore`: one file per segment in one data folder (sendfile spans; SINGLE only).
  volumes/   `VolumeDataStore`: erasure-coded or mirrored fragments over several volumes, every block
             verified on read, self-healing (volumes/__init__.py has its map).

A store is chosen once, by the composition root (runner.make_data); nothing else asks which one it is.
"""

from coffer.server.data.interface import (
    DataShort,
    DataStore,
    DataUnavailable,
    NodeAdmin,
    ReadSpan,
    SegmentLike,
    SegmentReader,
    SegmentWriter,
    VolumeAdmin,
)
from coffer.server.data.local import FileWriter, LocalDataStore
from coffer.server.data.volumes.store import VolumeDataStore

__all__ = [
    "DataShort",
    "DataStore",
    "DataUnavailable",
    "FileWriter",
    "LocalDataStore",
    "NodeAdmin",
    "ReadSpan",
    "SegmentLike",
    "SegmentReader",
    "SegmentWriter",
    "VolumeAdmin",
    "VolumeDataStore",
]
