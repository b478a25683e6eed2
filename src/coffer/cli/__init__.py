"""Coffer's client command line (``coffer ls/cp/sync/...``): the CLI for people, on top of the SDK.

``coffer.cli.main.cli`` is the click group; the server commands (``serve``, ``user``) are added to it
by ``coffer.entry`` so this package never imports the server.
"""
