"""What the pages say when a service refuses, and the words for the platform's codes.

Services raise :class:`~fiptrial.errors.PlatformError` with a ``code`` and the values its
message needs (``error.extra``); the English ``message`` is for the API and the logs. The
pages never show that English text: :func:`error_text` looks the code up here, in the
translation catalogue (Dutch msgids, English in the .po), and fills in the values in the
reader's language: dates as dd-mm-jjjj, municipality codes as names, life domains by their
label. A code missing here falls back to a general sentence for its HTTP status, and the
test ``test_every_error_code_has_a_message`` keeps that from happening unnoticed.

The other tables give the words for codes the pages show as data: eligibility reasons,
randomisation methods, consent designs, arms, audit actions and statuses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l

from fiptrial.errors import PlatformError
from fiptrial.web.formatting import (
    format_date,
    format_number,
    life_domain_labels,
    municipality_name,
)

log = logging.getLogger(__name__)

ERRORS: dict[str, Any] = {
    # Dates and choices in general
    "date_in_future": _l("Deze datum ligt in de toekomst."),
    # Facts entered later with their own past moment (services.moments)
    "moment_in_future": _l("Dit moment ligt in de toekomst."),
    "allocated_before_registration": _l("De loting kan niet vóór de registratie liggen."),
    "allocated_before_consent": _l("De loting kan niet vóór de toestemming liggen."),
    "allocated_before_last_allocation": _l(
        "De loting kan niet vóór de laatste loting van deze locatie liggen."
    ),
    "received_before_last_import": _l(
        "De ontvangstdatum kan niet vóór de laatste import van deze locatie liggen."
    ),
    "frozen_before_cutoff": _l("Een bevriezing kan niet vóór de peildatum liggen."),
    # The analysis plan
    "analysis_plan_frozen": _l("Het analyseplan is vastgesteld en kan niet meer veranderen."),
    "analysis_plan_invalid": _l("Het analyseplan klopt niet: controleer de ingevulde waarden."),
    "invalid_choice": _l("Kies een van de mogelijkheden in de lijst."),
    "invalid_bsn": _l("Dit is geen geldig BSN (9 cijfers die voldoen aan de elfproef)."),
    "none_chosen": _l("Kies ten minste één deelnemer."),
    "not_found": _l("Dit gegeven bestaat niet, of valt buiten uw locatie."),
    # Registration and eligibility
    "duplicate_participant": _l("Dit BSN is al ingeschreven in het onderzoek."),
    "registered_at_other_site": _l(
        "Dit BSN is al ingeschreven in het onderzoek, bij een andere locatie. Neem contact op "
        "met de onderzoeksbeheerder."
    ),
    "municipality_not_member": _l("%(municipality)s hoort niet bij deze locatie."),
    "birth_date_after_registration": _l(
        "De geboortedatum ligt op of na de datum van inschrijving."
    ),
    "age_over_120": _l("Met deze geboortedatum zou de cliënt ouder zijn dan 120 jaar."),
    "age_implausibly_low": _l(
        "Met deze geboortedatum is de cliënt jonger dan %(minimum)s jaar. De bijstand begint "
        "op 18 jaar: controleer het geboortejaar."
    ),
    "benefit_start_after_registration": _l("De uitkering begint na de datum van inschrijving."),
    "benefit_start_before_birth": _l("De uitkering begint vóór de geboortedatum."),
    "not_eligible": _l("Deze deelnemer voldoet niet aan de voorwaarden voor het onderzoek."),
    # Consent
    "consent_form_unknown": _l("Versie %(version)s van het toestemmingsformulier bestaat niet."),
    "consent_form_not_yet_valid": _l("Formulier %(version)s geldt pas vanaf %(valid_from)s."),
    "consent_before_last_event": _l(
        "Deze datum ligt vóór de laatste toestemmingsregistratie (%(last)s)."
    ),
    "consent_withdrawn": _l(
        "De toestemming is ingetrokken op %(withdrawn_on)s. Intrekken is definitief: er kan "
        "niets meer worden vastgelegd."
    ),
    "withdrawal_without_consent": _l(
        "Deze deelnemer heeft nooit toestemming gegeven, dus er valt niets in te trekken. "
        "Leg een weigering vast als de cliënt niet mee wil doen."
    ),
    "zelen_consent_only_fip": _l(
        "In deze opzet (Zelen) wordt alleen aan deelnemers in de FIP-groep toestemming gevraagd."
    ),
    "duplicate_consent_form": _l("Versie %(version)s van het formulier bestaat al."),
    "consent_required": _l("Deze deelnemer heeft nog geen toestemming gegeven."),
    "reconsent_required": _l(
        "Er is een nieuwe versie van het toestemmingsformulier: vraag eerst opnieuw toestemming."
    ),
    "bulk_consent_refused": _l(
        "Er is niets vastgelegd: voor een of meer deelnemers kan deze toestemming niet worden "
        "vastgelegd. Ze staan hieronder."
    ),
    # Randomisation
    "already_allocated": _l("Deze deelnemer is al geloot."),
    "no_cohort_caseload": _l("Er zijn geen geschikte deelnemers met toestemming om te loten."),
    "cohort_arms": _l("Een cohortloting kan alleen met de groepen FIP en controle."),
    "cohort_fip_out_of_range": _l(
        "Het aantal FIP-plaatsen moet liggen tussen 1 en %(highest)s: bij de loting moet iedere "
        "deelnemer kans hebben op FIP én op controle."
    ),
    "cohort_too_small": _l(
        "Een loting vraagt ten minste %(minimum)s deelnemers klaar voor loting; nu zijn het er "
        "%(caseload)s. Wijs ze één voor één toe, of wacht op meer toestemmingen."
    ),
    "cohort_fip_over_capacity": _l(
        "Het aantal FIP-plaatsen (%(fip)s) is groter dan de %(free)s vrije plaatsen bij de "
        "klantmanagers: een FIP-deelnemer zonder klantmanager krijgt geen begeleiding."
    ),
    "cohort_no_free_places": _l(
        "De klantmanagers van deze locatie hebben geen vrije FIP-plaatsen. Voeg klantmanagers "
        "toe of verhoog hun capaciteit."
    ),
    "cohort_exists": _l(
        "Deze locatie heeft al geloot. Nieuwe deelnemers worden één voor één toegewezen volgens "
        "de methode van het onderzoek. Een volgende loting kan alleen een onderzoeksbeheerder "
        "uitvoeren, met een reden."
    ),
    "cohort_reason_required": _l(
        "Geef een reden voor deze volgende loting (ten minste %(minimum)s tekens); de reden komt "
        "in het auditlogboek."
    ),
    # The audit trail's anchors (CLI)
    "anchor_unreadable": _l("Dit bestand is geen ankerbestand van het auditlogboek."),
    "anchor_signature": _l(
        "De handtekening van het anker klopt niet: het is gewijzigd, of gemaakt met een andere "
        "auditsleutel."
    ),
    "audit_chain_broken": _l(
        "De keten van het auditlogboek is verbroken: er is geen anker gemaakt."
    ),
    "no_client_managers": _l("Deze locatie heeft nog geen klantmanagers."),
    "same_client_manager": _l("Deze deelnemer heeft deze klantmanager al."),
    # Conversations
    "not_fip": _l("Alleen deelnemers in de FIP-groep hebben gesprekken."),
    "participant_withdrawn": _l(
        "De deelnemer heeft op %(withdrawn_on)s de toestemming ingetrokken; daarna worden geen "
        "gesprekken meer vastgelegd."
    ),
    "conversation_in_future": _l(
        "Een gesprek legt u vast nadat het heeft plaatsgevonden, niet vooraf."
    ),
    "conversation_same_day": _l(
        "Op %(date)s is al een gesprek met deze deelnemer vastgelegd. Klopt dat gesprek niet, "
        "corrigeer het dan op de pagina van de deelnemer."
    ),
    "duration_required": _l("Vul de duur van het gesprek in."),
    "bsn_in_free_text": _l(
        "Deze tekst bevat een BSN. Noem de deelnemer bij het deelnemersnummer, nooit bij het BSN."
    ),
    "missed_reason_required": _l("Kies waarom het gesprek niet doorging."),
    "missed_has_content": _l(
        "Bij een gesprek dat niet doorging horen geen leefgebieden, afspraken of interventies."
    ),
    "unknown_life_domain": _l("Dit leefgebied bestaat niet."),
    "duplicate_life_domain": _l("Het leefgebied %(domain)s staat er twee keer in."),
    "progress_without_domain": _l(
        "U vulde vooruitgang in bij %(domain)s, maar vinkte dat leefgebied niet aan. Vink het "
        "aan of zet de vooruitgang op ‘niet beoordeeld’."
    ),
    "agreement_due_in_past": _l(
        "Afspraak %(number)s heeft een uiterste datum vóór de datum van het gesprek."
    ),
    "agreement_date_invalid": _l("Schrijf de datum van afspraak %(number)s als dd-mm-jjjj."),
    "agreement_unknown": _l("Deze afspraak hoort niet bij een eerder gesprek van de deelnemer."),
    "agreement_already_followed_up": _l("Deze afspraak is al eerder besproken."),
    "unknown_intervention_type": _l("Deze soort interventie bestaat niet."),
    "intervention_end_before_start": _l("Een interventie kan niet eindigen vóór haar begin."),
    "intervention_unknown": _l("Deze interventie hoort niet bij de deelnemer."),
    "intervention_already_ended": _l("Deze interventie is al beëindigd."),
    "planned_conversation_unknown": _l("Dit geplande gesprek hoort niet bij de deelnemer."),
    "already_recorded": _l("Dit geplande gesprek is al vastgelegd."),
    "correction_reason_required": _l("Kies een reden voor de correctie."),
    "correction_explanation_required": _l("Licht de correctie in een paar woorden toe."),
    "correction_changes_nothing": _l(
        "De correctie verandert niets: pas eerst aan wat niet klopte."
    ),
    "not_correctable": _l("Dit onderdeel kan niet worden gecorrigeerd; verwijder het gesprek."),
    "record_agreements_followed_up": _l(
        "Afspraken uit dit gesprek zijn al in een later gesprek besproken. Verwijder of "
        "corrigeer eerst dat latere gesprek."
    ),
    # Planning
    "conversation_closed": _l("Een gesprek dat al is gehouden of vervallen, verplaatst u niet."),
    "not_working_day": _l(
        "%(date)s is geen werkdag van deze locatie (weekend, feestdag of sluitingsdag)."
    ),
    "agenda_day_full": _l("De agenda van de klantmanager is op %(date)s al vol."),
    "agenda_full": _l("Er is geen werkdag met ruimte meer in de planning."),
    "time_not_free": _l("Om %(time)s is er op die dag al een gesprek."),
    "move_reason_required": _l("Kies een reden voor het verplaatsen."),
    "invalid_plan_rule": _l("Kies een heel getal van %(low)s tot en met %(high)s."),
    # Imports
    "file_too_large": _l("Het bestand is groter dan %(max_mb)s MB."),
    "plugin_missing": _l(
        "De plug-in van deze locatie is niet geïnstalleerd. Vraag de beheerder om hulp."
    ),
    "export_format": _l(
        "Het bestand heeft niet de indeling die de plug-in van de locatie verwacht. Sla het "
        "op zoals de handleiding van de locatie beschrijft en lees het opnieuw in."
    ),
    "export_line_endings": _l(
        "Het bestand gebruikt alleen CR als regeleinde (oude Mac-indeling). Sla het op als CSV "
        "met Windows- of Unix-regeleinden en lees het opnieuw in."
    ),
    "export_duplicate_columns": _l(
        "De kopregel van het bestand noemt een kolom meer dan één keer. Elke kolom mag één keer "
        "voorkomen."
    ),
    "export_no_rows": _l(
        "Het bestand heeft een kopregel maar geen regels met gegevens; er is niets ingelezen."
    ),
    "export_missing_columns": _l(
        "In de kopregel van het bestand ontbreken de kolom(men) %(columns)s: het bestand heeft "
        "niet de indeling die de plug-in van de locatie verwacht. Sla het op zoals de "
        "handleiding van de locatie beschrijft en lees het opnieuw in."
    ),
    "export_empty": _l("Het bestand is leeg: verwacht werd %(expected)s."),
    "export_not_xml": _l("Het bestand is geen geldige XML (regel %(line)s): %(reason)s."),
    "export_xml_dtd": _l(
        "Het bestand bevat een DTD of entiteiten. Die heeft een export nooit nodig; ze worden "
        "uit veiligheid geweigerd."
    ),
    "export_xml_no_records": _l(
        "Het bestand bevat geen elementen %(element)s: controleer het record-element in "
        "export.toml."
    ),
    "mapping_version_unknown": _l(
        "De plug-in van deze locatie heeft geen mappingversie %(version)s (wel: %(known)s)."
    ),
    # A line of a declarative export that cannot be used (fiptrial.plugins.messages)
    "row_invalid_bsn": _l("%(column)s is geen geldig BSN (9 cijfers die voldoen aan de elfproef)."),
    "row_invalid_date": _l("%(column)s is geen geldige datum (%(format)s)."),
    "row_invalid_sex": _l("%(column)s %(value)s is geen van de geslachtscodes %(codes)s."),
    "row_reason_identifying": _l(
        "%(column)s is geen redencode (het lijkt op een nummer of een datum)."
    ),
    "row_invalid_municipality": _l("%(column)s %(value)s is geen CBS-gemeentecode."),
    "row_invalid_statistic_code": _l(
        "%(column)s is geen BUS-statistiekcode (twee cijfers, bijvoorbeeld 01)."
    ),
    "row_value_missing": _l("%(column)s is leeg."),
    "row_end_without_reason": _l("%(column)s is ingevuld, maar %(other)s is leeg."),
    "row_reason_without_end": _l("%(column)s is ingevuld, maar %(other)s is leeg."),
    "row_end_before_start": _l("De einddatum van de uitkering ligt vóór de begindatum."),
    "row_birth_not_before_start": _l("De geboortedatum ligt niet vóór het begin van de uitkering."),
    "row_too_few_fields": _l(
        "Verwacht werden %(expected)s velden gescheiden door %(delimiter)s; gevonden: %(found)s."
    ),
    "row_no_person": _l("Het uitkeringsrecord heeft geen element %(element)s."),
    "import_unexpected": _l(
        "Het inlezen is gestopt door een onverwachte fout; er is niets opgeslagen."
    ),
    "import_interrupted": _l(
        "Het inlezen is onderbroken: de verwerking stopte voordat het bestand klaar was."
    ),
    "import_task_open": _l("Een import die nog loopt, kan niet worden gewist."),
    # Analysis and freezes
    "analysis_not_possible": _l(
        "De analyse kan nog niet worden gemaakt: er zijn te weinig gegevens (bijvoorbeeld een "
        "groep zonder deelnemers)."
    ),
    # Users and the research admin's screens
    "duplicate_user": _l("Deze gebruikersnaam bestaat al."),
    "invalid_username": _l(
        "Gebruik 1 tot 80 letters, cijfers, punten, streepjes of liggende streepjes."
    ),
    "weak_password": _l(
        "Dit wachtwoord is te zwak: kies minstens 12 tekens, geen veelgebruikt wachtwoord en "
        "niet de gebruikersnaam."
    ),
    "wrong_password": _l("Dit is niet uw huidige wachtwoord."),
    "same_password": _l("Kies een ander wachtwoord dan het huidige."),
    "site_required": _l("Een locatiecoördinator of klantmanager hoort bij één locatie."),
    "site_not_allowed": _l("Deze rol werkt voor alle locaties en hoort niet bij één locatie."),
    "capacity_invalid": _l("Vul een aantal plaatsen van 1 of meer in."),
    "capacity_below_load": _l(
        "Deze klantmanager heeft nu %(load)s cliënten; de capaciteit kan niet lager zijn."
    ),
    "own_account": _l("Uw eigen account kunt u hier niet uitschakelen."),
    "duplicate_site": _l("Er bestaat al een locatie met deze code."),
    "duplicate_trial": _l("Er bestaat al een onderzoek met deze code."),
    "plugin_unknown": _l("Er is geen geïnstalleerde plug-in met deze naam."),
    "site_code_invalid": _l("Gebruik kleine letters, cijfers en liggende streepjes."),
    "ratio_invalid": _l("Geef elke groep een verhouding van 1 of meer."),
    "settings_locked": _l(
        "Deze instelling ligt vast sinds %(since)s en kan niet meer worden gewijzigd."
    ),
    "closing_day_exists": _l("%(date)s staat al als sluitingsdag in de lijst."),
    "closing_day_unknown": _l("%(date)s staat niet als sluitingsdag in de lijst."),
    "value_out_of_range": _l("Kies een waarde van %(low)s tot en met %(high)s."),
    "value_required": _l("Vul dit veld in."),
    "not_a_setting": _l("Dit is geen instelling die hier kan worden gewijzigd."),
    "benefit_code_not_studied": _l(
        "Alleen uitkeringen met statistiekcode %(allowed)s kunnen in het onderzoek, elk één keer; "
        "bijzondere bijstand (11, 12) en Bbz (14) zijn nooit uitkeringsperiodes."
    ),
    "strata_invalid": _l(
        "De strata beginnen met de locatie en noemen elk kenmerk hooguit één keer."
    ),
    "block_sizes_invalid": _l("Geef ten minste één blokvermenigvuldiger van 1 of meer."),
    "band_edges_invalid": _l("De grenzen van de klassen moeten oplopen."),
    # Privacy: two-factor sign-in, export approvals, retention
    "mfa_code_wrong": _l("Deze code klopt niet of is verlopen."),
    "mfa_enrolled": _l("Tweestapsverificatie staat al aan."),
    "mfa_not_pending": _l("Begin eerst met het instellen van tweestapsverificatie."),
    "not_demo_user": _l("Alleen voor demogebruikers met de openbare demosleutel."),
    "purpose_length": _l("Beschrijf in 10 tot 2000 tekens waarvoor de export nodig is."),
    "approval_decided": _l("Over deze aanvraag is al besloten."),
    "approval_not_usable": _l("Deze aanvraag is niet (meer) goedgekeurd."),
    "site_key_file_invalid": _l("Het sleutelbestand is geen locatiesleutel van het platform."),
    "prepared_header_invalid": _l(
        "Dit voorbereide bestand heeft niet de vorm die fiptrial-prepare-export schrijft."
    ),
    "prepared_token_invalid": _l(
        "Regel %(line)s: het pseudoniem is niet met de sleutel van deze locatie gemaakt of is "
        "veranderd."
    ),
    "prepared_wrong_site": _l("Dit bestand is voorbereid voor een andere locatie of onderzoek."),
    "prepared_key_retired": _l(
        "Sleutelversie %(version)s van deze locatie is niet (meer) geldig; vraag een nieuwe "
        "sleutel aan."
    ),
    "pseudonym_key_destroyed": _l(
        "De pseudoniemsleutel van dit onderzoek is na de follow-up vernietigd: er kan geen BSN "
        "meer aan worden gekoppeld."
    ),
}

STATUS_FALLBACK = {
    400: _l("Het verzoek kon niet worden verwerkt."),
    403: _l("Uw rol geeft hier geen toegang toe."),
    404: _l("Dit gegeven bestaat niet, of valt buiten uw locatie."),
    409: _l("Dit botst met wat al is vastgelegd."),
    422: _l("De invoer kon niet worden verwerkt. Controleer de velden."),
}

# Eligibility reasons (services.eligibility.REASONS) in the pages' words.
ELIGIBILITY_REASONS = {
    "under_18": _l("jonger dan 18 jaar op de datum van inschrijving"),
    "benefit_under_6_months": _l("korter dan 6 maanden in de uitkering bij inschrijving"),
    "reaches_pension_age_during_followup": _l(
        "bereikt de AOW-leeftijd vóór het einde van de follow-up"
    ),
}

METHODS = {
    "permuted_blocks": _l("blokrandomisatie per stratum"),
    "minimisation": _l("minimisatie"),
    "cohort": _l("cohortloting"),
}
CONSENT_DESIGNS = {
    "consent_first": _l("eerst toestemming, dan loten"),
    "zelen": _l("eerst loten, toestemming alleen in de FIP-groep (Zelen)"),
}
ARMS = {"fip": _l("FIP"), "control": _l("controle")}
STRATIFICATION_FACTORS = {
    "site": _l("locatie"),
    "age_band": _l("leeftijd"),
    "benefit_duration_band": _l("duur in de uitkering"),
    "sex": _l("geslacht"),
}
CONSENT_STATUSES = {
    "given": _l("gegeven"),
    "declined": _l("geweigerd"),
    "withdrawn": _l("ingetrokken"),
}
CORRECTION_REASONS = {
    "wrong_date": _l("verkeerde datum"),
    "wrong_participant": _l("bij de verkeerde deelnemer vastgelegd"),
    "entered_twice": _l("dubbel ingevoerd"),
    "typing_error": _l("tikfout"),
    "other": _l("anders (licht toe)"),
}
MOVE_REASONS = {
    "client_request": _l("op verzoek van de cliënt"),
    "client_ill": _l("cliënt ziek"),
    "manager_absent": _l("klantmanager afwezig"),
    "closing_day": _l("sluitingsdag"),
    "other": _l("anders"),
}
ALLOCATION_STATUSES = {
    "active": _l("actief"),
    "randomised_in_error": _l("ten onrechte geloot"),
}
OUTCOME_KINDS = {
    "exit": _l("uitstroom"),
    "transfer": _l("verhuizing binnen de locatie"),
    "reentry": _l("herinstroom"),
    "correction": _l("correctie"),
}

# Audit actions: the audit viewer's "what" column and filter.
AUDIT_ACTIONS = {
    "trial.created": _l("onderzoek aangemaakt"),
    "trial.settings_changed": _l("instellingen van het onderzoek gewijzigd"),
    "trial.plan_rules_changed": _l("gespreksplanning van het onderzoek gewijzigd"),
    "site.created": _l("locatie toegevoegd"),
    "site.updated": _l("locatie gewijzigd"),
    "site.ratio_changed": _l("verhouding van de locatie gewijzigd"),
    "site.closing_days_changed": _l("sluitingsdagen gewijzigd"),
    "consent_form.registered": _l("toestemmingsformulier toegevoegd"),
    "participant.registered": _l("deelnemer ingeschreven"),
    "consent.given": _l("toestemming gegeven"),
    "consent.declined": _l("toestemming geweigerd"),
    "consent.withdrawn": _l("toestemming ingetrokken"),
    "allocation.created": _l("deelnemer geloot"),
    "allocation.corrected": _l("loting gecorrigeerd"),
    "randomisation.block_committed": _l("nieuw lotingsblok vastgelegd"),
    "randomisation.cohort_committed": _l("cohortloting uitgevoerd"),
    "user.created": _l("gebruiker aangemaakt"),
    "user.password_set": _l("wachtwoord ingesteld"),
    "user.locked": _l("account geblokkeerd na mislukte pogingen"),
    "user.login_failures": _l("vijf mislukte inlogpogingen op rij"),
    "participant.registration_refused": _l("inschrijving geweigerd: BSN al bij andere locatie"),
    "user.unlocked": _l("account gedeblokkeerd"),
    "user.deactivated": _l("gebruiker uitgeschakeld"),
    "user.reactivated": _l("gebruiker weer ingeschakeld"),
    "user.updated": _l("gebruiker gewijzigd"),
    "client_manager.created": _l("klantmanager aangemaakt"),
    "client_manager.capacity_changed": _l("capaciteit van klantmanager gewijzigd"),
    "caseload.assigned": _l("klantmanager toegewezen"),
    "caseload.reassigned": _l("andere klantmanager toegewezen"),
    "plan.created": _l("gesprekken gepland"),
    "conversation.held": _l("gesprek vastgelegd"),
    "conversation.missed": _l("niet doorgegaan gesprek vastgelegd"),
    "conversation.moved": _l("gesprek verplaatst"),
    "conversation.corrected": _l("gesprek gecorrigeerd"),
    "conversation.deleted": _l("gesprek verwijderd"),
    "intervention.ended": _l("interventie beëindigd"),
    "import.participants": _l("cliëntbestand ingelezen"),
    "import.outcomes": _l("uitkomstbestand ingelezen"),
    "import.participants.duplicate": _l("cliëntbestand opnieuw aangeboden (ongewijzigd)"),
    "import.outcomes.duplicate": _l("uitkomstbestand opnieuw aangeboden (ongewijzigd)"),
    "followup.export_late": _l("maandbestand te laat"),
    "followup.export_received": _l("maandbestand ontvangen"),
    "import_task.cleared": _l("mislukte import gewist"),
    "analysis.exported": _l("analyse-export gedownload"),
    "analysis.frozen": _l("gegevens bevroren"),
    "analysis.freeze_downloaded": _l("bevriezing gedownload"),
    "analysis_plan.changed": _l("analyseplan gewijzigd"),
    "analysis_plan.frozen": _l("analyseplan bevroren"),
    "analysis_plan.first_unblinded_report": _l("eerste ongeblindeerde rapport op het analyseplan"),
    "token.created": _l("API-sleutel aangemaakt"),
    "token.revoked": _l("API-sleutel ingetrokken"),
    # Privacy
    "retention.deleted": _l("gegevens verwijderd volgens de bewaartermijn"),
    "retention.schedule_set": _l("bewaartermijnen gewijzigd"),
    "source_key.issued": _l("locatiesleutel uitgegeven"),
    "source_key.retired": _l("locatiesleutel ingetrokken"),
    "user.mfa_enrolled": _l("tweestapsverificatie ingesteld"),
    "user.mfa_recovery_used": _l("herstelcode gebruikt"),
    "user.mfa_reset": _l("tweestapsverificatie hersteld"),
    "export.requested": _l("export aangevraagd"),
    "export.approved": _l("exportaanvraag goedgekeurd"),
    "export.refused": _l("exportaanvraag afgewezen"),
    "export.approval_used": _l("goedgekeurde export gedownload"),
}
AUDIT_ENTITIES = {
    "trial": _l("onderzoek"),
    "site": _l("locatie"),
    "participant": _l("deelnemer"),
    "allocation": _l("toewijzing"),
    "cohort_randomisation": _l("cohortloting"),
    "consent_form": _l("toestemmingsformulier"),
    "user": _l("gebruiker"),
    "app_user": _l("gebruiker"),
    "conversation_record": _l("gesprek"),
    "planned_conversation": _l("gepland gesprek"),
    "intervention": _l("interventie"),
    "import_batch": _l("import"),
    "import_task": _l("import"),
    "data_freeze": _l("bevriezing"),
    "api_token": _l("API-sleutel"),
    "randomisation_block": _l("lotingsblok"),
    "followup_round": _l("vervolgronde"),
    "analysis_plan": _l("analyseplan"),
    "export_approval": _l("exportaanvraag"),
    "read_log": _l("leeslog"),
}

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def label(table: Mapping[str, Any], code: str | None) -> str:
    """The words for ``code``; an unknown code is shown as words, never as a raw code."""
    if code is None:
        return "–"
    if code in table:
        return str(table[code])
    return code.replace("_", " ").replace(".", ": ")


def _param(name: str, value: Any) -> Any:
    if isinstance(value, str) and ISO_DATE.match(value):
        return format_date(date.fromisoformat(value))
    if name == "municipality" and isinstance(value, str):
        return municipality_name(value)
    if name == "domain" and isinstance(value, str):
        return life_domain_labels().get(value, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(value)
    return value


def message(code: str, params: Mapping[str, Any] | None = None, status: int = 422) -> str:
    """The catalogue's sentence for ``code`` with ``params`` filled in."""
    template = ERRORS.get(code)
    if template is None:
        log.warning("no message in the catalogue for error code %r", code)
        return str(STATUS_FALLBACK.get(status, STATUS_FALLBACK[422]))
    values = {name: _param(name, value) for name, value in (params or {}).items()}
    try:
        return str(template) % values if "%(" in str(template) else str(template)
    except (KeyError, ValueError, TypeError):
        log.warning("error %r lacks the values its message needs: %r", code, sorted(values))
        return str(STATUS_FALLBACK.get(status, STATUS_FALLBACK[422]))


def error_text(error: PlatformError) -> str:
    """What the page says about a refused request, in the reader's language."""
    params = {k: v for k, v in error.extra.items() if isinstance(v, str | int | float)}
    return message(error.code, params, error.status)


def stored_error_text(code: str | None, params: Mapping[str, Any] | None) -> str:
    """The message of an error stored earlier (a failed background import)."""
    return message(code or "import_unexpected", params)


def rejection_text(entry: dict[str, Any]) -> str:
    """A rejected import line's reason: from the catalogue when the importer gave its code."""
    if entry.get("code"):
        return message(str(entry["code"]), entry.get("params") or {})
    if entry.get("errors"):  # a row of a declarative export: one coded message per problem
        return " ".join(message(str(e["code"]), e.get("params") or {}) for e in entry["errors"])
    return str(entry.get("reason", ""))
