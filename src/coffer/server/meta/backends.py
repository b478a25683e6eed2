"""Choosing a metadata backend by its URL: ``postgresql://...`` -> PostgreSQL, else SQLite.

Kept apart from the interfaces (meta/interface.py, meta/cluster.py) so that an interface never imports
the backends that implement it.
"""

from __future__ import annotations

from pathlib import Path

from coffer.server.meta.cluster import ClusterMap


def open_cluster_map(url: str) -> ClusterMap:
    """``postgresql://...`` -> PostgreSQL; ``sqlite:///PATH`` or a plain path -> SQLite."""
    if url.startswith(("postgresql://", "postgres://")):
        from coffer.server.meta.postgres.cluster import PostgresClusterMap

        return PostgresClusterMap(url)
    from coffer.server.meta.sqlite.cluster import SqliteClusterMap

    path = url[len("sqlite://"):] if url.startswith("sqlite://") else url
    return SqliteClusterMap(Path(path))
