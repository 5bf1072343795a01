"""The private pages: what the private API answers, as server-rendered HTML for people.

    GET  /private                        sign-in form, or what the signed-in token may read
    POST /private                        sign in: the token is pasted once, a session cookie comes back
    POST /private/sign-out
    GET  /private/projects/{project}     institutions and academic counts (the project's maintainer, admins)
    GET  /private/anomalies              one-address anomalies (admins)
    GET  /private/audit                  the audit log (admins)

The same rules as the JSON API (private_api.py), through the same code: the
roles and the failure slowdown of _auth.py, the audit row of audit.py written
before any read, with the purpose chosen on the page (no data is read until one
is chosen), and `Cache-Control: no-store` on every answer.  The session cookie
never holds the token (see _sessions.py); every form carries a CSRF token.  A
maintainer's page holds counts per institution only: never an IP address or a
client UUID.  The pages reuse the public layout and CSS; no inline script.
"""

from __future__ import annotations

import asyncio
import functools
import re
from pathlib import Path
from urllib.parse import parse_qs

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..aggregate import tables as aggregate_tables
from ..protocol import ProtocolError, normalize_project
from ..protocol.errors import BadRequest, ServerError, Unauthorized
from ..public import notices
from ..store.schema import projects as registered_projects
from . import _sessions, audit, tokens
from ._auth import NO_STORE, check_token, failed, require_admin, require_project, throttle
from .private_api import audited_read, read_anomalies, read_institutions

HERE = Path(__file__).parent
MAX_FORM_BYTES = 4096
HEADERS = {**NO_STORE, "X-Robots-Tag": "noindex, nofollow"}
PURPOSES = (*audit.CATEGORIES, audit.OTHER)
INTERVALS = {"month": "Monthly", "week": "Weekly", "day": "Daily"}
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_NEXT = re.compile(r"/private(/[A-Za-z0-9._/-]*)?")


class SignInRequired(Unauthorized):
    pass


def routes() -> list[Route]:
    return [
        Route("/private", home, methods=["GET"]),
        Route("/private", sign_in, methods=["POST"]),
        Route("/private/sign-out", sign_out, methods=["POST"]),
        Route("/private/projects/{project}", project_page, methods=["GET"]),
        Route("/private/anomalies", anomalies_page, methods=["GET"]),
        Route("/private/audit", audit_page, methods=["GET"]),
        Route("/transparency", transparency_page, methods=["GET"]),  # public: counts only
    ]


@functools.lru_cache(maxsize=1)
def _templates():
    import jinja2

    from ..public.pages import HERE as PUBLIC

    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(HERE / "templates"),
                                    jinja2.FileSystemLoader(PUBLIC / "templates")]),
        autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["number"] = lambda n: "–" if n is None else f"{n:,}"
    return env


def _render(request: Request, template: str, status: int = 200, headers: dict | None = None,
            **context) -> HTMLResponse:
    session = context.get("session")
    if session is not None:
        context["signout_token"] = _sessions.form_token(request, session.nonce)
    html = _templates().get_template(template).render(request=request, parameters=None, **context)
    return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})


def page(handler):
    """Errors as pages: 401 shows the sign-in form, others an error page; all no-store."""
    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except Unauthorized as error:
            return _signin_form(request, status=401, message=error.message)
        except ServerError as error:
            retry = (error.headers or {}).get("Retry-After")
            return _render(request, "private_error.html", status=error.status,
                           headers={"Retry-After": retry} if retry else None,
                           code=error.status, message=error.message)
    return wrapped


def _signin_form(request: Request, *, status: int = 200, message: str | None = None) -> Response:
    nonce, new = _sessions.signin_nonce(request)
    path = request.url.path
    next_path = path if request.method == "GET" and path != "/private" and _NEXT.fullmatch(path) else ""
    if request.method == "POST":
        next_path = _safe_next(request.state.form.get("next", "")) if hasattr(request.state, "form") else ""
    response = _render(request, "private_signin.html", status=status, message=message,
                       csrf=_sessions.form_token(request, nonce), next=next_path)
    if new:
        _sessions.remember_signin(request, response, nonce)
    return response


def _safe_next(value: str) -> str:
    """Only a private page of this site: never another origin (no open redirect)."""
    return value if _NEXT.fullmatch(value or "") and "//" not in value and ".." not in value else ""


async def _form(request: Request) -> dict[str, str]:
    """The fields of a urlencoded form (anything else reads as an empty form)."""
    form: dict[str, str] = {}
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise BadRequest("the form is too large", headers=NO_STORE)
        for name, values in parse_qs(body.decode("utf-8", "replace"), max_num_fields=10).items():
            form[name] = values[0]
    request.state.form = form
    return form


async def _read_session(request: Request) -> _sessions.Session | None:
    """The request's session, None without one; a forged or tampered cookie is a 401 that
    counts as a failed attempt, like a wrong token."""
    throttle(request)

    def read():
        with request.app.state.stores.private.connect() as connection:
            return _sessions.read(request, connection)

    session = await asyncio.to_thread(read)
    if session is False:
        failed(request)
        raise SignInRequired("Your session is not valid. Sign in again.")
    return session


async def _session(request: Request) -> _sessions.Session:
    session = await _read_session(request)
    if session is None:
        raise SignInRequired("Sign in to see this page.")
    return session


# -- sign in and out ----------------------------------------------------------------

@page
async def home(request: Request) -> Response:
    session = await _read_session(request)
    if session is None:
        return _signin_form(request)  # the landing page itself: 200
    names: list[str] = []
    if session.principal.role == "admin":
        names = await asyncio.to_thread(_project_names, request.app.state.stores)
    return _render(request, "private_home.html", session=session, projects=names)


@page
async def sign_in(request: Request) -> Response:
    throttle(request)
    form = await _form(request)
    nonce = request.cookies.get(_sessions.cookie_name(request, "signin"))
    if not _sessions.form_token_ok(request, nonce, form.get("csrf")):
        return _signin_form(request, status=403, message="The form had expired or came from elsewhere. "
                                                          "Please paste your token again.")
    token = form.get("token", "").strip()
    if not token:
        return _signin_form(request, status=401, message="Paste your token to sign in.")
    principal = await check_token(request, token)  # a wrong one counts against this address
    if principal is None:
        return _signin_form(request, status=401,
                            message="That token is not valid: wrong, expired or revoked.")
    target = _safe_next(form.get("next", ""))
    if not target:
        target = f"/private/projects/{principal.project}" if principal.project else "/private"
    response = RedirectResponse(target, status_code=303, headers=HEADERS)
    _sessions.start(request, response, principal, tokens.hash_token(token))
    return response


@page
async def sign_out(request: Request) -> Response:
    form = await _form(request)
    session = await _read_session(request)
    if session is None or not _sessions.form_token_ok(request, session.nonce, form.get("csrf")):
        return _render(request, "private_error.html", status=403, code=403,
                       message="Sign-out needs the form of a signed-in page.")
    response = RedirectResponse("/private", status_code=303, headers=HEADERS)
    _sessions.clear(request, response, "session")
    return response


# -- the private data ---------------------------------------------------------------

def _purpose(request: Request) -> str | None:
    """`CATEGORY[: note]` as the audit log reads it; None until the visitor has chosen one."""
    params = request.query_params
    if "purpose" not in params:
        return None
    category, note = params["purpose"].strip(), params.get("note", "").strip()
    return f"{category}: {note}" if note else category or audit.UNSPECIFIED


def _choice(request: Request) -> dict:
    params = request.query_params
    return {"purpose": params.get("purpose", ""), "note": params.get("note", "")[:audit.MAX_PURPOSE]}


@page
async def project_page(request: Request) -> Response:
    session = await _session(request)
    try:
        project = normalize_project(request.path_params["project"])
    except ProtocolError as error:
        raise BadRequest(error.message, field="project", headers=NO_STORE) from None
    require_project(session.principal, project)
    interval = request.query_params.get("interval", "month")
    if interval not in INTERVALS:
        raise BadRequest(f"interval must be one of {', '.join(INTERVALS)}", headers=NO_STORE)
    purpose, data = _purpose(request), None
    min_users = request.app.state.settings["private_min_users"]
    if purpose is not None:
        data = await audited_read(
            request, session.principal, "institutions", project, purpose,
            lambda connection: read_institutions(connection, project, interval, min_users))
    return _render(request, "private_project.html", session=session, project=project, data=data,
                   interval=interval, intervals=INTERVALS, purposes=PURPOSES, choice=_choice(request))


@page
async def anomalies_page(request: Request) -> Response:
    session = await _session(request)
    require_admin(session.principal)
    purpose, data = _purpose(request), None
    if purpose is not None:
        data = await audited_read(request, session.principal, "anomalies", None, purpose, read_anomalies)
    return _render(request, "private_anomalies.html", session=session, data=data, purposes=PURPOSES,
                   choice=_choice(request))


@page
async def audit_page(request: Request) -> Response:
    session = await _session(request)
    require_admin(session.principal)
    month = request.query_params.get("month") or None
    if month is not None and not _MONTH.fullmatch(month):
        raise BadRequest("month must read YYYY-MM", headers=NO_STORE)
    purpose, entries = _purpose(request), None
    if purpose is not None:
        entries = await audited_read(request, session.principal, "audit", None, purpose,
                                     lambda connection: {"entries": audit.listing(connection, month=month, limit=500)})
    return _render(request, "private_audit.html", session=session, entries=entries, month=month or "",
                   purposes=PURPOSES, choice=_choice(request))


def _project_names(stores) -> list[str]:
    """Registered projects and those with private aggregates: names only, for an admin's links."""
    summary = aggregate_tables.private_origin_summary
    with stores.telemetry.connect() as connection:
        names = set(connection.execute(select(registered_projects.c.name)).scalars())
    with stores.private.connect() as connection:
        names |= set(connection.execute(select(summary.c.project).distinct()).scalars())
    return sorted(names)


async def transparency_page(request: Request) -> Response:
    """The public summary of the audit log: private reads per month and purpose."""
    def read() -> dict:
        with request.app.state.stores.private.connect() as connection:
            summary = audit.public_summary(connection)
        legal = notices.read(request.app.state.stores.telemetry, notices.legal_report)
        return {**summary, "legal_requests": legal}

    summary = await asyncio.to_thread(read)
    reads: dict[str, dict[str, int]] = {}
    for row in summary["private_reads"]:
        reads.setdefault(row["month"], {})[row["purpose"]] = row["reads"]
    used = [p for p in summary["purposes"] if any(p in row for row in reads.values())]
    html = _templates().get_template("transparency.html").render(
        request=request, parameters=None, reads=reads, purposes=used,
        legal_requests=summary["legal_requests"])
    return HTMLResponse(html, headers={"Cache-Control": "public, max-age=300"})
