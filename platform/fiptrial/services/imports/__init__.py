"""Importing municipal exports: the caseload (participants) and the outcomes.

Both imports read the export through the site's plugin, stream it (a million rows cost the
memory of a thousand), hash it before anything else so that the same file twice is a no-op,
and commit the valid rows of a file in one transaction or not at all. The API, the CLI and the
benchmarks all call these functions.
"""

from fiptrial.services.imports.common import ExportFile, list_batches
from fiptrial.services.imports.outcomes import import_outcomes, participant_outcomes
from fiptrial.services.imports.participants import import_participants

__all__ = [
    "ExportFile",
    "import_outcomes",
    "import_participants",
    "list_batches",
    "participant_outcomes",
]
