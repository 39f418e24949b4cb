"""Navigation registry: each capability adds its pages to the menu with the roles that see them."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask_login import current_user


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str  # English msgid, translated in the template
    roles: frozenset
    order: int = 100


def add_nav(app: Flask, endpoint: str, label: str, roles, order: int = 100) -> None:
    app.extensions.setdefault("nav", []).append(NavItem(endpoint, label, frozenset(roles), order))


def init_nav(app: Flask) -> None:
    @app.context_processor
    def _nav():
        def nav_items():
            if not current_user.is_authenticated:
                return []
            items = [i for i in app.extensions.get("nav", []) if current_user.role.value in i.roles
                     and i.endpoint in app.view_functions]
            return sorted(items, key=lambda i: i.order)

        return {"nav_items": nav_items}
