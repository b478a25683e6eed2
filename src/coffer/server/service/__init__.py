"""The service layer: buckets, objects, multipart uploads — S3 semantics with no HTTP in them.

`Service` is the facade the HTTP front talks to; each part takes the shared `Core` (metadata
store, data store, limits, worker pool) from the composition root.
"""

from __future__ import annotations

from ..config import Limits
from ..data import LocalDataStore
from ..meta.interface import MetaStore
from .access import ANONYMOUS, Access
from .access_config import AccessConfig
from .admin import Admin
from .ais import AisOps
from .appends import Appends
from .archive import Archives
from .bucket_config import BucketConfig
from .buckets import Buckets
from .conditions import NotModified, ReadConditions
from .core import Core, Integrity, Principal
from .ibm import Ibm
from .jobs import Jobs
from .lifecycle import Lifecycle
from .multiobj import MultiObjects
from .multipart import CompletedPart, Multipart
from .notifications import Notifier
from .objects import Objects, PutParams
from .oio import Oio
from .retention import Retention
from .tagging import Tagging
from .tokens import Tokens
from .users import Users
from .versioning import Versioning


class Service:
    def __init__(self, meta: MetaStore, data: LocalDataStore, limits: Limits, region: str) -> None:
        self.core = Core(meta, data, limits, region)
        self.buckets = Buckets(self.core)
        self.objects = Objects(self.core)
        self.multipart = Multipart(self.core, self.objects)
        self.users = Users(self.core)
        self.appends = Appends(self.core, self.multipart)
        self.access = Access(self.core)  # issue 7: authorization, ACLs, policies, quotas
        self.access_config = AccessConfig(self.core, self.access)
        self.admin = Admin(self.core, self.users)
        self.jobs = Jobs(self.core, self.objects, self.multipart)
        # issue 6 (AIStore API): bearer tokens, archive members, multi-object operations
        self.tokens = Tokens(meta, data.root)
        self.archives = Archives(self.core)
        self.multi = MultiObjects(self.core, self.objects)
        self.ais = AisOps(self.core, self.objects, self.buckets)
        # issue 4: versioning, WORM (S3 Object Lock and IBM COS protection), tagging, lifecycle
        self.versioning = Versioning(self.core)
        self.retention = Retention(self.core)
        self.ibm = Ibm(self.core)
        self.tagging = Tagging(self.core)
        self.lifecycle = Lifecycle(self.core, self.versioning)
        # issue 7: bucket encryption, CORS, website configuration
        self.bucket_config = BucketConfig(self.core)
        # issue 6 (OpenIO API, bucket notifications)
        self.notifier = Notifier(self.core)
        self.oio = Oio(self.core, self.objects, self.notifier, self.versioning)

    @property
    def limits(self) -> Limits:
        return self.core.limits

    def close(self) -> None:
        self.core.close()


__all__ = [
    "ANONYMOUS", "CompletedPart", "Integrity", "NotModified", "Principal", "PutParams", "ReadConditions", "Service",
]
