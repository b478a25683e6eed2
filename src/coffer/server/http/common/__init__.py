"""What every HTTP front shares: the serve loop, request ids, the request context, authentication,
request bodies, responses, CORS and the SSE headers.

Modules:
  auth      Authentication: which user signed this request, and how its body must be verified.
  body      Request bodies: from the socket to the service as verified, decoded byte pieces.
  context   The per-request context handed to every endpoint handler, and the handler registry.
  cors      CORS in the request path: OPTIONS preflight answers and the Access-Control-* headers of actual ...
  endpoint  Typed endpoints: what every front's router turns a request into (Garage's habit).
  ids       Request identity: the request id and host id every response carries (x-amz-request-id, x-amz-id-2).
  respond   Building responses: XML documents, S3 error bodies, object headers, and zero-copy object bodies.
  sse       Encryption at rest on the HTTP side: SSE request headers in, x-amz-server-side-encryption* out, and ...
"""
