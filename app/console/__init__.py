"""The web console (issue 14): server-rendered pages over the whole sandbox at ``/`` and ``/console/...``.

A platform package, not a domain: it reads and changes the domains only through their ``service`` modules
(import-linter contract ``console`` in pyproject.toml), with the same functions the control API calls, so a
form does what the matching control-API call does and is journaled like it (by the middleware).

  access.py     sign-in with ``SEGUR_CONTROL_TOKEN`` (an HMAC session cookie) and CSRF tokens on forms
  pages.py      templates, page headers (CSP), the error page, domain refusals shown as pages
  overview.py   ``/``: listeners, store, base URLs, test professionals and patients; the sign-in form
  psc.py, ins.py, dmp.py, mss.py   one page (or a few) per service
  faults.py     the fault-injection rules (list, create, delete)
  journal.py    the journal (filters, live rows), the reset button, the reports' list
  links.py, cda.py   pure helpers: the page of what a journal entry touched; a CDA's level-1 body
  templates/, static/   Jinja2 templates (French first) and the one script (copy buttons, live journal)

Pages work without JavaScript; the script only adds copy buttons and the journal's live updates (polling).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.console import dmp, faults, ins, journal, mss, overview, psc
from app.console.access import CsrfRefused, NulRefused, SignInRequired
from app.console.pages import csrf_refused, nul_refused, render_generic, sign_in_required

PREFIX = "/console"


def install(app: FastAPI) -> None:
    """Mount the console on ``app``: its routes (none in the OpenAPI document), its static script, its error
    pages under ``/console``."""
    for module in (overview, psc, ins, dmp, mss, faults, journal):
        app.include_router(module.router)
    app.include_router(overview.open_router)
    app.include_router(mss.live_router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=Path(__file__).resolve().parent / "static"),
              name="console_static")
    app.add_exception_handler(SignInRequired, sign_in_required)  # type: ignore[arg-type]
    app.add_exception_handler(CsrfRefused, csrf_refused)  # type: ignore[arg-type]
    app.add_exception_handler(NulRefused, nul_refused)  # type: ignore[arg-type]
    app.add_exception_handler(dmp.UnknownDocument, dmp.unknown_document)  # type: ignore[arg-type]
    app.state.error_renderers = {**app.state.error_renderers, PREFIX: render_generic}
