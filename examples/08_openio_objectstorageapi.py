"""OpenIO code on Coffer: the only change is the import (and where the server is).

    from oio import ObjectStorageApi            ->  from coffer.compat.oio import ObjectStorageApi

With no endpoint the API takes the client from the environment, like `coffer.Client.from_env()`.
Accounts are the credentials' user; containers are buckets (see docs/openio.md).
"""

from __future__ import annotations

import sys
import uuid

from coffer.compat.oio import ObjectStorageApi

api = ObjectStorageApi(namespace="OPENIO")
if not api.client.is_coffer():
    print("this example needs a Coffer server (it uses Coffer's OpenIO extensions)")
    sys.exit(0)
account, container = "my_account", f"example-oio-{uuid.uuid4().hex[:8]}"
api.container_create(account, container, properties={"team": "docs"})
try:
    api.object_create(account, container, obj_name="essai.txt", data="My data")
    meta, stream = api.object_fetch(account, container, "essai.txt")
    print("fetched:", b"".join(stream), meta["length"], "bytes")

    api.object_create_ext(account, container, obj_name="essai.txt", data=" and more", append=True)
    _meta, stream = api.object_fetch(account, container, "essai.txt", ranges=[(0, 1), (8, 10)])
    print("ranges after append:", b"".join(stream))

    api.object_set_properties(account, container, "essai.txt", {"lang": "fr"})
    print("properties:", api.object_get_properties(account, container, "essai.txt")["properties"])
    print("chunks:", [(c["pos"], c["size"]) for c in api.object_locate(account, container, "essai.txt")[1]])

    api.object_link(account, container, "essai.txt", account, container, "lien.txt")  # shares the data
    api.object_delete(account, container, "essai.txt")
    print("link still reads:", b"".join(api.object_fetch(account, container, "lien.txt")[1]))

    api.object_truncate(account, container, "lien.txt", size=2)
    print("truncated:", b"".join(api.object_fetch(account, container, "lien.txt")[1]))
    print("listing:", [o["name"] for o in api.object_list(account, container)["objects"]])
    print("container:", api.container_get_properties(account, container)["system"]["sys.m2.objects"], "objects")
finally:
    api.container_flush(account, container)
    api.container_delete(account, container)
