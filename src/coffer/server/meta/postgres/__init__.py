"""The metadata store on PostgreSQL (scale-out)."""
