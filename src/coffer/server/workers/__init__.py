"""Background loops that are not request handlers: webhook delivery, garbage collection.

Modules:
  garbage   Garbage collection of object data: the GC queue, dead writers' pending refs, the cluster sweep.
  webhooks  Webhook delivery: sends queued notification events, retrying until the receiver takes them.
"""
