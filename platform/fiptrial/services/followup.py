"""Follow-up rounds of outcome collection, notifications, and the AOW watch.

Each site sends an outcome export per period (monthly during the follow-up years by default).
The scheduler opens the round for the period, and flags the site when the export has not
arrived by the deadline; the outcome import calls :func:`mark_export_received` when a batch
arrives. Everything here is idempotent: running a job twice stores each round and each
notification once (unique keys), so a re-run after a crash only finishes what is missing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from fiptrial.errors import NotFound
from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    CaseloadAssignment,
    FollowupRound,
    Notification,
    Participant,
    PlannedConversation,
    Site,
    User,
)
from fiptrial.models.conversations import OPEN_STATUSES, OVERDUE
from fiptrial.services import audit
from fiptrial.services.transaction import insert_ignoring_conflict, locked, unit_of_work

EXPORT_DEADLINE_DAYS = 10  # the export of a month is due on the 10th of the next month
AOW_WATCH_MONTHS = 3


def notify(
    key: str,
    *,
    kind: str,
    title: str,
    data: dict[str, Any],
    user_id: int | None = None,
    site_id: int | None = None,
) -> None:
    """Store a notification once per ``key`` (INSERT ... ON CONFLICT DO NOTHING)."""
    insert_ignoring_conflict(
        Notification,
        {
            "key": key,
            "kind": kind,
            "title": title,
            "data": data,
            "user_id": user_id,
            "site_id": site_id,
        },
        ["key"],
    )


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def followup_window(site: Site) -> tuple[date, date] | None:
    """First and last day of the site's follow-up (trial start to start + followup_years)."""
    trial = site.trial
    if trial.start_date is None:
        return None
    return trial.start_date, trial.start_date + relativedelta(years=trial.followup_years)


def open_rounds(today: date, site_ids: list[int] | None = None) -> dict[str, int]:
    """Open the round of the previous month at every site in follow-up, flag late exports.

    The round for month M opens on the first of M+1 with its deadline on the
    ``EXPORT_DEADLINE_DAYS``-th; a round still open after its deadline becomes "late" and the
    site's coordinators get a notification. Caller's transaction.
    """
    opened = flagged = 0
    sites = db.session.query(Site).order_by(Site.id)
    if site_ids is not None:
        sites = sites.filter(Site.id.in_(site_ids))
    for site in sites:
        window = followup_window(site)
        first_of_month = today.replace(day=1)
        period_day = first_of_month - relativedelta(months=1)
        if window is not None and window[0] <= first_of_month and period_day < window[1]:
            period = period_of(period_day)
            exists = (
                db.session.query(FollowupRound.id).filter_by(site_id=site.id, period=period).first()
            )
            if exists is None:
                insert_ignoring_conflict(
                    FollowupRound,
                    {
                        "site_id": site.id,
                        "period": period,
                        "opened_on": today,
                        "deadline": first_of_month + timedelta(days=EXPORT_DEADLINE_DAYS - 1),
                        "status": "open",
                    },
                    ["site_id", "period"],
                )
                opened += 1
        late = locked(
            db.session.query(FollowupRound).filter(
                FollowupRound.site_id == site.id,
                FollowupRound.status == "open",
                FollowupRound.deadline < today,
            )
        ).all()
        for round_ in late:
            round_.status = "late"
            round_.flagged_on = today
            flagged += 1
            notify(
                f"export_late:{site.id}:{round_.period}",
                kind="export_late",
                title=f"Outcome export {round_.period} of {site.code} has not arrived",
                data={
                    "site": site.code,
                    "period": round_.period,
                    "deadline": round_.deadline.isoformat(),
                },
                site_id=site.id,
            )
            audit.record_about(
                "followup.export_late",
                round_,
                actor="scheduler",
                site=site.code,
                data={"period": round_.period, "deadline": round_.deadline.isoformat()},
            )
    db.session.flush()
    return {"opened": opened, "flagged": flagged}


def mark_export_received(site: Site | str, on_date: date, batch_id: str) -> FollowupRound | None:
    """Called by the outcome import: the export for the period before ``on_date`` arrived.

    Closes the most recent round of the site that is open or late (a late export still
    counts as received, with its date). Returns it, or None when no round is waiting.
    Runs inside the caller's transaction when there is one, so the import and this mark
    commit together.
    """
    if isinstance(site, str):
        found = db.session.query(Site).filter_by(code=site).one_or_none()
        if found is None:
            raise NotFound(f"site {site} does not exist")
        site = found
    round_ = (
        locked(
            db.session.query(FollowupRound).filter(
                FollowupRound.site_id == site.id,
                FollowupRound.status.in_(("open", "late")),
                FollowupRound.opened_on <= on_date,
            )
        )
        .order_by(FollowupRound.period.desc())
        .first()
    )
    if round_ is None:
        return None
    round_.status = "received"
    round_.export_received_on = on_date
    round_.batch_id = batch_id
    audit.record_about(
        "followup.export_received",
        round_,
        actor="import",
        site=site.code,
        data={"period": round_.period, "batch_id": batch_id, "on": on_date.isoformat()},
    )
    db.session.flush()
    return round_


def mark_export_received_now(site: Site | str, on_date: date, batch_id: str) -> Any:
    """:func:`mark_export_received` as its own unit of work (for the CLI and tests)."""
    with unit_of_work():
        return mark_export_received(site, on_date, batch_id)


def weekly_agendas(today: date) -> dict[str, int]:
    """Per client manager: the coming week's agenda and the overdue list, as notifications.

    The key holds the ISO week, so a second run in the same week stores nothing new.
    """
    year, week, _ = today.isocalendar()
    week_end = today + timedelta(days=7)
    stored = 0
    managers = (
        db.session.query(User).filter_by(role="client_manager", active=True).order_by(User.id)
    )
    for manager in managers:
        coming = db.session.execute(
            select(
                PlannedConversation.participant_id,
                PlannedConversation.planned_date,
                PlannedConversation.sequence,
                PlannedConversation.minutes,
            )
            .where(
                PlannedConversation.client_manager_id == manager.id,
                PlannedConversation.status.in_(OPEN_STATUSES),
                PlannedConversation.planned_date >= today,
                PlannedConversation.planned_date < week_end,
            )
            .order_by(PlannedConversation.planned_date)
        ).all()
        overdue = db.session.execute(
            select(
                PlannedConversation.participant_id,
                PlannedConversation.planned_date,
                PlannedConversation.sequence,
            )
            .where(
                PlannedConversation.client_manager_id == manager.id,
                PlannedConversation.status == OVERDUE,
            )
            .order_by(PlannedConversation.planned_date)
        ).all()
        notify(
            f"agenda:{manager.id}:{year}-W{week:02d}",
            kind="weekly_agenda",
            title=f"Your conversations in week {week}",
            data={
                "from": today.isoformat(),
                "to": (week_end - timedelta(days=1)).isoformat(),
                "conversations": [
                    {"participant": p, "date": d.isoformat(), "sequence": s, "minutes": m}
                    for p, d, s, m in coming
                ],
            },
            user_id=manager.id,
            site_id=manager.site_id,
        )
        stored += 1
        if overdue:
            notify(
                f"overdue:{manager.id}:{year}-W{week:02d}",
                kind="overdue",
                title=f"{len(overdue)} overdue conversations",
                data={
                    "conversations": [
                        {"participant": p, "date": d.isoformat(), "sequence": s}
                        for p, d, s in overdue
                    ]
                },
                user_id=manager.id,
                site_id=manager.site_id,
            )
            stored += 1
    return {"managers": managers.count(), "notifications": stored}


def aow_watch(today: date) -> dict[str, int]:
    """Participants reaching the state pension age within 3 months: one notification each.

    They will leave the benefit for that reason alone; their client manager (or the site)
    hears about it in time. Keyed per participant, so each is reported once.
    """
    horizon = today + relativedelta(months=AOW_WATCH_MONTHS)
    rows = db.session.execute(
        select(
            Participant.id,
            Participant.site_id,
            Participant.pension_age_date,
            CaseloadAssignment.client_manager_id,
        )
        .join(Allocation, Allocation.participant_id == Participant.id)
        .outerjoin(
            CaseloadAssignment,
            (CaseloadAssignment.participant_id == Participant.id)
            & CaseloadAssignment.ended_on.is_(None),
        )
        .where(
            Participant.pension_age_date >= today,
            Participant.pension_age_date <= horizon,
            Allocation.status == "active",
        )
    ).all()
    for pid, site_id, pension_date, manager_id in rows:
        notify(
            f"aow:{pid}",
            kind="aow_soon",
            title="Participant reaches the state pension age within 3 months",
            # The month only: the AOW date itself gives away the birth date.
            data={"participant": pid, "aow_month": f"{pension_date:%Y-%m}"},
            user_id=manager_id,
            site_id=site_id,
        )
    return {"participants": len(rows)}


def notifications_for(user: User) -> list[Notification]:
    return (
        db.session.query(Notification)
        .filter(Notification.user_id == user.id)
        .order_by(Notification.id.desc())
        .all()
    )
