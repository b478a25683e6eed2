"""Compatibility layers: other object stores' Python APIs served by Coffer through its SDK.

`coffer.compat.oio` is OpenIO SDS's ObjectStorageApi. Like the SDK, nothing here imports the server.
"""
