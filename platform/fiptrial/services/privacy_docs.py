"""The privacy paperwork, generated from the platform's own facts (``fiptrial privacy docs``).

Two documents under ``docs/privacy/``: the processing register entry (art. 30 AVG/GDPR) and a
DPIA starting point (art. 35). What the code knows is filled in from the code itself, so the
documents follow it: every table and field of the models (:data:`TABLES` says what each table
is about; a table it does not know stops the generation), who may read what per role
(``services.access.PERMISSIONS``), which fields never leave a site, what the analysis export
carries, the retention schedule (``services.retention``) and the security measures with their
actual settings. What only the controller can say (purposes in its own words, legal bases, the
processors it contracts) is left as a marked blank. ``tests/core/test_privacy_docs.py`` fails
when the committed documents no longer match the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData

from fiptrial.extensions import db
from fiptrial.security_headers import SECURITY_HEADERS
from fiptrial.services import access, twofactor, users
from fiptrial.services.access import PERMISSIONS, PRIVACY_OFFICER
from fiptrial.services.minimisation import DEFAULT_THRESHOLD, QUASI_IDENTIFIERS
from fiptrial.services.passwords import _hasher
from fiptrial.services.retention import DEFAULT_MONTHS, ITEM_DESCRIPTIONS, ITEMS

TO_FILL = (
    "**[in te vullen door de verwerkingsverantwoordelijke / to be filled in by the controller]**"
)
DOCS = ("verwerkingsregister.md", "dpia.md")


@dataclass(frozen=True)
class TableFacts:
    subject: str  # whose data: client, staff, trial, technical
    what: str
    read_action: str | None  # the permission that reads it (None: operators only)


CLIENT, STAFF, TRIAL, TECHNICAL = "client", "staff", "trial", "technical"
TABLES: dict[str, TableFacts] = {
    "participant": TableFacts(CLIENT, "the pseudonymised participant", "participant.read"),
    "consent_event": TableFacts(CLIENT, "consent given, declined, withdrawn", "consent.read"),
    "allocation": TableFacts(CLIENT, "the randomised arm", "allocation.read"),
    "allocation_correction": TableFacts(CLIENT, "corrections of allocations", "allocation.read"),
    "outcome_event": TableFacts(CLIENT, "benefit exits, transfers, re-entries", "outcome.read"),
    "held_row": TableFacts(CLIENT, "export rows held for an unmapped code", "import.read"),
    "caseload_assignment": TableFacts(CLIENT, "client manager of a participant", "plan.read"),
    "conversation_plan": TableFacts(CLIENT, "the FIP conversation plan", "plan.read"),
    "planned_conversation": TableFacts(CLIENT, "planned conversations", "plan.read"),
    "conversation_record": TableFacts(CLIENT, "conversations held or missed", "conversation.read"),
    "conversation_domain": TableFacts(CLIENT, "life domains discussed", "conversation.read"),
    "conversation_correction": TableFacts(
        CLIENT, "corrections of conversation records", "conversation.read"
    ),
    "agreement": TableFacts(CLIENT, "agreements made in a conversation", "conversation.read"),
    "intervention": TableFacts(CLIENT, "interventions started and ended", "conversation.read"),
    "data_freeze": TableFacts(
        CLIENT, "immutable pseudonymised analysis snapshots", "analysis.read"
    ),
    "read_log_subject": TableFacts(CLIENT, "which participants a read showed", "readlog.read"),
    "cohort_randomisation": TableFacts(TRIAL, "cohort randomisations (counts)", "allocation.list"),
    "minimisation_count": TableFacts(TRIAL, "minimisation counts per level", None),
    "stratum_state": TableFacts(TRIAL, "randomisation state per stratum", None),
    "randomisation_block": TableFacts(TRIAL, "concealed randomisation blocks", None),
    "trial": TableFacts(TRIAL, "trial design", "trial.read"),
    "analysis_plan": TableFacts(TRIAL, "the statistical analysis plan", "analysis.read"),
    "trial_arm": TableFacts(TRIAL, "arms of a trial", "trial.read"),
    "site": TableFacts(TRIAL, "participating municipalities (sites)", "site.read"),
    "consent_form": TableFacts(TRIAL, "versions of the consent form", "trial.read"),
    "followup_round": TableFacts(TRIAL, "monthly outcome rounds per site", "import.read"),
    "import_batch": TableFacts(TRIAL, "imported files (hash, counts, report)", "import.read"),
    "import_task": TableFacts(TRIAL, "uploads being imported", "import.read"),
    "retention_schedule": TableFacts(TRIAL, "retention per trial", "privacy.read"),
    "retention_run": TableFacts(TRIAL, "what retention deleted", "privacy.read"),
    "pseudonym_key_destruction": TableFacts(TRIAL, "destroyed pseudonym keys", "privacy.read"),
    "source_key": TableFacts(TRIAL, "site key versions (fingerprints only)", None),
    "export_approval": TableFacts(STAFF, "analysts' export requests", "export.create"),
    "app_user": TableFacts(STAFF, "people who log in", "token.manage"),
    "api_token": TableFacts(STAFF, "API tokens (hashed)", "token.manage"),
    "user_totp": TableFacts(STAFF, "two-factor secrets", None),
    "recovery_code": TableFacts(STAFF, "two-factor recovery codes (hashed)", None),
    "notification": TableFacts(STAFF, "notifications to staff", "plan.read"),
    "audit_entry": TableFacts(STAFF, "audit chain of every change", "audit.read"),
    "read_log_entry": TableFacts(STAFF, "read log: who looked at what", "readlog.read"),
    "read_log_purge": TableFacts(TECHNICAL, "read-log retention cut-offs", None),
    "audit_head": TableFacts(TECHNICAL, "head of the audit chain", None),
    "job_run": TableFacts(TECHNICAL, "scheduled job runs", None),
    "scheduler_lock": TableFacts(TECHNICAL, "scheduler lock", None),
    "apscheduler_jobs": TableFacts(TECHNICAL, "scheduler job store", None),
}
#: Fields that need a word in the documents beyond their table's description.
FIELD_NOTES = {
    ("import_task", "job_id"): "its job in the queue (procrastinate_* tables on PostgreSQL: "
    "the task's id and the job's state, no personal data)",
    ("participant", "pseudonym"): "HMAC-SHA256 of the BSN under the trial's key; no BSN stored",
    ("participant", "unit_key"): "HMAC-SHA256 of the benefit registration number",
    ("participant", "birth_date"): "never leaves the platform (exports carry ages and bands)",
    ("participant", "sex"): "as registered",
    ("participant", "education"): "small cells suppressed for analysts",
    ("participant", "country_of_birth_region"): "region, not country; small cells suppressed",
    ("app_user", "password_hash"): "argon2id hash",
    ("api_token", "token_hash"): "SHA-256 of a 256-bit token",
    ("user_totp", "secret"): "TOTP secret (needed to check codes)",
    ("recovery_code", "code_hash"): "argon2id hash",
    ("read_log_entry", "remote_addr"): "IP address of the staff member's request",
    ("read_log_entry", "query"): "runs of 8+ digits masked (no BSN)",
}


class UnclassifiedTable(Exception):
    """A table the documents do not describe yet: add it to ``TABLES``."""


def _metadata() -> MetaData:
    return db.metadata


def _roles_for(action: str | None) -> str:
    if action is None:
        return "operators only (no role)"
    return ", ".join(sorted(PERMISSIONS[action]))


def field_rows(metadata: MetaData | None = None) -> list[tuple[str, str, str, str, str]]:
    """(subject, table, field, notes, who reads it) for every field of every table."""
    rows = []
    for table in sorted((metadata or _metadata()).sorted_tables, key=lambda t: t.name):
        facts = TABLES.get(table.name)
        if facts is None:
            raise UnclassifiedTable(
                f"table {table.name} is not described in services.privacy_docs.TABLES"
            )
        for column in table.columns:
            notes = FIELD_NOTES.get((table.name, column.name), "")
            if column.info.get("site_only"):
                notes = (notes + "; " if notes else "") + "site only: never in a pooled export"
            rows.append(
                (facts.subject, table.name, column.name, notes, _roles_for(facts.read_action))
            )
    return rows


def unlisted_fields(text: str, metadata: MetaData | None = None) -> list[str]:
    """Fields of the models that a document does not name as ``table.field``."""
    return [
        f"{table.name}.{column.name}"
        for table in (metadata or _metadata()).sorted_tables
        for column in table.columns
        if f"`{table.name}.{column.name}`" not in text
    ]


def _fields_table(subjects: tuple[str, ...], metadata: MetaData | None) -> list[str]:
    lines = ["| Field | About | Notes | Roles that may read it |", "| --- | --- | --- | --- |"]
    for subject, table, column, notes, roles in field_rows(metadata):
        if subject in subjects:
            lines.append(f"| `{table}.{column}` | {TABLES[table].what} | {notes} | {roles} |")
    return lines


def _permissions_table() -> list[str]:
    roles = ["research_admin", "site_coordinator", "client_manager", "analyst", PRIVACY_OFFICER]
    lines = ["| Action | " + " | ".join(roles) + " |", "| --- |" + " --- |" * len(roles)]
    for action in sorted(PERMISSIONS):
        marks = ["yes" if role in PERMISSIONS[action] else "" for role in roles]
        lines.append(f"| `{action}` | " + " | ".join(marks) + " |")
    return lines


def _field_policy_table() -> list[str]:
    """What each role sees of a record it may read (``services.access.FIELD_POLICY``)."""
    policy = getattr(access, "FIELD_POLICY", None)
    if not policy:
        return ["(no field-level policy: every field of a readable record is visible)"]
    lines = ["| Record | Role | Fields it sees |", "| --- | --- | --- |"]
    for resource in sorted(policy):
        for role in sorted(policy[resource]):
            fields = ", ".join(f"`{name}`" for name in sorted(policy[resource][role])) or "none"
            lines.append(f"| {resource} | {role} | {fields} |")
    return lines


def _retention_table() -> list[str]:
    lines = [
        "| Item | Default months after the last follow-up | What is deleted |",
        "| --- | --- | --- |",
    ]
    for item in ITEMS:
        lines.append(f"| `{item}` | {DEFAULT_MONTHS[item]} | {ITEM_DESCRIPTIONS[item]} |")
    return lines


def security_measures() -> list[str]:
    """The measures as implemented, with their settings read from the code."""
    return [
        "- Pseudonymisation: the BSN is replaced on entry by HMAC-SHA256 under a per-trial key "
        "derived from a platform key kept outside the database; the BSN itself is never stored "
        "or logged (`services/pseudonyms.py`).",
        f"- Passwords: argon2id (time cost {_hasher.time_cost}, memory {_hasher.memory_cost} KiB), "
        "checked with zxcvbn against breached and common passwords (`services/passwords.py`); "
        "failed logins are throttled per client address (`limits.py`) and never lock an "
        f"account; {users.MAX_FAILED_LOGINS} wrong passwords in a row are audited "
        "(`services/users.py`).",
        "- Two-factor sign-in (TOTP, RFC 6238) required for "
        + ", ".join(twofactor.DEFAULT_REQUIRED_ROLES)
        + f" (setting `FIPTRIAL_TWO_FACTOR_ROLES`); {twofactor.RECOVERY_CODES} one-time "
        "recovery codes stored as argon2 hashes; a code is accepted once "
        "(`services/twofactor.py`).",
        "- API tokens: 256 random bits, only their SHA-256 stored (`services/tokens.py`).",
        "- Access: every request is authorised by role (`services/access.py`); site roles see "
        "only their own site, client managers only their own caseload; another site's records "
        "answer 404.",
        "- Audit chain: every change (registration, consent, allocation, correction, import, "
        "user, token, retention, export approval) appended to a SHA-256 hash chain; UPDATE and "
        "DELETE refused by database triggers; `fiptrial audit verify` (`services/audit.py`).",
        "- Read log: every read of personal data and every login, append-only in the database, "
        "searchable by the research admin and the FG (`services/readlog.py`).",
        "- Minimisation: exports carry ages and bands, never birth dates, BSNs, pseudonyms or "
        f"site-only free text; analysts' exports need approval and have values shared by fewer "
        f"than {DEFAULT_THRESHOLD} participants suppressed in "
        + ", ".join(QUASI_IDENTIFIERS)
        + " (`services/minimisation.py`, `services/approvals.py`).",
        "- Retention: per-trial schedule applied nightly; deletions recorded in the audit chain "
        "(`services/retention.py`).",
        "- Web: sessions expire after 30 minutes without activity (setting "
        "`FIPTRIAL_SESSION_MINUTES`), CSRF token on every form, headers: "
        + ", ".join(f"`{name}`" for name in sorted(SECURITY_HEADERS))
        + " (`web/__init__.py`).",
        "- Data freezes: immutable (database triggers) and hashed, so published figures can be "
        "reproduced (`services/freezes.py`).",
    ]


def _document_start(title: str) -> list[str]:
    """The title of a generated document and the notice that it is generated, not edited."""
    return [
        title,
        "",
        "_Generated by `fiptrial privacy docs` from the platform's code; do not edit by hand._",
        "",
    ]


def render_register(metadata: MetaData | None = None) -> str:
    """The processing register entry (art. 30 AVG)."""
    lines = [
        *_document_start(
            "# Verwerkingsregister: FIP-onderzoek (art. 30 AVG) / Record of processing"
        ),
        "## Controller and contact",
        "",
        f"- Controller (verwerkingsverantwoordelijke): {TO_FILL}",
        f"- Data protection officer (FG) of each municipality: {TO_FILL}",
        "",
        "## Purposes",
        "",
        "- Conducting the randomised trial of the FIP method (Frequent, Intensive and Personal "
        "client contact) across municipalities: enrolment, consent, randomisation, delivery of "
        "the FIP conversations, collection of benefit outcomes, and the pooled analysis.",
        "- Further wording and the legal basis (art. 6 and, where applicable, art. 9 AVG): "
        + TO_FILL,
        "",
        "## Categories of data subjects",
        "",
        "- Clients of the participating municipalities on social assistance (participants).",
        "- Staff of the municipalities and the research team (users).",
        "",
        "## Categories of personal data (every field, from the models)",
        "",
        "### About participants",
        "",
        *_fields_table((CLIENT,), metadata),
        "",
        "### About staff",
        "",
        *_fields_table((STAFF,), metadata),
        "",
        "### Trial and technical records",
        "",
        *_fields_table((TRIAL, TECHNICAL), metadata),
        "",
        "## Recipients",
        "",
        "- Within the platform, by role (see the table of permissions in the DPIA): the site's "
        "own coordinators and client managers (their own site; client managers their own "
        "caseload), the research admins, analysts (pseudonymised data; exports only after "
        "approval, small cells suppressed), the FG (read log only).",
        f"- Processors (hosting, backups) and any other recipients: {TO_FILL}",
        "- No transfer outside the EEA by the platform itself.",
        "",
        "## Retention",
        "",
        *_retention_table(),
        "",
        "Participants, consent, allocations, outcomes, freezes and the audit chain are kept as "
        "the trial's evidence for as long as the trial exists; withdrawal of consent keeps what "
        "was lawfully collected before it.",
        "",
        "## Security measures (as implemented)",
        "",
        *security_measures(),
        "",
    ]
    return "\n".join(lines)


def render_dpia(metadata: MetaData | None = None) -> str:
    """A starting point for the DPIA (art. 35 AVG), with the platform's facts filled in."""
    lines = [
        *_document_start("# DPIA starting point: FIP-onderzoek (art. 35 AVG)"),
        "## 1. Description of the processing",
        "",
        "The platform pseudonymises clients at the source or on entry, randomises them, "
        "schedules and records FIP conversations, imports monthly benefit outcomes from each "
        "municipality's export and pools the pseudonymised data for the analysis.",
        "",
        f"- Purposes and legal bases: {TO_FILL}",
        f"- Necessity and proportionality (why each category is needed): {TO_FILL}",
        "",
        "## 2. Data and who sees it",
        "",
        "Every field of every table, and the roles that may read it:",
        "",
        *_fields_table((CLIENT, STAFF, TRIAL, TECHNICAL), metadata),
        "",
        "Permissions per role (`services/access.py`):",
        "",
        *_permissions_table(),
        "",
        "Fields each role sees of a record it may read (`services.access.FIELD_POLICY`):",
        "",
        *_field_policy_table(),
        "",
        "## 3. Retention",
        "",
        *_retention_table(),
        "",
        "## 4. Measures (as implemented)",
        "",
        *security_measures(),
        "",
        "## 5. Risks for the data subjects",
        "",
        "Starting points for the assessment (to be completed with likelihood and severity):",
        "",
        "- Re-identification from pseudonymised exports: mitigated by small-cell suppression "
        "and approval of analysts' exports; residual risk from combinations of variables.",
        "- A leak at one municipality: with source pseudonymisation "
        "(`fiptrial-prepare-export`), a municipality holds only its own site key, which exposes "
        "no other municipality's clients.",
        "- Misuse of access by staff: the read log and the audit chain make every read and "
        "change attributable; two-factor sign-in for the roles that see most.",
        f"- Further risks and the controller's assessment: {TO_FILL}",
        "",
        "## 6. Consultation",
        "",
        f"- Advice of the FG and, where needed, prior consultation (art. 36): {TO_FILL}",
        "",
    ]
    return "\n".join(lines)


def write_docs(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in zip(DOCS, (render_register(), render_dpia()), strict=True):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
