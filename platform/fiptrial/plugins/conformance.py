"""The platform's conformance checks for a site plugin, for the CLI and for pytest alike.

A municipality must be able to prove that its plugin is right before its data count. The same
checks run in ``fiptrial plugins check NAME`` and in a plugin's own test suite::

    from fiptrial.plugins.conformance import assert_plugin_conforms

    def test_plugin_conforms():
        assert_plugin_conforms("my_site")

Each check yields a :class:`CheckResult`; a failed one says which code or which municipality
is wrong, so the developer knows what to change.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

import pluggy

from fiptrial.plugins.manager import (
    PROBE_MUNICIPALITIES,
    Problem,
    SitePlugin,
    SitePluginError,
    build_plugin_manager,
    inspect_site_plugin,
    installed_plugin_names,
    site_folders,
    site_plugin_names,
)
from fiptrial.plugins.mapping import (
    HISTORIC_2010_CODES,
    MOVED_MUNICIPALITY,
    MappedReason,
    shared_codes,
)
from fiptrial.plugins.profile import profile_rows
from fiptrial.plugins.rows import ExportFormatError, ExportRow

__all__ = ["CHECKS", "CheckResult", "assert_plugin_conforms", "check_plugin", "failed_checks"]

#: Every check in report order, with what it proves.
CHECKS: Mapping[str, str] = {
    "loads": "the plugin loads and says who it is",
    "interface": "the plugin was written for this plugin interface version",
    "municipalities": "member municipalities are valid CBS codes",
    "mapping_version": "the mapping has a version and the plugin info agrees",
    "local_codes_unique": "no local code appears twice",
    "shared_codes": "every local code maps to a valid shared code",
    "historic_codes": "the 2010 codes (20, 21, 22, 51-53, 61, 62, 99) are mapped or rejected",
    "move_within_site": "a move inside the site is a transfer, not an exit",
    "sample_export": "the sample export parses",
}
_PROBLEM_CHECK = {
    "info": "loads",
    "mapping": "loads",
    "hooks": "loads",
    "interface": "interface",
    "municipalities": "municipalities",
    "mapping_version": "mapping_version",
    "local_codes_unique": "local_codes_unique",
    "shared_codes": "shared_codes",
}
#: A code that is no plugin's local code, to see that unknown codes are not guessed.
UNKNOWN_CODE = "FIPTRIAL-NO-SUCH-CODE"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``details`` names each failure, or summarises a pass."""

    name: str
    passed: bool
    details: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        return CHECKS[self.name]


def check_plugin(
    name: str,
    *,
    sample: Path | str | None = None,
    pm: pluggy.PluginManager | None = None,
    plugins: Mapping[str, object] | None = None,
    entry_points: bool = True,
    site_dirs: Iterable[str | os.PathLike[str]] = (),
) -> list[CheckResult]:
    """Run every conformance check on the site plugin ``name``; one result per check.

    Args:
        sample: an export file to parse instead of the plugin's shipped sample. Only its counts
            are reported, never its contents, so a real export may be used.
        pm: an existing plugin manager; by default one is built that loads only ``name`` from
            the installed entry points (plus ``plugins``), so another broken plugin does not
            hide this one's result.
        plugins: extra plugins by name, e.g. a test's fixture plugin.
        entry_points: load the installed plugin ``name`` (default) or not (fixtures only).
        site_dirs: folders of declarative sites to look for ``name`` in.
    """
    site_dirs = list(site_dirs)
    if pm is None:
        try:
            pm = build_plugin_manager(
                entry_points=name if entry_points else False,
                plugins=plugins,
                site_dirs=[folder for n, folder in site_folders(site_dirs).items() if n == name],
            )
        except SitePluginError as error:
            return _not_run([message for msgs in error.problems.values() for message in msgs])
    if name not in site_plugin_names(pm):
        known = sorted({*installed_plugin_names(), *site_folders(site_dirs)})
        where = ", ".join(str(d) for d in site_dirs) or "none given"
        return _not_run(
            [f"no site plugin named {name!r} is installed or in a site folder (known: "
             f"{', '.join(known) or 'none'}; site folders: {where})"]
        )  # fmt: skip
    site, problems = inspect_site_plugin(pm, name)
    results = _problem_results(problems)
    if site is None:
        reason = "; ".join(p.message for p in problems)
        return _complete(results, {}, f"not run: {reason}")
    checks: dict[str, Callable[[], list[str]]] = {
        "shared_codes": lambda: _mapping_results(site),
        "historic_codes": lambda: _historic(site),
        "move_within_site": lambda: _move_within_site(site),
    }
    for check, run in checks.items():
        failures = _guard(run)
        if failures:
            earlier = results[check].details if check in results else ()
            results[check] = CheckResult(check, False, (*earlier, *failures))
    results["sample_export"] = _sample_export(site, sample)
    return _complete(results, _summaries(site), "")


def assert_plugin_conforms(
    name: str,
    *,
    sample: Path | str | None = None,
    pm: pluggy.PluginManager | None = None,
    plugins: Mapping[str, object] | None = None,
    entry_points: bool = True,
    site_dirs: Iterable[str | os.PathLike[str]] = (),
) -> None:
    """Fail with every failed check named, for use in a plugin's pytest suite.

    Takes the arguments of :func:`check_plugin`.
    """
    __tracebackhide__ = True  # pytest shows the message, not this helper's frame
    results = check_plugin(
        name, sample=sample, pm=pm, plugins=plugins, entry_points=entry_points,
        site_dirs=site_dirs,
    )  # fmt: skip
    failed = failed_checks(results)
    if failed:
        lines = [f"{r.name}: {detail}" for r in failed for detail in r.details or ("failed",)]
        raise AssertionError(f"site plugin {name!r} does not conform:\n" + "\n".join(lines))


def failed_checks(results: list[CheckResult]) -> list[CheckResult]:
    return [result for result in results if not result.passed]


def _problem_results(problems: list[Problem]) -> dict[str, CheckResult]:
    by_check: dict[str, list[str]] = {}
    for problem in problems:
        by_check.setdefault(_PROBLEM_CHECK.get(problem.check, "loads"), []).append(problem.message)
    return {check: CheckResult(check, False, tuple(msgs)) for check, msgs in by_check.items()}


def _not_run(reasons: list[str]) -> list[CheckResult]:
    return _complete({"loads": CheckResult("loads", False, tuple(reasons))}, {}, "not run")


def _complete(
    results: dict[str, CheckResult], summaries: dict[str, str], missing: str
) -> list[CheckResult]:
    """One result per check in report order; checks that did not run fail when ``missing``."""
    ordered = []
    for check in CHECKS:
        if check in results:
            ordered.append(results[check])
        elif missing:
            ordered.append(CheckResult(check, False, (missing,)))
        else:
            summary = summaries.get(check)
            ordered.append(CheckResult(check, True, (summary,) if summary else ()))
    return ordered


def _summaries(site: SitePlugin) -> dict[str, str]:
    """What a passed check established, so the report shows more than a tick."""
    mapping = site.mapping
    rejected = sum(1 for e in mapping.entries if e.action == "reject")
    historic = "; ".join(
        f"{code} rejected"
        if entry.action == "reject"
        else f"{code} -> {entry.bus_code} ({entry.local_code})"
        for code, entry in sorted(mapping.historic_handling().items())
    )
    members = ", ".join(site.municipalities)
    kind = "declarative site" if site.is_declarative else "Python plugin"
    versions = ", ".join(
        f"{m.version} from {m.valid_from.isoformat()}" if m.valid_from else m.version
        for m in site.history
    )
    return {
        "loads": f"{site.name} {site.version} ({site.site_name}, {kind}), "
        f"mapping {site.mapping_version}",
        "interface": f"written for {site.info.api_version}; hooks are called on this plugin only",
        "municipalities": members or "none declared: the members come from the site settings",
        "mapping_version": f"{mapping.version} (fingerprint {mapping.fingerprint[:12]}); "
        f"history: {versions}",
        "local_codes_unique": f"{len(mapping.entries)} local codes",
        "shared_codes": f"{len(mapping.entries) - rejected} codes map to shared codes, "
        f"{rejected} are rejected, unknown codes stay unmapped",
        "historic_codes": historic,
        "move_within_site": "a move to a member municipality is a transfer, "
        "a move elsewhere an exit (32)",
    }


def _guard(run: Callable[[], list[str]]) -> list[str]:
    try:
        return run()
    except Exception as error:  # a crashing plugin is a failed check, not a crashed command
        return [f"raised {error!r}"]


def _mapping_results(site: SitePlugin) -> list[str]:
    """Ask ``map_reason`` itself, not the table: a plugin may override the default rule."""
    failures = []
    known = shared_codes()
    for entry in site.mapping.entries:
        result = site.map_reason(entry.local_code, None)
        if entry.action == "reject":
            if result.kind != "rejected":
                failures.append(
                    f"local code {entry.local_code!r} is rejected in the table but map_reason "
                    f"gives {result.kind}"
                )
        elif result.kind != "exit" or result.bus_code not in known:
            failures.append(
                f"local code {entry.local_code!r} gives {result.kind} {result.bus_code!r}, "
                "not an exit with a valid shared code"
            )
        elif result.bus_code != entry.bus_code:
            failures.append(
                f"local code {entry.local_code!r}: map_reason gives {result.bus_code} but the "
                f"table says {entry.bus_code}"
            )
    unknown = site.map_reason(UNKNOWN_CODE, None)
    if unknown.kind != "unmapped":
        failures.append(f"an unknown local code gives {unknown.kind}, not unmapped: never guess")
    return failures


def _historic(site: SitePlugin) -> list[str]:
    handled = site.mapping.historic_handling()
    return [
        f"historic code {code} ({meaning}) is neither mapped nor rejected; add a row with "
        f"{code} in historic_codes"
        for code, meaning in HISTORIC_2010_CODES.items()
        if code not in handled
    ]


def _move_within_site(site: SitePlugin) -> list[str]:
    members = site.municipalities or PROBE_MUNICIPALITIES
    outside = next(code for code in ("GM0363", "GM0599", "GM0344") if code not in members)
    moving = [e.local_code for e in site.mapping.entries if e.bus_code == MOVED_MUNICIPALITY]
    if not moving:
        return [f"no local code maps to {MOVED_MUNICIPALITY} (moved to another municipality)"]
    failures = []
    for code in moving:
        for member in members:
            inside = site.map_reason(code, member, members)
            if inside.kind != "transfer":
                failures.append(f"{code} with new municipality {member} gives {inside.kind}")
        away = site.map_reason(code, outside, members)
        if away.kind != "exit" or away.bus_code != MOVED_MUNICIPALITY:
            failures.append(f"{code} with new municipality {outside} (outside) gives {away.kind}")
    return failures


def _sample_export(site: SitePlugin, sample: Path | str | None) -> CheckResult:
    """Parse the whole sample; the shipped one must also be clean, a given file need not be.

    The details are counts only: rows by outcome, then per column the valid, invalid and empty
    values and the unmapped codes with their counts (:mod:`fiptrial.plugins.profile`) -- never
    a value, so that a real export may be checked.
    """
    source: Traversable | Path | None = Path(sample) if sample is not None else None
    shipped = source is None
    if source is None:
        try:
            source = site.sample_export()
        except Exception as error:
            return CheckResult("sample_export", False, (f"sample_export raised {error!r}",))
    if source is None:
        return CheckResult(
            "sample_export",
            False,
            ("the plugin ships no sample export; implement sample_export or pass --sample",),
        )
    mapper = site.reason_mapper()
    labels = site.field_labels()
    try:
        with source.open("rb") as handle:
            rows = _Tee(site.read_export(handle), mapper)
            profile = profile_rows(
                rows, lambda code, new: mapper(code, new).kind == "unmapped", labels
            )
    except ExportFormatError as error:
        return CheckResult("sample_export", False, (f"cannot be read: {error.message}",))
    except Exception as error:
        return CheckResult("sample_export", False, (f"reading raised {error!r}",))
    counts, errors = rows.counts, rows.errors
    summary = (
        f"{counts['rows']} rows: {counts['running']} running, {counts['exit']} exits, "
        f"{counts['transfer']} transfers within the site, {counts['rejected']} rejected codes, "
        f"{counts['errors']} with errors, {sum(profile.unmapped.values())} with unmapped codes"
    )
    failures = []
    if counts["rows"] == 0:
        failures.append("the sample has no rows")
    if shipped:
        failures += [f"line {line}: {message}" for line, message in errors[:20]]
        failures += [
            f"unmapped local code {code!r} ({n} rows)" for code, n in profile.unmapped.items()
        ]
    return CheckResult("sample_export", not failures, (*failures, summary, *profile.lines(labels)))


class _Tee:
    """Counts rows by outcome while the profile counts their fields: one pass over the file.

    Error texts are kept for the shipped sample only (they never hold a value either)."""

    def __init__(
        self, rows: Iterator[ExportRow], mapper: Callable[[str, str | None], MappedReason]
    ) -> None:
        self.rows = rows
        self.mapper = mapper
        self.counts: Counter[str] = Counter()
        self.errors: list[tuple[int, str]] = []

    def __iter__(self) -> Iterator[ExportRow]:
        counts = self.counts
        for row in self.rows:
            counts["rows"] += 1
            if row.errors:
                counts["errors"] += 1
                if len(self.errors) < 100:
                    self.errors.extend((row.line, str(message)) for message in row.errors)
            elif row.local_reason is None:
                counts["running"] += 1
            else:
                mapped = self.mapper(row.local_reason, row.new_municipality)
                counts[mapped.kind] += 1
                if mapped.kind == "rejected" and len(self.errors) < 100:
                    self.errors.append((row.line, mapped.reason))
            yield row
