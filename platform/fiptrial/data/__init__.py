"""Codelists and tables shipped with the platform (facts from ../shared/domain)."""
