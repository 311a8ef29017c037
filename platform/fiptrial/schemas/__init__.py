"""Request and response bodies of the JSON API (marshmallow); the OpenAPI document follows.

Response bodies about participants derive from :class:`PolicySchema`: whatever the view hands
them, they dump only the fields ``services.access.FIELD_POLICY`` grants the caller's role.

One module per area: ``base`` (ids, codes, moments, the error body, ``PolicySchema``),
``trials`` (set-up: trials, sites, consent forms, the audit check), ``participants``
(registration, consent, allocation), ``conversations``, ``imports`` (the upload, batches,
outcome events, spells), ``analysis`` (cut-off, freezes) and ``privacy`` (the read log). The
views import from here.
"""

from fiptrial.schemas.analysis import (
    AnalysisQuerySchema,
    FreezeSchema,
)
from fiptrial.schemas.base import (
    CODE,
    ID,
    ErrorDetailSchema,
    ErrorSchema,
    PolicySchema,
    UtcDateTime,
)
from fiptrial.schemas.conversations import (
    AgendaArgsSchema,
    AgreementCreateSchema,
    AgreementSchema,
    ConversationCreateSchema,
    ConversationSchema,
    DomainSchema,
    FollowupSchema,
    InterventionEndSchema,
    InterventionStartSchema,
    MoveSchema,
    NotificationSchema,
    PlannedConversationSchema,
)
from fiptrial.schemas.imports import (
    ImportBatchSchema,
    ImportJobSchema,
    ImportUploadSchema,
    OutcomeEventSchema,
    SpellCorrectionSchema,
    SpellSchema,
)
from fiptrial.schemas.participants import (
    AllocationPageSchema,
    AllocationSchema,
    CohortCreateSchema,
    CohortSchema,
    ConsentCreateSchema,
    ConsentEventSchema,
    CorrectionCreateSchema,
    PageArgsSchema,
    ParticipantCreatedSchema,
    ParticipantCreateSchema,
    ParticipantSchema,
)
from fiptrial.schemas.privacy import (
    ReadLogArgsSchema,
    ReadLogEntrySchema,
    ReadLogPageSchema,
)
from fiptrial.schemas.trials import (
    ArmSchema,
    AuditVerifySchema,
    ConsentFormCreateSchema,
    ConsentFormSchema,
    SiteCreateSchema,
    SiteSchema,
    SiteSummarySchema,
    TrialCreateSchema,
    TrialSchema,
)

__all__ = [
    "CODE",
    "ID",
    "AgendaArgsSchema",
    "AgreementCreateSchema",
    "AgreementSchema",
    "AllocationPageSchema",
    "AllocationSchema",
    "AnalysisQuerySchema",
    "ArmSchema",
    "AuditVerifySchema",
    "CohortCreateSchema",
    "CohortSchema",
    "ConsentCreateSchema",
    "ConsentEventSchema",
    "ConsentFormCreateSchema",
    "ConsentFormSchema",
    "ConversationCreateSchema",
    "ConversationSchema",
    "CorrectionCreateSchema",
    "DomainSchema",
    "ErrorDetailSchema",
    "ErrorSchema",
    "FollowupSchema",
    "FreezeSchema",
    "ImportBatchSchema",
    "ImportJobSchema",
    "ImportUploadSchema",
    "InterventionEndSchema",
    "InterventionStartSchema",
    "MoveSchema",
    "NotificationSchema",
    "OutcomeEventSchema",
    "PageArgsSchema",
    "ParticipantCreateSchema",
    "ParticipantCreatedSchema",
    "ParticipantSchema",
    "PlannedConversationSchema",
    "PolicySchema",
    "ReadLogArgsSchema",
    "ReadLogEntrySchema",
    "ReadLogPageSchema",
    "SiteCreateSchema",
    "SiteSchema",
    "SiteSummarySchema",
    "SpellCorrectionSchema",
    "SpellSchema",
    "TrialCreateSchema",
    "TrialSchema",
    "UtcDateTime",
]
