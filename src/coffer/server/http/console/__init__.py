"""The web console: a browser UI served by ``coffer serve`` at ``/_coffer/console/``.

  front.py    claims the path, serves the static page, answers errors as JSON, security headers
  session.py  login (access key + secret), the session cookie (a bearer token), CSRF
  api.py      the JSON API: buckets, objects, uploads, versions, protection, settings, admin, health
  static/     the page: plain ES modules and CSS, no build step, nothing loaded from elsewhere
"""

from coffer.server.http.console.front import PREFIX, ConsoleFront, claims, redirect, wants_redirect

__all__ = ["PREFIX", "ConsoleFront", "claims", "redirect", "wants_redirect"]
