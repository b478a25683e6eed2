"""Server configuration: every tunable and every limit in one typed place.

Owns the defaults (TigerBeetle's habit: limits on everything, written in config, not scattered as
constants). The CLI builds a Config from flags and environment; the composition root hands the
pieces each layer needs down to it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip().isdigit() else default


def _env_float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value >= 0 else default


@dataclass(frozen=True, slots=True)
class Limits:
    inline_threshold: int = 128 * KiB  # objects up to this size live in the metadata row
    max_object_size: int = 5 * 1024 * GiB  # S3's single-PUT limit is 5 GiB; we allow what multipart allows
    max_put_size: int = 5 * GiB  # single PutObject / UploadPart body
    min_part_size: int = 5 * MiB  # every part but the last
    max_parts: int = 10_000
    max_key_bytes: int = 1024
    max_user_meta_bytes: int = 2 * KiB  # S3: user metadata (names + values) at most 2 KiB
    max_xml_body: int = 2 * MiB  # DeleteObjects / CompleteMultipartUpload request documents
    max_delete_keys: int = 1000
    max_list_keys: int = 1000
    max_header_bytes: int = 16 * KiB  # one header line (aiohttp's limit is 8190 by default)
    max_headers: int = 100
    clock_skew_seconds: int = 15 * 60
    max_presign_expires: int = 7 * 24 * 3600
    io_chunk: int = 1 * MiB  # unit of hand-off from the event loop to the hashing/writing thread
    shutdown_grace_seconds: float = 20.0  # SIGTERM: how long in-flight requests may finish
    # Full disks (meta/space.py): new data is refused (507) while the data folder's filesystem has less
    # than min_free_bytes free; meta_reserve_bytes are held in DATA/meta/reserve for deletes to commit.
    min_free_bytes: int = 64 * MiB
    # Connections (http/common/connections.py): seconds a connection may sit idle or take to send a
    # request head; seconds without a body byte while a request waits for its body; per worker.
    idle_timeout: float = 60.0
    body_timeout: float = 60.0
    max_connections: int = 4096
    meta_reserve_bytes: int = 8 * MiB
    # Bucket notifications: a failed webhook delivery is retried after min, doubling up to max seconds.
    webhook_retry_min: float = 0.5
    webhook_retry_max: float = 60.0
    webhook_timeout: float = 10.0  # one delivery attempt
    webhook_poll: float = 1.0  # how often an idle worker looks for due events queued elsewhere
    # Networks (CIDR) webhooks may be delivered to; empty: loopback and private ranges
    # (service/events/webhook_security.py, `coffer serve --webhook-allow`).
    webhook_allow: tuple[str, ...] = ()
    # Bulk jobs (DS3): blob and chunk sizes, the cache budget of received-but-unfinished PUT chunks
    # (a chunk is handed out only while it fits), and how long an untouched job lives.
    bulk_blob_size: int = 64 * MiB
    bulk_chunk_bytes: int = 256 * MiB
    bulk_chunk_blobs: int = 1000
    bulk_max_objects: int = 500_000
    bulk_cache_bytes: int = field(default_factory=lambda: _env_int("COFFER_BULK_CACHE_BYTES", 8 * GiB))
    bulk_job_idle_seconds: float = field(default_factory=lambda: _env_int("COFFER_BULK_JOB_IDLE_SECONDS", 24 * 3600))
    bulk_retry_after_seconds: int = 5
    # Snowball PUTs whose whole body is hashed hold their small members' rows until the hash is checked
    # (service/objects/snowball.py): at most this many bytes of them, EntityTooLarge beyond.
    snowball_held_bytes: int = field(default_factory=lambda: _env_int("COFFER_SNOWBALL_HELD_BYTES", 256 * MiB))
    # Seconds a worker trusts its cached access keys, users and token checks (service/access/):
    # the bound on how long a removed key or revoked token keeps working where no invalidation
    # reaches (SQLite: the other workers; PostgreSQL: while the LISTEN connection is down).
    credential_cache_ttl: float = field(default_factory=lambda: _env_float("COFFER_CREDENTIAL_CACHE_TTL", 2.0))
    # Garbage collection (server/workers/garbage.py, docs/cluster.md): a pending ref not refreshed for
    # pending_ref_age seconds belongs to a dead writer (live writers refresh every quarter of it) and
    # its data is collected; the collector looks at the GC queue every gc_poll seconds and, on a
    # cluster gateway, walks every ref (the sweep) every gc_interval seconds (0: never).
    pending_ref_age: float = 3600.0
    gc_poll: float = 5.0
    gc_interval: float = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class Config:
    data_dir: Path = Path("./coffer-data")
    host: str = "127.0.0.1"
    port: int = 9000
    region: str = "us-east-1"
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    access_key: str | None = None
    secret_key: str | None = None
    # Host-header suffixes for virtual-host-style addressing: "bkt.localhost:9000" -> bucket "bkt".
    domains: tuple[str, ...] = ("localhost",)
    # Static websites (http/website.py): Host suffixes of website requests on the S3 listener
    # ("blog.s3-website.localhost" -> bucket "blog"), and an optional listener serving only websites.
    website_domains: tuple[str, ...] = ("s3-website.localhost",)
    website_host: str | None = None
    website_port: int | None = None
    # The web console on a listener of its own (--console-address); it is on the S3 listener anyway.
    console_host: str | None = None
    console_port: int | None = None
    fsync: bool = True  # only tests of the durability machinery itself would ever turn this off
    loop: str = "asyncio"  # asyncio | uvloop (see bench/: asyncio keeps sendfile, uvloop does not)
    lifecycle_day_seconds: float = 86400.0  # length of a lifecycle "day" (tests shrink it)
    limits: Limits = field(default_factory=Limits)
    # Multi-volume data: none -> the data folder holds the data as before (data/local.py).
    volumes: tuple[Path, ...] = ()
    scrub_rate: float = 64 * MiB  # bytes/s the scrubber may read
    scrub_interval: float = 7 * 24 * 3600.0  # seconds between the starts of two scrub passes
    heal_interval: float = 2.0  # seconds between two looks at the repair queue
    # HTTPS (server/tls.py): certificate chain and key (PEM); None: plain HTTP.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # SSE-C keys and bearer tokens over plain HTTP from a non-loopback client: refused unless True.
    allow_insecure_secrets: bool = False
    log_level: str = "info"  # debug | info | warning | error
    log_format: str = "text"  # text | json
    access_log: bool = True  # one INFO line per request (http/common/access_log.py)
    metrics_token: str | None = None  # GET /metrics wants `Authorization: Bearer <token>`; None: public
    # Shared metadata (docs/cluster.md): a postgresql:// URL selects PostgreSQL; None keeps SQLite in DATA/meta.
    meta_url: str | None = None
    # Storage nodes (docs/cluster.md): with a cluster secret and no --volume, data goes to the nodes
    # of the cluster map (None: the shared metadata's database when it is PostgreSQL, else
    # DATA/meta/cluster.sqlite3, the single-host map).
    cluster_secret: str | None = None
    cluster_map: str | None = None
    cluster_ca: str | None = None  # CA bundle: reach the nodes over TLS (docs/cluster.md)
    suspect_after: float = 10.0  # seconds without a heartbeat before a node is suspect

    @property
    def cluster_map_url(self) -> str:
        return self.cluster_map or self.meta_url or str(self.data_dir / "meta" / "cluster.sqlite3")

    @property
    def clustered(self) -> bool:
        return bool(self.cluster_secret) and not self.volumes

    @property
    def meta_path(self) -> Path:
        return self.data_dir / "meta" / "coffer.sqlite3"


def parse_address(address: str) -> tuple[str, int]:
    """'HOST:PORT', ':PORT' or 'PORT' -> (host, port); IPv6 as '[::1]:9000'."""
    host, _, port = address.rpartition(":")
    if not _:
        return "127.0.0.1", int(address)
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)
