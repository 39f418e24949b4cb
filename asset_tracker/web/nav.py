"""Navigation registry: each capability adds its pages to the menu with the roles that see them and a group."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask_login import current_user

from ..lifecycle import N_

# Menu groups in display order (English msgids, translated in the template). A capability's NAV entry
# names one of these as its fifth value; an entry without a group is a link of its own.
GROUPS = (
    ("workshop", N_("Workshop")),
    ("wiping", N_("Wiping")),
    ("distribution", N_("Distribution")),
    ("reports", N_("Audit and reports")),
    ("admin", N_("Administration")),
)


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str  # English msgid, translated in the template
    roles: frozenset
    order: int = 100
    group: str | None = None


@dataclass(frozen=True)
class NavGroup:
    key: str
    label: str
    items: tuple[NavItem, ...]


def add_nav(app: Flask, endpoint: str, label: str, roles, order: int = 100, group: str | None = None) -> None:
    if group is not None and group not in dict(GROUPS):
        raise ValueError(f"unknown menu group {group!r} for {endpoint}")
    app.extensions.setdefault("nav", []).append(NavItem(endpoint, label, frozenset(roles), order, group))


def visible_items(app: Flask, role: str) -> list[NavItem]:
    items = [i for i in app.extensions.get("nav", []) if role in i.roles and i.endpoint in app.view_functions]
    return sorted(items, key=lambda i: i.order)


def menu_for(app: Flask, role: str) -> list[NavItem | NavGroup]:
    """The menu of a role: loose links and groups, a group of one entry shown as that entry."""
    items = visible_items(app, role)
    entries: list[NavItem | NavGroup] = [i for i in items if i.group is None]
    for key, label in GROUPS:
        members = tuple(i for i in items if i.group == key)
        if len(members) == 1:
            entries.append(members[0])
        elif members:
            entries.append(NavGroup(key, label, members))
    return entries


def init_nav(app: Flask) -> None:
    @app.context_processor
    def _nav():
        def nav_items():
            if not current_user.is_authenticated:
                return []
            return visible_items(app, current_user.role.value)

        def nav_menu():
            if not current_user.is_authenticated:
                return []
            return menu_for(app, current_user.role.value)

        return {"nav_items": nav_items, "nav_menu": nav_menu}
