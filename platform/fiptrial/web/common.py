"""What every page shares: the logged-in user, their Principal, role checks and error pages.

Views never decide access themselves: they build the :class:`~fiptrial.services.access.Principal`
of the logged-in user and ask :mod:`fiptrial.services.access`, exactly as the API does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Blueprint, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from fiptrial.errors import Forbidden, NotFound, PlatformError
from fiptrial.services import access
from fiptrial.services.access import Principal
from fiptrial.services.users import load_user
from fiptrial.web.messages import error_text


@dataclass
class WebUser:
    """The logged-in user as Flask-Login sees it: a detached copy, never a live ORM row."""

    id: int
    username: str
    display_name: str
    role: str
    site_id: int | None
    site_code: str | None
    site_name: str | None = None

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    @classmethod
    def from_user(cls, user: Any) -> WebUser:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name or user.username,
            role=user.role,
            site_id=user.site_id,
            site_code=user.site.code if user.site else None,
            site_name=user.site.name if user.site else None,
        )

    @classmethod
    def load(cls, user_id: str, session_version: int) -> WebUser | None:
        """The user of a session, checked on every request: active, and the session opened
        under the user's current session version (logout and password changes raise it)."""
        try:
            user = load_user(int(user_id), session_version)
        except ValueError:
            return None
        return cls.from_user(user) if user is not None else None

    @property
    def principal(self) -> Principal:
        return Principal(
            role=self.role, actor=f"user:{self.username}", site_id=self.site_id, user_id=self.id
        )


ROLE_NAMES = {
    "research_admin": _l("onderzoeksbeheerder"),
    "site_coordinator": _l("locatiecoördinator"),
    "client_manager": _l("klantmanager"),
    "analyst": _l("analist"),
    "privacy_officer": _l("functionaris gegevensbescherming"),
}


def principal() -> Principal:
    return current_user.principal  # type: ignore[no-any-return]


def requires(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Log in first, then the role must be allowed ``action`` (403 page otherwise)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            access.authorise(principal(), action)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def requires_login(view: Callable[..., Any]) -> Callable[..., Any]:
    """Any logged-in user, whatever the role (their own account's pages)."""
    return login_required(view)


def home_for(user: WebUser) -> str:
    if user.role == access.CLIENT_MANAGER:
        return url_for("manager.agenda")
    if user.role == access.COORDINATOR and user.site_code:
        return url_for("site.participants", site_code=user.site_code)
    if user.role == access.PRIVACY_OFFICER:
        return url_for("privacy.read_log")
    return url_for("research.overview")


ERROR_TEXT = {
    400: (_l("Verzoek geweigerd"), _l("Het formulier kon niet worden verwerkt.")),
    403: (_l("Geen toegang"), _l("Uw rol geeft geen toegang tot deze pagina.")),
    405: (_l("Niet toegestaan"), _l("Deze pagina kan zo niet worden gebruikt.")),
    404: (
        _l("Niet gevonden"),
        _l("Deze pagina of dit gegeven bestaat niet, of valt buiten uw locatie."),
    ),
    409: (_l("Conflict"), _l("Dit gegeven bestaat al.")),
    413: (
        _l("Te groot"),
        _l("Het verzoek of het bestand is groter dan is toegestaan en is niet gelezen."),
    ),
    429: (
        _l("Te veel pogingen"),
        _l("Er zijn te veel pogingen gedaan. Wacht een kwartier en probeer het opnieuw."),
    ),
    422: (_l("Niet verwerkt"), _l("De invoer kon niet worden verwerkt.")),
}


def render_error(status: int, kind: str = "", message: str = "") -> tuple[str, int]:
    title, text = ERROR_TEXT.get(status, (_l("Fout"), _l("Er ging iets mis.")))
    if kind == "csrf":
        title = _("Formulier verlopen of ongeldig")
        text = _(
            "Het formulier had geen geldige beveiligingscode. Laad de pagina opnieuw "
            "en probeer het nog eens."
        )
    return render_template(
        "errors/error.html", status=status, title=str(title), text=str(text), message=message
    ), status


def install_error_pages(bp: Blueprint) -> None:
    """Service errors raised inside ``bp`` become calm HTML pages, not the API's JSON."""

    @bp.errorhandler(PlatformError)
    def _platform_error(error: PlatformError) -> Any:
        if isinstance(error, NotFound):
            return render_error(404)
        if isinstance(error, Forbidden):
            return render_error(403)
        return render_error(error.status, message=error_text(error))


def apply_service_error(
    form: FlaskForm,
    error: PlatformError,
    field_map: dict[str, str] | None = None,
    default_field: str | None = None,
) -> None:
    """Put a service's refusal, in the catalogue's words, next to the form field it names;
    otherwise next to ``default_field`` or, without one, above the whole form."""
    text = error_text(error)
    for name in error.fields:
        field = getattr(form, (field_map or {}).get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, text]
            return
    if default_field is not None:
        field = getattr(form, default_field)
        field.errors = [*field.errors, text]
    else:
        form.form_errors.append(text)


def form_status(form: FlaskForm, *other_errors: object) -> int:
    """The status of a page that shows ``form``: 422 when it (or a group of rows read beside
    it) holds an error, 200 otherwise."""
    return 422 if form.errors or form.form_errors or any(other_errors) else 200


def render_form(template: str, form: FlaskForm, **context: Any) -> tuple[str, int]:
    """The page ``template`` showing ``form`` (as ``form``), answered with its ``form_status``:
    a refused form comes back with its errors and 422."""
    status = form_status(form)
    return render_template(template, form=form, **context), status


#: The query name of the page number in a paged list, as the ``pager`` macro writes its links.
PAGE_ARG = "pagina"


def requested_page(args: MultiDict[str, str]) -> int:
    """The page a paged list's query asks for: 1 when it names none, or no whole number.

    One home for the name the ``pager`` macro (macros.html) writes into its links.
    """
    return args.get(PAGE_ARG, 1, type=int) or 1


def pager_args(args: MultiDict[str, str]) -> dict[str, str]:
    """The filled-in filters of a paged list's query, for the ``pager`` macro to carry into its
    links: every non-empty value but the page number, which each link sets itself."""
    return {key: value for key, value in args.items() if value and key != PAGE_ARG}
