"""The storage node: `coffer node serve`, a process that lends its volumes to the cluster's gateways.

Modules:
  app     the internal HTTP API (aiohttp) over this node's volumes: fragment put (streamed, verified,
          tmp -> fdatasync -> rename -> fsync dir), get (ranges, sendfile), head, delete, a ref's
          fragments, the refs of a volume, temp-file sweep, node and volume info. Every request is
          signed with the cluster secret (coffer.protocol.node_auth).
  serve   start-up: open (first time: format) the volumes, register the node and its volumes in the
          cluster map, heartbeat ``last_seen`` with the database clock, re-probe volumes.

A node holds no metadata and makes no decision: gateways place, read, repair; the cluster map (the
metadata database) is the only coordinator.
"""
