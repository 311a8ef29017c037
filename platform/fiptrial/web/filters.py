"""The Jinja filters and globals the templates use: the formatters and the message catalogue.

Apart from both so that ``messages`` may use the formatters without a circle.
"""

from __future__ import annotations

from typing import Any

from fiptrial.web import messages
from fiptrial.web.formatting import (
    exit_reason_labels,
    format_date,
    format_datetime,
    format_money,
    format_number,
    format_share,
    format_stratum,
    municipality_name,
    person,
)


def register_filters(env: Any) -> None:
    """The Jinja filters the templates use."""
    env.filters.update(
        datum=format_date,
        datumtijd=format_datetime,
        getal=format_number,
        aandeel=format_share,
        geld=format_money,
        gemeente=municipality_name,
        persoon=person,
        stratum=format_stratum,
    )
    env.globals.update(
        afwijzing=messages.rejection_text,
        uitstroomreden=lambda code: exit_reason_labels().get(code, code),
    )
