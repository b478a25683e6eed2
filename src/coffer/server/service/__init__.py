"""The service layer: S3's and the seed systems' semantics, by domain, with no HTTP in them.

`Service` is the facade the HTTP fronts talk to: it builds every domain service once, in dependency
order, each getting what it needs through its constructor (the shared `Core`: metadata store, data
store, limits, worker pool; and the other services it calls).

Modules and packages:
  access   Who may do what: users and keys, bearer tokens, quotas, the authorization decision, bucket policies, ...
  bulk     DS3 (Spectra) bulk jobs: planning many objects into chunks of blobs, chunk readiness, completion.
  compat   The seed systems' semantics S3 lacks: OpenIO (accounts, containers, snapshots, links, truncate, ...) ...
  core     What every service shares: the principal, access checks, and the streaming receive path.
  crypto   Encryption at rest in the request path (SSE-S3, SSE-KMS, SSE-C): which key seals an object, sealing ...
  events   Bucket notifications: configuration, event matching, the durable queue's intents, webhook safety.
  objects  Buckets and objects: S3's object semantics (put/get/copy/delete, multipart, appends, versions, tags, ...
  storage  Storage policies as the service sees them, an object's fragment locations, and the data administration ...
  worm     WORM: S3 Object Lock and IBM COS immutable storage, and the rule every destroying path goes through.
"""

from __future__ import annotations

from coffer.server.config import Limits
from coffer.server.data import DataStore
from coffer.server.meta.interface import MetaStore
from coffer.server.service.access.accounts import Admin
from coffer.server.service.access.decision import ANONYMOUS, Access
from coffer.server.service.access.settings import AccessConfig
from coffer.server.service.access.tokens import Tokens
from coffer.server.service.access.users import Users
from coffer.server.service.bulk.jobs import Jobs
from coffer.server.service.compat.ais import AisOps
from coffer.server.service.compat.ds3_data_policies import Ds3DataPolicies
from coffer.server.service.compat.oio import Oio
from coffer.server.service.core import Core, Integrity, Principal
from coffer.server.service.crypto.kms import KmsKeys
from coffer.server.service.events.listen import ListenHub
from coffer.server.service.events.notifications import Notifier
from coffer.server.service.objects.appends import Appends
from coffer.server.service.objects.archive import Archives
from coffer.server.service.objects.batch_reads import BatchReads
from coffer.server.service.objects.bucket_config import BucketConfig
from coffer.server.service.objects.buckets import Buckets
from coffer.server.service.objects.conditions import NotModified, ReadConditions
from coffer.server.service.objects.lifecycle import Lifecycle
from coffer.server.service.objects.multiobj import MultiObjects
from coffer.server.service.objects.multipart import CompletedPart, Multipart
from coffer.server.service.objects.operations import Objects, PutParams
from coffer.server.service.objects.tagging import Tagging
from coffer.server.service.objects.versioning import Versioning
from coffer.server.service.storage.admin import DataAdmin
from coffer.server.service.worm.ibm import Ibm
from coffer.server.service.worm.retention import Retention


class Service:
    def __init__(self, meta: MetaStore, data: DataStore, limits: Limits, region: str) -> None:
        # Every service is built once, here, and gets what it uses through its constructor (no
        # attribute is set afterwards and no service builds another per call); the order is the
        # dependency order.
        self.core = Core(meta, data, limits, region)
        self.listen = ListenHub(meta, region)  # the listen API's live event streams
        self.notifier = Notifier(self.core, self.listen)  # bucket notifications: events of the writes below
        self.versioning = Versioning(self.core)
        self.buckets = Buckets(self.core)
        self.objects = Objects(self.core, self.versioning)
        self.multipart = Multipart(self.core, self.objects)
        self.users = Users(self.core)
        self.appends = Appends(self.core, self.multipart)
        self.access = Access(self.core)  # authorization, ACLs, policies, quotas
        self.access_config = AccessConfig(self.core, self.access)
        self.batch = BatchReads(self.core, self.objects, self.access)  # the batch GET (many objects, one answer)
        self.admin = Admin(self.core, self.users)
        self.data_admin = DataAdmin(self.core)  # volumes, fragments, repairs (`coffer admin`)
        self.jobs = Jobs(self.core, self.objects, self.multipart, self.notifier)
        # AIStore API: bearer tokens, archive members, multi-object operations
        self.tokens = Tokens(meta, data.root, limits.credential_cache_ttl)
        self.tokens.watch()
        self.archives = Archives(self.core)
        self.multi = MultiObjects(self.core, self.objects, self.versioning, self.notifier)
        self.ais = AisOps(self.core, self.objects, self.buckets)
        self.ds3_policies = Ds3DataPolicies(self.core)  # DS3 data policies users make
        # WORM (S3 Object Lock and IBM COS protection), tagging, lifecycle
        self.retention = Retention(self.core)
        self.ibm = Ibm(self.core)
        self.tagging = Tagging(self.core)
        self.lifecycle = Lifecycle(self.core, self.versioning, self.notifier)
        # bucket encryption, CORS, website configuration
        self.bucket_config = BucketConfig(self.core)
        self.kms = KmsKeys(self.core)  # KMS key administration (the console's KMS page)
        # OpenIO API
        self.oio = Oio(self.core, self.objects, self.notifier, self.versioning)

    @property
    def limits(self) -> Limits:
        return self.core.limits

    def close(self) -> None:
        self.core.close()


__all__ = [
    "ANONYMOUS", "CompletedPart", "Integrity", "NotModified", "Principal", "PutParams", "ReadConditions", "Service",
]
