"""Numbered pages for the web lists, through Flask-SQLAlchemy's pagination.

A page number past the end shows the last page (a link kept from a longer list still lands
on rows), and an empty list has one empty page, so the pager always has a page to show.
"""

from __future__ import annotations

from typing import Any

from flask_sqlalchemy.pagination import Pagination

PAGE_SIZE = 50


def page_of(query: Any, page: int, per_page: int = PAGE_SIZE) -> Pagination:
    """``query`` (a Flask-SQLAlchemy ``Query``, ordered) cut to page ``page`` of ``per_page``."""
    pagination = query.paginate(page=max(1, page), per_page=per_page, error_out=False)
    if pagination.page > max(1, pagination.pages):
        pagination = query.paginate(page=pagination.pages, per_page=per_page, error_out=False)
    return pagination


def page_count(pagination: Pagination) -> int:
    """The number of pages, at least one."""
    return max(1, pagination.pages)
