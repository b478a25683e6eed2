"""The transfer manager: parallel, resumable, pausable transfers with futures and subscribers.

Modules: ``_manager`` (the public TransferManager), ``_future`` (futures, subscribers and the
scheduler: pools, request slots), ``_upload`` (upload and server-side copy jobs), ``_download`` (the
ranged download job) and ``_directory`` (tree transfers and the include/exclude rules).
"""

from coffer.sdk._transfer._directory import DirectoryFuture, DirectoryResult
from coffer.sdk._transfer._future import Subscriber, TransferFuture
from coffer.sdk._transfer._manager import TransferManager

__all__ = ["DirectoryFuture", "DirectoryResult", "Subscriber", "TransferFuture", "TransferManager"]
