"""The pages' forms (Flask-WTF: every one carries its CSRF token). Messages in plain Dutch."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    Field,
    FieldList,
    Form,
    FormField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import TextInput

from fiptrial.errors import PlatformError
from fiptrial.services.pseudonyms import normalise_bsn
from fiptrial.web import messages

try:  # WTForms 3.3 prefers SelectChoice objects and deprecates tuples
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None


def options(pairs: list[tuple[str, Any]]) -> list[Any]:
    """Select options as this WTForms version wants them."""
    if SelectChoice is None:
        return list(pairs)
    return [SelectChoice(value, label) for value, label in pairs]


REQUIRED = _l("Vul dit veld in.")
DATE_FORMATS = ("%d-%m-%Y", "%Y-%m-%d", "%d/%m/%Y")


def parse_dutch_date(text: str) -> date | None:
    """dd-mm-jjjj (or ISO, or dd/mm/jjjj) to a date; None when it is not a date."""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


class DutchDateField(Field):
    """A date typed as dd-mm-jjjj (ISO jjjj-mm-dd is accepted too), shown as dd-mm-jjjj."""

    widget = TextInput()

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any) -> None:
        render_kw = kwargs.pop("render_kw", {}) or {}
        render_kw.setdefault("placeholder", "dd-mm-jjjj")
        render_kw.setdefault("inputmode", "numeric")
        render_kw.setdefault("autocomplete", "off")
        super().__init__(label, validators, render_kw=render_kw, **kwargs)

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        return self.data.strftime("%d-%m-%Y") if isinstance(self.data, date) else ""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        self.data = parse_dutch_date(valuelist[0])
        if self.data is None:
            raise ValueError(str(_l("Schrijf de datum als dd-mm-jjjj, bijvoorbeeld 17-05-1980.")))


def valid_bsn(_form: FlaskForm, field: Field) -> None:
    """The elfproef, before the service sees it, so the error shows with the others."""
    if not field.data:
        return
    try:
        normalise_bsn(field.data)
    except PlatformError:
        raise ValidationError(
            str(_l("Dit is geen geldig BSN (9 cijfers die voldoen aan de elfproef)."))
        ) from None


def password_field(label: str, autocomplete: str, **kwargs: Any) -> PasswordField:
    """A required password field; ``autocomplete`` tells a password manager whether to fill in
    the stored password ("current-password") or to offer a new one ("new-password")."""
    return PasswordField(
        label,
        validators=[DataRequired(REQUIRED)],
        render_kw={"autocomplete": autocomplete},
        **kwargs,
    )


class PasswordChangeForm(FlaskForm):
    current_password = password_field(_l("Huidig wachtwoord"), "current-password")
    password = password_field(
        _l("Nieuw wachtwoord"),
        "new-password",
        description=_l("Minstens 12 tekens; geen bekend of veelgebruikt wachtwoord."),
    )
    repeat = password_field(_l("Nieuw wachtwoord nogmaals"), "new-password")
    submit = SubmitField(_l("Wachtwoord wijzigen"))


class LoginForm(FlaskForm):
    username = StringField(
        _l("Gebruikersnaam"),
        validators=[DataRequired(REQUIRED)],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = password_field(_l("Wachtwoord"), "current-password")
    submit = SubmitField(_l("Inloggen"))


class LanguageForm(FlaskForm):
    lang = SelectField(_l("Taal"), choices=options([("nl", "Nederlands"), ("en", "English")]))
    submit = SubmitField(_l("Wijzig taal"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("Uitloggen"))


SEX_CHOICES = options([("", _l("— kies —")), ("female", _l("vrouw")), ("male", _l("man"))])


class ParticipantForm(FlaskForm):
    bsn = StringField(
        _l("BSN"),
        validators=[
            DataRequired(REQUIRED),
            Length(min=8, max=9, message=_l("Een BSN heeft 9 cijfers.")),
            valid_bsn,
        ],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
        description=_l("Wordt direct vervangen door een pseudoniem en niet opgeslagen."),
    )
    birth_date = DutchDateField(_l("Geboortedatum"), validators=[InputRequired(REQUIRED)])
    sex = SelectField(
        _l("Geslacht"), choices=SEX_CHOICES, validators=[DataRequired(_l("Kies een geslacht."))]
    )
    benefit_start = DutchDateField(_l("Begindatum uitkering"), validators=[InputRequired(REQUIRED)])
    municipality = SelectField(
        _l("Gemeente"), choices=[], validate_choice=False, validators=[Optional()]
    )
    registered_on = DutchDateField(
        _l("Datum inschrijving"),
        validators=[Optional()],
        description=_l("Leeg laten voor vandaag."),
    )
    submit = SubmitField(_l("Deelnemer inschrijven"))


CONSENT_CHOICES = options([("given", _l("gegeven")), ("declined", _l("geweigerd"))])


def consent_version_field() -> SelectField:
    """The version of the consent form signed, for one client or a stack of them: the view sets
    the trial's versions as the choices, which WTForms does not check the answer against."""
    return SelectField(
        _l("Versie toestemmingsformulier"),
        choices=[],
        validate_choice=False,
        validators=[DataRequired(REQUIRED)],
    )


class ConsentForm(FlaskForm):
    status = SelectField(_l("Toestemming"), choices=CONSENT_CHOICES)
    version = consent_version_field()
    on = DutchDateField(_l("Datum"), validators=[InputRequired(REQUIRED)])
    submit = SubmitField(_l("Toestemming vastleggen"))


class WithdrawalForm(FlaskForm):
    """Two steps: the date, then a confirmation page that names the consequence."""

    on = DutchDateField(_l("Datum van intrekken"), validators=[InputRequired(REQUIRED)])
    confirm = BooleanField(_l("Ja, ik trek de toestemming definitief in."))
    submit = SubmitField(_l("Toestemming intrekken…"))
    confirmed = SubmitField(_l("Toestemming definitief intrekken"))


class BulkConsentForm(FlaskForm):
    """Paper consent forms of several clients at once; the clients are the checked rows."""

    version = consent_version_field()
    on = DutchDateField(_l("Datum van ondertekening"), validators=[InputRequired(REQUIRED)])
    obtained_by = SelectField(
        _l("Toestemming verkregen door"),
        choices=[],
        validate_choice=False,
        validators=[DataRequired(_l("Kies wie de formulieren heeft laten ondertekenen."))],
    )
    # The checkbox in each row of the page's table; the service refuses ids not waiting.
    participants = SelectMultipleField(choices=[], validate_choice=False, name="deelnemer")
    submit = SubmitField(_l("Toestemming vastleggen voor de gekozen deelnemers"))

    def chosen(self) -> set[int]:
        """The participant ids of the checked rows (anything but a number is no row)."""
        return {int(value) for value in self.participants.data or [] if value.isdigit()}


class ClearTaskForm(FlaskForm):
    submit = SubmitField(_l("Wissen"))


class CohortForm(FlaskForm):
    fip = IntegerField(
        _l("Aantal FIP-plaatsen"),
        validators=[
            InputRequired(REQUIRED),
            NumberRange(min=0, message=_l("Vul een getal van 0 of meer in.")),
        ],
    )
    # Only for a further cohort at a site (research admins): why, kept in the audit trail.
    reason = TextAreaField(
        _l("Reden voor een volgende loting"), validators=[Optional(), Length(max=2000)]
    )
    confirm = BooleanField(
        _l("Ik begrijp dat de loting definitief is en niet kan worden overgedaan."),
        validators=[DataRequired(_l("Bevestig dat u wilt loten."))],
    )
    submit = SubmitField(_l("Loting uitvoeren"))


class ArrivalsForm(FlaskForm):
    """After a site's lottery: allocate the new participants by the trial's method."""

    confirm = BooleanField(
        _l("Ik begrijp dat de toewijzing definitief is."),
        validators=[DataRequired(_l("Bevestig dat u wilt toewijzen."))],
    )
    submit = SubmitField(_l("Nieuwe deelnemers toewijzen"))


class UploadForm(FlaskForm):
    file = FileField(_l("Exportbestand"), validators=[FileRequired(_l("Kies een bestand."))])
    submit = SubmitField(_l("Bestand inlezen"))


class VerifyForm(FlaskForm):
    submit = SubmitField(_l("Controleer de audittrail"))


MISSED_REASON_CHOICES = options(
    [
        ("", _l("— kies —")),
        ("no_show", _l("niet verschenen")),
        ("cancelled_by_client", _l("afgezegd door de cliënt")),
        ("cancelled_by_manager", _l("afgezegd door de klantmanager")),
        ("ill", _l("ziek")),
        ("other", _l("anders")),
    ]
)


AGREEMENT_ROWS = 3
INTERVENTION_ROWS = 2


class AgreementRow(Form):
    """One agreement row of the quick form (``agreement-<n>-description`` ...); the date is
    read by the view, which names the row of a date it cannot read."""

    description = StringField()
    due = StringField()
    responsible = StringField(default="client")


class InterventionRow(Form):
    """One row of the quick form for an intervention started in the conversation."""

    type = StringField()
    provider = StringField()


class ConversationEntryForm(FlaskForm):
    """The quick form: fixed fields, and the rows of new agreements and interventions. The
    life domains and the follow-ups of earlier agreements and interventions are keyed by their
    code or id, and read by ``manager.domain_rows`` and ``manager.conversation_data``."""

    held_on = DutchDateField(_l("Datum van het gesprek"), validators=[InputRequired(REQUIRED)])
    status = SelectField(
        _l("Is het gesprek gehouden?"),
        choices=options([("held", _l("ja, gehouden")), ("missed", _l("nee, niet doorgegaan"))]),
    )
    duration_minutes = IntegerField(
        _l("Duur in minuten"),
        validators=[
            Optional(),
            NumberRange(min=1, max=480, message=_l("Vul een duur tussen 1 en 480 minuten in.")),
        ],
    )
    missed_reason = SelectField(
        _l("Reden als het niet doorging"), choices=MISSED_REASON_CHOICES, validators=[Optional()]
    )
    notes = StringField(
        _l("Korte notitie (blijft bij de gemeente)"), validators=[Optional(), Length(max=4000)]
    )
    agreement = FieldList(
        FormField(AgreementRow), min_entries=AGREEMENT_ROWS, max_entries=AGREEMENT_ROWS
    )
    intervention = FieldList(
        FormField(InterventionRow), min_entries=INTERVENTION_ROWS, max_entries=INTERVENTION_ROWS
    )
    submit = SubmitField(_l("Gesprek opslaan"))


CORRECTION_REASON_CHOICES = options([("", _l("— kies —")), *messages.CORRECTION_REASONS.items()])


class CorrectionForm(ConversationEntryForm):
    """A held or missed conversation put right: the quick form's fields (the life domains are
    rows as there), and a reason, which deleting needs too."""

    reason = SelectField(
        _l("Reden van de correctie"),
        choices=CORRECTION_REASON_CHOICES,
        validators=[DataRequired(_l("Kies een reden voor de correctie."))],
    )
    reason_text = StringField(
        _l("Toelichting (blijft bij de gemeente)"), validators=[Optional(), Length(max=2000)]
    )
    submit = SubmitField(_l("Correctie opslaan"))
    delete = SubmitField(_l("Gesprek verwijderen"))


MOVE_REASON_CHOICES = options([("", _l("— kies —")), *messages.MOVE_REASONS.items()])


class MoveForm(FlaskForm):
    new_date = DutchDateField(_l("Nieuwe datum"), validators=[InputRequired(REQUIRED)])
    start_time = SelectField(
        _l("Tijd"),
        choices=[],
        validate_choice=False,
        validators=[Optional()],
        description=_l("Leeg laten voor de eerste vrije tijd van die dag."),
    )
    reason = SelectField(
        _l("Reden"),
        choices=MOVE_REASON_CHOICES,
        validators=[DataRequired(_l("Kies een reden voor het verplaatsen."))],
    )
    submit = SubmitField(_l("Gesprek verplaatsen"))


class EndInterventionForm(FlaskForm):
    end = DutchDateField(_l("Einddatum"), validators=[InputRequired(REQUIRED)])
    submit = SubmitField(_l("Interventie beëindigen"))


EXPORT_FORMATS = options(
    [
        ("csv", _l("CSV (invoer van het rapport)")),
        ("sav", _l("SPSS (.sav)")),
        ("dta", _l("Stata (.dta)")),
    ]
)


class ExportForm(FlaskForm):
    fmt = SelectField(_l("Formaat"), choices=EXPORT_FORMATS)
    submit = SubmitField(_l("Export downloaden"))


class FreezeForm(FlaskForm):
    submit = SubmitField(_l("Gegevens nu bevriezen"))


class FreezeVerifyForm(FlaskForm):
    submit = SubmitField(_l("Controleren"))
