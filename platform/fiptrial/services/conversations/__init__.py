"""Recording conversations: held or missed, life domains, agreements, interventions.

A client manager records a conversation right after it (FIP: no screen during the talk), so a
record is one call: the conversation, the life domains discussed and whether the client moved
forward on each, new agreements, the follow-up (kept or not) of earlier agreements, and the
interventions started or ended. The record closes the planned conversation it belongs to; a
missed one re-plans the conversations after it.

Only FIP participants have conversations, and a withdrawn participant gets none after the
withdrawal. Free text (notes, agreement text, provider names) stays at the site.

The package, bottom up:

- ``validation``: the code lists, who may have conversations, the checks of a record's content;
- ``recording``: recording a conversation, the reads of records and interventions, ending an
  intervention;
- ``corrections``: correcting or deleting a record, the earlier version kept with its reason.

Callers use the names re-exported here (``conversations.record``, ``conversations.records``, ...).
"""

from fiptrial.services.conversations.corrections import (
    CORRECTABLE,
    CORRECTION_REASONS,
    correct_record,
    corrections_of,
    delete_record,
)
from fiptrial.services.conversations.recording import (
    EARLY_DAYS_DEFAULT,
    end_intervention,
    interventions_of,
    record,
    records,
)
from fiptrial.services.conversations.validation import (
    MISSED_REASONS,
    RESPONSIBLE,
    check_may_have_conversations,
    intervention_types,
    life_domains,
)

__all__ = [
    "CORRECTABLE",
    "CORRECTION_REASONS",
    "EARLY_DAYS_DEFAULT",
    "MISSED_REASONS",
    "RESPONSIBLE",
    "check_may_have_conversations",
    "correct_record",
    "corrections_of",
    "delete_record",
    "end_intervention",
    "intervention_types",
    "interventions_of",
    "life_domains",
    "record",
    "records",
]
