"""The platform's tables. Import from here: ``from fiptrial.models import Participant``."""

from fiptrial.models.analysis_plan import AnalysisPlanVersion
from fiptrial.models.audit import AuditEntry, AuditHead
from fiptrial.models.consent import ConsentEvent, ConsentForm
from fiptrial.models.conversations import (
    Agreement,
    CaseloadAssignment,
    ConversationCorrection,
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
from fiptrial.models.privacy import (
    ExportApproval,
    PseudonymKeyDestruction,
    ReadLogEntry,
    ReadLogPurge,
    ReadLogSubject,
    RecoveryCode,
    RetentionRun,
    RetentionSchedule,
    SourceKey,
    UserTotp,
)
from fiptrial.models.randomisation import (
    Allocation,
    AllocationCorrection,
    CohortRandomisation,
    MinimisationCount,
    RandomisationBlock,
    StratumState,
)
from fiptrial.models.tasks import ImportTask
from fiptrial.models.trial import Site, Trial, TrialArm

__all__ = [
    "Agreement",
    "Allocation",
    "AllocationCorrection",
    "AnalysisPlanVersion",
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "CaseloadAssignment",
    "CohortRandomisation",
    "ConsentEvent",
    "ConsentForm",
    "ConversationCorrection",
    "ConversationDomain",
    "ConversationPlan",
    "ConversationRecord",
    "DataFreeze",
    "ExportApproval",
    "FollowupRound",
    "HeldRow",
    "ImportBatch",
    "ImportTask",
    "Intervention",
    "JobRun",
    "MinimisationCount",
    "Notification",
    "OutcomeEvent",
    "Participant",
    "PlannedConversation",
    "PseudonymKeyDestruction",
    "RandomisationBlock",
    "ReadLogEntry",
    "ReadLogPurge",
    "ReadLogSubject",
    "RecoveryCode",
    "RetentionRun",
    "RetentionSchedule",
    "SchedulerLock",
    "Site",
    "SourceKey",
    "StratumState",
    "Trial",
    "TrialArm",
    "User",
    "UserTotp",
]
