"""Compatibility layers: other object stores' Python APIs served by Coffer through its SDK.

`coffer.compat.oio` is OpenIO SDS's ObjectStorageApi; `coffer.compat.aspera` is IBM's Aspera
transfer API (AsperaTransferManager) over the transfer manager. Like the SDK, nothing here imports the server.

Modules and packages:
  aspera  IBM's Aspera transfer API (``ibm_s3transfer.aspera.manager``), served by Coffer's transfer manager.
  oio     OpenIO SDS's `ObjectStorageApi`, served by Coffer: port OpenIO code by changing one import.
"""
