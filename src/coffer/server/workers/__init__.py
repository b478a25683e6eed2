"""Background loops that are not request handlers: webhook delivery.

Modules:
  webhooks  Webhook delivery: sends queued notification events, retrying until the receiver takes them.
"""
