"""IBM's Aspera transfer API (``ibm_s3transfer.aspera.manager``), served by Coffer's transfer manager.

    from coffer.compat.aspera import AsperaTransferManager, AsperaConfig, AsperaBaseSubscriber
    with AsperaTransferManager(client) as transfer_manager:      # an ibm_boto3/boto3 client or a Client
        transfer_manager.upload("/data/big.iso", "bucket", "big.iso").result()

IBM's library drives ``ascp`` (FASP over UDP) through a closed-source module; here the same calls,
argument orders, subscribers and futures move data over S3 through :class:`coffer.TransferManager`.
The mapping (docs/aspera.md): ``multi_session`` is the number of parallel streams (requests in
flight), ``multi_session_threshold_mb`` the size from which one file is split into parts moved in
parallel, ``target_rate_mbps`` (and ``target_rate_cap_mbps``) a bandwidth cap enforced by the
transfer manager's token bucket. Settings that have no meaning without ascp, or that Coffer cannot
honour (``min_rate_mbps``, ``destination_root``, ``rate_policy`` other than ``fair``, ...), raise
:class:`UnsupportedAsperaSetting`; none is accepted and ignored.

Subscribers are called as IBM calls them, with keyword arguments: ``on_queued(future=...)`` once,
``on_progress(future=..., bytes_transferred=TOTAL)`` repeatedly with the bytes moved so far (never
decreasing), ``on_done(future=...)`` once; a directory transfer is one transfer to its subscribers.
Never imports the server.

Modules:
  config    AsperaConfig, AsperaManagerConfig and the errors; the mapping onto TransferConfig
  futures   AsperaBaseSubscriber, AsperaTransferFuture and the relay of Coffer's progress events
  manager   AsperaTransferManager: the client, the four calls, shutdown
"""

from coffer.compat.aspera.config import (
    AsperaConfig,
    AsperaManagerConfig,
    AsperaTransferFailedError,
    AsperaTransferQueueError,
    CancelledError,
    UnsupportedAsperaSetting,
)
from coffer.compat.aspera.futures import AsperaBaseSubscriber, AsperaTransferFuture
from coffer.compat.aspera.manager import AsperaTransferManager

__all__ = [
    "AsperaBaseSubscriber", "AsperaConfig", "AsperaManagerConfig", "AsperaTransferFailedError",
    "AsperaTransferFuture", "AsperaTransferManager", "AsperaTransferQueueError", "CancelledError",
    "UnsupportedAsperaSetting",
]
