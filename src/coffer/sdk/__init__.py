"""Coffer's Python SDK internals. The public surface is the top-level ``coffer`` package.

Modules here are private (underscore names) so they can change shape without breaking users; import
``Client``, ``TransferConfig``, ``CofferError`` and friends from ``coffer`` instead.
"""
