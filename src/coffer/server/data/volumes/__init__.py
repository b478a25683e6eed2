"""The multi-volume data store: erasure-coded (or replicated) segments over several volumes, bitrot
checks on every read, self-healing (docs/erasure-coding.md, docs/volumes.md).

Modules:
  bitrot          Bitrot protection: the fragment file format and the checksum of every block in it.
  heal            Self-healing over the multi-volume store: census, repair queue, scrubber, rebuild and drain.
  placement       Placement: which volume holds which fragment of an object, by rendezvous hashing.
  storage_policy  Storage policies: how many fragments an object is cut into and how many losses it survives.
  store           The multi-volume data store: the erasure-coded engine behind the data-store interface.
  stripes         Erasure-coded (and replicated) object segments over several volumes: write, read, repair.
  volume          Volumes: the directories (normally one per disk) that hold fragment files, and their health.
"""
