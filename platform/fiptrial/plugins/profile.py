"""What an export holds, per column, in counts only: ``fiptrial plugins check NAME --sample``.

A municipality's application manager checks a real export before the first import. The report
must help without exposing anybody, so it holds counts and codes only: per field (named as the
export names it) how many values were valid, invalid or empty, and the local end-of-benefit
codes the mapping does not know, with how often each occurs. No BSN, date or other value of a
person ever appears; an unmapped code is shown through
:func:`~fiptrial.plugins.parsing.quoted`, which withholds anything that could identify one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from fiptrial.plugins.parsing import quoted
from fiptrial.plugins.rows import ExportRow, RowError

#: The ExportRow fields the report counts, in ExportRow order.
PROFILED = tuple(name for name in ExportRow._fields if name not in ("line", "errors"))
#: Fields that are empty on purpose while a benefit runs.
MAY_BE_EMPTY = ("benefit_end", "local_reason", "new_municipality")


@dataclass
class FieldCounts:
    valid: int = 0
    invalid: int = 0
    empty: int = 0

    @property
    def seen(self) -> int:
        return self.valid + self.invalid + self.empty


@dataclass
class ExportProfile:
    """Counts of one export, without any value in it."""

    rows: int = 0
    rows_with_errors: int = 0
    fields: dict[str, FieldCounts] = field(default_factory=dict)
    unmapped: Counter[str] = field(default_factory=Counter)
    errors_by_code: Counter[str] = field(default_factory=Counter)

    def lines(self, labels: Mapping[str, str]) -> list[str]:
        """The report, one line per field the export has, then the unmapped codes."""
        out = []
        for name in PROFILED:
            counts = self.fields.get(name)
            if counts is None or (name not in labels and counts.valid + counts.invalid == 0):
                continue
            label = labels.get(name, name)
            out.append(
                f"column {label}: {counts.valid} valid, {counts.invalid} invalid, "
                f"{counts.empty} empty"
            )
        if self.unmapped:
            codes = ", ".join(f"{quoted(code)} ({n})" for code, n in self.unmapped.most_common())
            out.append(f"unmapped local codes: {codes}")
        else:
            out.append("unmapped local codes: none")
        return out


def _field_of(error: str, names: list[str], labels: Mapping[str, str]) -> str | None:
    """The field an error is about: a RowError says so; a plain text of a Python plugin is
    taken to be about the field whose name (or column) it starts with."""
    if isinstance(error, RowError):
        return error.field
    text = error.casefold()
    for name in names:
        if text.startswith((name.casefold(), labels.get(name, name).casefold())):
            return name
    return None


def profile_rows(
    rows: Iterable[ExportRow],
    is_unmapped: Callable[[str, str | None], bool],
    labels: Mapping[str, str],
) -> ExportProfile:
    """Count each field of ``rows``; ``is_unmapped(code, new_municipality)`` says whether the
    mapping lacks a local code. Only the fields in ``labels`` are counted when it is given."""
    profile = ExportProfile()
    names = [name for name in PROFILED if not labels or name in labels]
    for name in names:
        profile.fields[name] = FieldCounts()
    counts = [(name, profile.fields[name]) for name in names]
    for row in rows:
        profile.rows += 1
        invalid = {_field_of(e, names, labels) for e in row.errors}
        if row.errors:
            profile.rows_with_errors += 1
            for error in row.errors:
                profile.errors_by_code[getattr(error, "code", "row_error")] += 1
        for name, fc in counts:
            if name in invalid:
                fc.invalid += 1
            elif getattr(row, name) is None:
                fc.empty += 1
            else:
                fc.valid += 1
        reason = row.local_reason
        if reason and not row.errors and is_unmapped(reason, row.new_municipality):
            profile.unmapped[reason] += 1
    return profile
