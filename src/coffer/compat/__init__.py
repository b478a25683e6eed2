"""Compatibility layers: other object stores' Python APIs served by Coffer through its SDK.

`coffer.compat.oio` is OpenIO SDS's ObjectStorageApi; `coffer.compat.aspera` is IBM's Aspera
transfer API (AsperaTransferManager) over the transfer manager. Like the SDK, nothing here imports the server.
"""
