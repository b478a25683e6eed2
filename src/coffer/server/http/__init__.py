"""The HTTP front: S3 protocol over aiohttp (routing, authentication, handlers, responses)."""
