"""The multi-volume data store: erasure-coded (or replicated) segments over several volumes, bitrot
checks on every read, self-healing (docs/erasure-coding.md, docs/volumes.md).

Modules:
  bitrot          Bitrot protection: the fragment file format and the checksum of every block in it.
  cluster         The gateway's data store over storage nodes: the cluster map's volumes as remote volumes.
  folder_upkeep   The upkeep state of a multi-volume store built without a metadata store: in its data folder.
  heal            Self-healing over the multi-volume store: census, repair queue, scrubber, rebuild and drain.
  placement       Placement: which volume holds which fragment of an object, by rendezvous hashing.
  rebalance       Rebalance: move fragments to where placement wants them now (a node or volume joined).
  remote          Remote volumes: a storage node's volume, used by the erasure-coded engine like a local one.
  storage_policy  Storage policies: how many fragments an object is cut into and how many losses it survives.
  store           The multi-volume data store: the erasure-coded engine behind the data-store interface.
  stripes         Erasure-coded (and replicated) object segments over several volumes: write, read, repair.
  upkeep          The multi-volume store's upkeep: the background healer loop (repair queue, scrubber, rebalance) ...
  volume          Volumes: the directories (normally one per disk) that hold fragment files, and their health.
"""
