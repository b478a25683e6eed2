"""Coffer's client command line (``coffer ls/cp/sync/...``): the CLI for people, on top of the SDK.

``coffer.cli.main.cli`` is the click group; the server commands (``serve``, ``user``) are added to it
by ``coffer.entry`` so this package never imports the server. Every command is registered by name and
its module imported only when it runs (``_lazy``).

Modules and packages:
  _aliases       Aliases: short names for (endpoint, keys) so paths read ``NAME/bucket/key``.
  _cmd_alias     ``coffer alias set|ls|rm|import``: names for an endpoint and its keys.
  _cmd_admin     ``coffer admin``: data administration of a running Coffer server, over its admin HTTP API.
  _cmd_backup    `coffer admin backup` and `coffer admin restore`: the metadata database, copied consistently.
  _cmd_basic     The CLI's single-shot commands: ls, mb, rb, rm, cat, stat, presign, append.
  _cmd_browse    Read-only views of a bucket: du, find, tree, diff, head.
  _cmd_bulk      ``coffer bulk``: Spectra-style bulk jobs from the command line (put, get, status, cancel, list).
  _cmd_quota     ``coffer quota info|set|clear``: mc's quota verb over Coffer's per-user quotas (admin API).
  _cmd_settings  Bucket settings from the command line, named as mc names them: ``policy`` (with ``anonymous`` ...
  _cmd_sync      ``coffer sync SRC DST [--delete]`` and ``coffer mirror SRC DST [--remove] [--watch]``: make DST ...
  _cmd_transfer  The CLI's data movers: cp, mv and sync, between local paths and ALIAS/bucket/key targets.
  _cmd_user      ``coffer user create|ls|delete|key|quota|buckets|chown``: users, keys, quotas and bucket ...
  _cmd_versions  Versioning from the command line: ``version enable|suspend|info``, ``undo``, ``ls --versions``, ...
  _cmd_watch     ``coffer watch`` (mc watch) and ``mirror --watch`` of a bucket: following its listen stream.
  _cmd_worm      Tags and WORM from the command line: ``tag``, ``retention``, ``legalhold``.
  _complete      Shell completion of ALIAS/bucket/key arguments (click's completion machinery).
  _filters       Which names a command acts on: glob include/exclude, ages and sizes (cp, sync, mirror, find, rm).
  _lazy          Commands imported when they are run: the group knows every command by name, loads one on use.
  _output        How the CLI talks back: plain lines or ``--json`` lines on stdout, errors on stderr, exit codes, ...
  _stop         How ``mirror --watch`` and ``watch`` stop on SIGTERM / Ctrl-C: a signal thread sets a flag and ...
  _small_files   Many small files on one event loop: how cp -r, sync and mirror move objects below the ...
  main           The ``coffer`` client CLI: the click group ``cli``, the alias commands, and the other commands ...
"""
