"""What every HTTP front shares: the serve loop, the front interface, request ids, the request
context, authentication, the access gate, the write hook, request bodies, responses, CORS and the
SSE headers. No module here imports a front (import-linter checks it).

Modules:
  access_log     The access-log line and the per-request metrics, written once per request by the serve loop.
  auth           Authentication: which user signed this request, and how its body must be verified.
  body           Request bodies: from the socket to the service as verified, decoded byte pieces.
  connections    Connection hygiene: idle, request-head and body timeouts, the per-worker connection limit.
  context        The one base request context (query, header, int_arg, bool_arg), S3/OpenIO's Ctx, HANDLERS.
  cors           CORS in the request path: OPTIONS preflight answers and the Access-Control-* headers of actual ...
  endpoint       Typed endpoints: what every front's router turns a request into (Garage's habit).
  front          What a front is to the serve loop: `Front` (claims, prepare, handle, render_error), `Exchange`.
  gate           The access gate after authentication (S3 and OpenIO): permission, quotas; website_readable.
  hooks          The one write hook of every front: frozen-bucket refusal, then bucket notification events.
  ids            Request identity: the request id and host id every response carries (x-amz-request-id, x-amz-id-2).
  pipeline       The one serve loop of every HTTP front: request id, in-flight count, 100-continue, error ladder.
  respond        Building responses: XML documents, S3 error bodies, object headers, and zero-copy object bodies.
  secure         SSE-C keys and bearer tokens travel only over TLS (or loopback, or --allow-insecure-secrets).
  signed         `SignedFront`: the request path of the S3-signed fronts (S3, OpenIO): CORS, signature, gate.
  sse            Encryption at rest on the HTTP side: SSE request headers in, x-amz-server-side-encryption* out, and ...
  stats          Request counters: requests, errors, bytes in and out (for the console's live charts).
  tar_members    Tar stream answers (batch GET, AIStore GetBatch): opened, objects as members, cut on failure.
  write_headers  What an object write's request headers ask for: stored headers, metadata, tags, object lock.
"""
