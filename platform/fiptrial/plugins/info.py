"""What a site plugin says about itself (the ``site_plugin_info`` hook)."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A CBS municipality code as CBS writes it. There is no full CBS list on disk, so the platform
#: checks the form; GM0000 is refused because a copied template would otherwise slip through.
MUNICIPALITY_CODE = re.compile(r"GM\d{4}")
PLACEHOLDER_MUNICIPALITY = "GM0000"


def is_municipality_code(code: object) -> bool:
    """True for a code of the form ``GM`` + 4 digits that is not the placeholder GM0000."""
    return (
        isinstance(code, str)
        and MUNICIPALITY_CODE.fullmatch(code) is not None
        and code != PLACEHOLDER_MUNICIPALITY
    )


@dataclass(frozen=True)
class SitePluginInfo:
    """Who a site plugin is.

    Attributes:
        name: the name the plugin is registered under (its ``fiptrial.plugins`` entry-point
            name); the platform refuses a plugin whose info gives another name.
        version: the plugin's own version (its distribution version is a good choice).
        site_name: the site as people call it, e.g. "ISD Brabantse Wal".
        municipalities: member municipalities as CBS codes (``"GM0748"``). Empty means "the
            members come from the site's own settings" (the template works that way).
        mapping_version: version of the reason mapping the plugin ships; must equal the
            ``version`` of the current table its ``reason_mappings`` hook returns.
        description: optional longer text for ``fiptrial plugins list`` and the web pages.
        api_version: the plugin interface version the plugin was written for (``"2.0"``); the
            host refuses a plugin of another major version, or of a newer minor version, at
            start-up. Write the number itself, never ``PLUGIN_API_VERSION``: the check is there
            to catch a plugin that the platform has outgrown.
        benefit_statistic_codes: the BUS statistiekcodes (kenmerk 8) of the benefits in the
            site's export that the trial studies (``("01",)``: algemene bijstand). Informative
            for the checks; the trial's own settings decide what an import counts.
    """

    name: str
    version: str
    site_name: str
    municipalities: tuple[str, ...]
    mapping_version: str
    description: str = ""
    api_version: str = ""
    benefit_statistic_codes: tuple[str, ...] = ("01",)
