"""Extension points of a device's life: what other capabilities add to registration and to its steps.

Devices and the lifecycle know nothing of labels, intake batches or wiping. A capability that has
something to check or do at a device's step registers it here from its ``hooks.register(app)``,
called for every capability at app creation (``asset_tracker.create_app``, discovered by
``asset_tracker.capabilities``). The registry is kept per application in ``app.extensions``.

- ``facts``: providers ``fn(device, *, wipe_evidence, wipe_check) -> dict`` of extra `lifecycle.Facts`
  fields the guards read (wiping: the media cleared since the device's reception, the second-person check).
- ``on_enter[state]``: hooks ``fn(device, *, actor) -> dict`` run in the transaction as a device enters
  ``state``, before its custody event; what they return joins the event's details (wiping: the draw of
  the second-person check as a device becomes `wiped`).
- ``batch``: ``fn(batch_id, donor_organisation_id, *, actor) -> batch`` (intake): the batch a device is
  registered into, checked (in scope, of this donor, open); the batch's ``workshop_organisation_id`` is read.
- ``tag_claim``: ``fn(tag, donor_organisation_id)`` (labels): binds a blank pre-printed tag issued to
  this donor, or raises.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from ..lifecycle import State

_KEY = "device_extension_points"


@dataclass
class ExtensionPoints:
    facts: list[Callable[..., dict]] = field(default_factory=list)
    on_enter: dict[State, list[Callable[..., dict]]] = field(default_factory=dict)
    batch: Callable[..., Any] | None = None
    tag_claim: Callable[[str, int], None] | None = None


def points(app: Flask | None = None) -> ExtensionPoints:
    """The extension points of ``app`` (the current application by default)."""
    app = app or current_app
    return app.extensions.setdefault(_KEY, ExtensionPoints())


def add_facts(app: Flask, provider: Callable[..., dict]) -> None:
    if provider not in points(app).facts:
        points(app).facts.append(provider)


def on_enter(app: Flask, state: State, hook: Callable[..., dict]) -> None:
    hooks = points(app).on_enter.setdefault(State(state), [])
    if hook not in hooks:
        hooks.append(hook)


def set_batch_resolver(app: Flask, resolver: Callable[..., Any]) -> None:
    points(app).batch = resolver


def set_tag_claim(app: Flask, claim: Callable[[str, int], None]) -> None:
    points(app).tag_claim = claim

