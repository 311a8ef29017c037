"""The platform's tables. Import from here: ``from fiptrial.models import Participant``."""

from fiptrial.models.audit import AuditEntry, AuditHead
from fiptrial.models.consent import ConsentEvent, ConsentForm
from fiptrial.models.conversations import (
    Agreement,
    CaseloadAssignment,
    ConversationDomain,
    ConversationPlan,
    ConversationRecord,
    FollowupRound,
    Intervention,
    JobRun,
    Notification,
    PlannedConversation,
    SchedulerLock,
)
from fiptrial.models.freezes import DataFreeze
from fiptrial.models.identity import ApiToken, User
from fiptrial.models.outcomes import HeldRow, ImportBatch, OutcomeEvent
from fiptrial.models.participant import Participant
from fiptrial.models.randomisation import (
    Allocation,
    AllocationCorrection,
    CohortRandomisation,
    MinimisationCount,
    RandomisationBlock,
    StratumState,
)
from fiptrial.models.trial import Site, Trial, TrialArm

__all__ = [
    "Agreement",
    "CaseloadAssignment",
    "ConversationDomain",
    "ConversationPlan",
    "ConversationRecord",
    "FollowupRound",
    "Intervention",
    "JobRun",
    "Notification",
    "PlannedConversation",
    "SchedulerLock",
    "Allocation",
    "AllocationCorrection",
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "CohortRandomisation",
    "ConsentEvent",
    "ConsentForm",
    "DataFreeze",
    "MinimisationCount",
    "HeldRow",
    "ImportBatch",
    "OutcomeEvent",
    "Participant",
    "RandomisationBlock",
    "Site",
    "StratumState",
    "Trial",
    "TrialArm",
    "User",
]
