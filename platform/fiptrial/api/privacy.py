"""/api/v1/read-log: search the read log (research admin and FG)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask_smorest import Blueprint

from fiptrial.api.auth import requires
from fiptrial.schemas import ReadLogArgsSchema, ReadLogPageSchema
from fiptrial.services import readlog

ENTRY_FIELDS = (
    "id",
    "recorded_at",
    "actor",
    "role",
    "action",
    "channel",
    "endpoint",
    "path",
    "query",
    "status",
    "site",
    "participants",
)

blp = Blueprint("read_log", __name__, url_prefix="/api/v1", description="Read log")


def _utc(moment: Any) -> Any:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@blp.get("/read-log")
@requires("readlog.read")
@blp.arguments(ReadLogArgsSchema, location="query")
@blp.response(200, ReadLogPageSchema)
def search_read_log(args: dict[str, Any]) -> dict[str, Any]:
    """Entries newest first: who read what, when, and which participants or which query."""
    page = readlog.search(
        readlog.ReadLogFilters(
            actor=args["actor"],
            action=args["action"],
            participant_id=args["participant_id"],
            site=args["site"],
            since=_utc(args["since"]),
            until=_utc(args["until"]),
            page=args["page"],
            page_size=args["page_size"],
        )
    )
    return {
        "entries": [
            {
                **{name: getattr(row.entry, name) for name in ENTRY_FIELDS},
                "participant_ids": row.participant_ids,
            }
            for row in page.rows
        ],
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
    }
