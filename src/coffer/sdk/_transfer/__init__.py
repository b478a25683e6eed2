"""The transfer manager: parallel, resumable, pausable transfers with futures and subscribers.

Modules: ``_manager`` (the public TransferManager), ``_future`` (futures and subscribers),
``_executor`` (pools, request slots, the part runner), ``_upload`` / ``_download`` / ``_copy``
(one coordinator each) and ``_directory`` (tree transfers).
"""

from coffer.sdk._transfer._directory import DirectoryFuture, DirectoryResult
from coffer.sdk._transfer._future import Subscriber, TransferFuture
from coffer.sdk._transfer._manager import TransferManager

__all__ = ["DirectoryFuture", "DirectoryResult", "Subscriber", "TransferFuture", "TransferManager"]
