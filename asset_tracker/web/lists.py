"""The list toolkit every list page uses: whitelisted sorting, page size, pagination and CSV/XLSX export.

A page declares a ``ListSpec`` (its sort keys mapped to columns, its export columns) and calls
``list_page(spec, query, export_row=...)``: it answers the page's items, or the export of the current
filter when the query string asks ``export=csv|xlsx``. The template side is ``templates/_lists.html``
(``sort_header``, ``list_tools``, ``pager``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import request
from sqlalchemy import func, select

from ..audit.api import streamed
from ..audit.exports import Export
from ..extensions import db

EXPORT_FORMATS = ("csv", "xlsx")
PAGE_SIZES = (25, 50, 100, 200)
MAX_PER_PAGE = 500
TOOL_ARGS = ("sort", "dir", "export")  # query arguments of the toolkit, not of a page's filters


@dataclass(frozen=True)
class ListSpec:
    name: str  # the export's name (file and custody event)
    sorts: dict  # sort key (query string) -> column; only these keys are accepted
    default_sort: str
    default_desc: bool = False
    columns: tuple[str, ...] = ()  # export header
    page_sizes: tuple[int, ...] = PAGE_SIZES
    default_per_page: int = 50


@dataclass
class ListState:
    """What the query string asked for, after the whitelist: the template builds its links from it."""

    sort: str
    desc: bool
    page: int
    per_page: int
    page_sizes: tuple[int, ...] = PAGE_SIZES
    total: int = 0
    formats: tuple[str, ...] = field(default=EXPORT_FORMATS)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_state(spec: ListSpec, args=None) -> ListState:
    args = request.args if args is None else args
    sort = args.get("sort")
    if sort not in spec.sorts:
        sort, desc = spec.default_sort, spec.default_desc
    else:
        desc = args.get("dir") == "desc"
    try:
        page = max(1, int(args.get("page", 1)))
    except ValueError:
        page = 1
    try:
        per_page = int(args.get("per_page", spec.default_per_page))
    except ValueError:
        per_page = spec.default_per_page
    if not 1 <= per_page <= MAX_PER_PAGE:
        per_page = spec.default_per_page
    sizes = spec.page_sizes if per_page in spec.page_sizes else tuple(sorted({*spec.page_sizes, per_page}))
    return ListState(sort, desc, page, per_page, sizes)


def ordered(spec: ListSpec, query, state: ListState, tiebreak=None):
    """The query in the chosen order; a unique column breaks ties so pages never overlap."""
    column = spec.sorts[state.sort]
    order = [column.desc().nulls_last() if state.desc else column.asc().nulls_first()]
    if tiebreak is None:
        entity = query.column_descriptions[0].get("entity")
        tiebreak = getattr(entity, "id", None)
    if tiebreak is not None:
        order.append(tiebreak.desc() if state.desc else tiebreak.asc())
    return query.order_by(None).order_by(*order)


def paginate(query, state: ListState, *, count_query=None, session=None):
    """One page of ``query`` (already ordered) and the total count."""
    session = session or db.session
    counted = count_query if count_query is not None else query.order_by(None)
    state.total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    if state.page > state.pages:
        state.page = state.pages
    rows = session.execute(query.limit(state.per_page).offset((state.page - 1) * state.per_page))
    return rows.unique().scalars().all() if _is_entity_query(query) else rows.unique().all()


def _is_entity_query(query) -> bool:
    descriptions = query.column_descriptions
    return len(descriptions) == 1 and descriptions[0].get("entity") is not None \
        and descriptions[0].get("type") is descriptions[0].get("entity")


def export_format(args=None) -> str | None:
    fmt = (request.args if args is None else args).get("export")
    return fmt if fmt in EXPORT_FORMATS else None


def export_response(spec: ListSpec, query, export_rows: Callable, fmt: str, *, chunk: int = 2000):
    """The whole filtered list (not only the page) through the audit exports' formula-guarded writers,
    recorded in the custody log like every export. ``export_rows(items)`` turns a chunk into row tuples."""
    def pages(_conn, _chunk=chunk):
        offset = 0
        while True:
            rows = db.session.execute(query.limit(_chunk).offset(offset))
            items = rows.unique().scalars().all() if _is_entity_query(query) else rows.unique().all()
            if not items:
                return
            yield [tuple(row) for row in export_rows(items)]
            offset += _chunk

    filters = {k: v for k, v in request.args.items() if k not in ("export", "page", "per_page")}
    return streamed(Export(spec.name, spec.columns, pages), fmt, filters,
                    filename=f"{spec.name}.{fmt}")


def list_page(spec: ListSpec, query, *, export_row: Callable | None = None, export_rows: Callable | None = None,
              tiebreak=None, count_query=None):
    """``{"items", "list"}`` for the template, or the export response when ``export=csv|xlsx`` is asked.

    ``export_row(item)`` gives one export row; ``export_rows(items)`` a chunk's rows at once (one query for
    what the rows need, not one per row)."""
    state = list_state(spec)
    query = ordered(spec, query, state, tiebreak)
    fmt = export_format()
    if export_row is not None and export_rows is None:
        export_rows = lambda items: [export_row(item) for item in items]  # noqa: E731
    if fmt and export_rows is not None:
        return export_response(spec, query, export_rows, fmt)
    items = paginate(query, state, count_query=count_query)
    return {"items": items, "list": state}
