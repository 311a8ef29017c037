"""The ISD's reason table at go-live, written out by hand from the ISD's list (not read from
the plugin's data file): local reason code -> bus code. The plugin's tests hold its mapping to it,
and the platform's synthetic flow (tests/imports/test_synthetic_flow.py) computes its expected
counts with it."""

GO_LIVE = {
    "STU": "01", "REL": "02", "AOW": "03", "OVL": "04", "DET": "05", "OND": "06", "BUI": "07",
    "ARB": "11", "ZW": "11", "ZZP": "13", "WW": "14", "WIA": "15", "ALI": "17", "VRM": "18",
    "INK": "19", "GIL": "31", "VHG": "32", "VHB": "33", "NVI": "34", "NVR": "35", "PAR": "97",
    "OVR": "98", "WLA": "11", "KUN": "13",
}  # fmt: skip
