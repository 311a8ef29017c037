"""Conversation planning: when does each FIP client talk with their client manager?

The rules come from the pilot report, chapter 3. The package, bottom up:

- ``rules``: a trial's planning parameters (``PlanRules``) and their limits;
- ``calendar``: the working days of a site (``WorkingCalendar``);
- ``manager_agenda``: one client manager's load per working day and the next day with room;
- ``planner``: the in-memory core that plans a batch of clients (no database access);
- ``storage``: loading the managers' existing load, writing plans, the plan and agenda reads;
- ``replanning``: a missed, moved or handed-over conversation, a closing day, new rules.

Callers use the names re-exported here (``planning.plan_site``, ``planning.agenda``, ...).
"""

from fiptrial.services.planning.calendar import (
    WorkingCalendar,
    is_working_day,
    national_closing_days,
)
from fiptrial.services.planning.manager_agenda import ManagerAgenda, place
from fiptrial.services.planning.planner import ClientToPlan, Slot, plan_clients
from fiptrial.services.planning.replanning import (
    MOVE_REASONS,
    cancel_open_conversations,
    mark_overdue,
    move_conversation,
    move_off_day,
    move_open_conversations,
    reconfigure_trial,
    replan_following,
)
from fiptrial.services.planning.rules import (
    CATCH_UP_DAYS,
    PLAN_FIELDS,
    SLACK_DAYS,
    PlanRules,
    plan_period_end,
    validate_rules,
)
from fiptrial.services.planning.storage import (
    agenda,
    clients_to_plan,
    plan_site,
    site_plan,
    write_plan,
)

__all__ = [
    "CATCH_UP_DAYS",
    "MOVE_REASONS",
    "PLAN_FIELDS",
    "SLACK_DAYS",
    "ClientToPlan",
    "ManagerAgenda",
    "PlanRules",
    "Slot",
    "WorkingCalendar",
    "agenda",
    "cancel_open_conversations",
    "clients_to_plan",
    "is_working_day",
    "mark_overdue",
    "move_conversation",
    "move_off_day",
    "move_open_conversations",
    "national_closing_days",
    "place",
    "plan_clients",
    "plan_period_end",
    "plan_site",
    "reconfigure_trial",
    "replan_following",
    "site_plan",
    "validate_rules",
    "write_plan",
]
