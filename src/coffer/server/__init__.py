"""The server: composition roots (runner, startup, config), its commands, and its layers: HTTP fronts
(http/, node/, workers/) over the service (service/) over the stores (meta/, data/); crypto/ beside data.

Modules and packages:
  cli      The server's commands: `coffer serve`, `coffer user add|list|remove`, `coffer kms`, `coffer token`.
  config   Server configuration: every tunable and every limit in one typed place.
  crypto   Encryption at rest: the envelope format (AES-256-GCM blocks, wrapped data keys) and key custody ...
  data     The data store: where object bytes live, behind one interface.
  http     The HTTP side of the server: one serve loop, several fronts (one package per API).
  logs     Logging set-up for `coffer serve`: `--log-level` and `--log-format text|json`.
  meta     Metadata stores: the interfaces (MetaStore, bulk jobs, cluster map), records, SQLite and PostgreSQL.
  metrics  Prometheus metrics for `coffer serve` (prometheus_client in multiprocess mode).
  node     The storage node: `coffer node serve`, a process that lends its volumes to the cluster's gateways.
  runner   Running the server: the composition root, worker processes, signals and start-up housekeeping.
  service  The service layer: buckets, objects, multipart uploads — S3 semantics with no HTTP in them.
  startup  Start-up safety: the data-folder lock, the checks before binding, and the root user's keys.
  tls      HTTPS for `coffer serve`: the server's SSL context, checked at start, reloaded on SIGHUP.
  workers  Background loops that are not request handlers: webhook delivery.
"""

