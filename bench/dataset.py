"""A realistic dataset built fast: devices in every state with their media, wipe records and custody chain.

The bulk path writes exactly the rows the services would write for the same history (same columns, same
event types and details, same canonical hashing through ``custody.services.event_hash``), but with
multi-row inserts on SQLite and COPY on PostgreSQL instead of one transaction per step. It only inserts:
the append-only triggers on ``custody_events`` stay in place.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import text

from asset_tracker.auth import services as auth
from asset_tracker.auth.models import User
from asset_tracker.core import Actor
from asset_tracker.custody import services as custody
from asset_tracker.custody.services import canonical_details, event_hash
from asset_tracker.db import clock
from asset_tracker.devices.models import Device
from asset_tracker.distribution.models import KitKind, Programme, ProgrammeTarget
from asset_tracker.extensions import db
from asset_tracker.intake.models import Batch, BatchStatus
from asset_tracker.lifecycle import State
from asset_tracker.organisations.models import Organisation, OrgKind
from asset_tracker.tags import format_tag

S = State
DAY = 86400.0
HOUR = 3600.0

ORGANISATIONS = [
    ("Métropole de Lyon", "programme_owner"),
    ("Métropole de Lyon — DSI", "donor"),
    ("Mairie de Lyon", "donor"),
    ("CAF du Rhône", "donor"),
    ("Préfecture du Rhône", "donor"),
    ("France Travail Auvergne-Rhône-Alpes", "donor"),
    ("Weeefund", "workshop"),
    ("Emmaüs Connect Lyon", "partner"),
    ("Collège Maria Casarès", "partner"),
    ("CCAS de Villeurbanne", "partner"),
    ("Recyclage DEEE Rhône", "recycler"),
]
PROGRAMMES = [("Collégiens — Cités éducatives 2026", 1000, "device", ["pupil"]),
              ("Kits inclusifs familles", 2000, "kit", ["family", "young_solidarity_income"])]
# Users the benchmark signs in as (e-mail, role, organisation).
BENCH_USERS = {
    "admin": ("admin@bench.reboot.example", "admin", "Métropole de Lyon"),
    "auditor": ("auditeur@bench.reboot.example", "auditor", "Métropole de Lyon"),
    "technician": ("technicien@bench.reboot.example", "technician", "Weeefund"),
}
TYPES = [("laptop", 60), ("desktop", 25), ("tablet", 7), ("phone", 6), ("monitor", 2)]
MODELS = {
    "laptop": [("Lenovo", "ThinkPad T480"), ("Dell", "Latitude 5490"), ("HP", "EliteBook 840 G5"),
               ("Lenovo", "ThinkPad L390"), ("Dell", "Latitude 7400")],
    "desktop": [("Dell", "OptiPlex 7060"), ("HP", "ProDesk 600 G4"), ("Lenovo", "ThinkCentre M720q")],
    "tablet": [("Samsung", "Galaxy Tab A7"), ("Apple", "iPad 7")],
    "phone": [("Samsung", "Galaxy A52"), ("Apple", "iPhone 8"), ("Fairphone", "Fairphone 3")],
    "monitor": [("Dell", "P2219H"), ("Iiyama", "ProLite E2282HS")],
}
# Final states of the devices: every state is present; the shares follow a programme a year in.
FINAL_STATES = [(S.REGISTERED, 8), (S.COLLECTED, 12), (S.RECEIVED, 10), (S.DIAGNOSED, 7), (S.WIPED, 6),
                (S.REFURBISHED, 5), (S.READY, 10), (S.RESERVED, 5), (S.HANDED_OVER, 24), (S.RETURNED, 3),
                (S.RECYCLED, 8), (S.LOST, 2)]
# How long a device has been in its final state, in days (uniform up to this): active steps are short.
DWELL_DAYS = {S.REGISTERED: 40, S.COLLECTED: 6, S.RECEIVED: 12, S.DIAGNOSED: 10, S.WIPED: 30, S.REFURBISHED: 10,
              S.READY: 90, S.RESERVED: 20, S.HANDED_OVER: 300, S.RETURNED: 10, S.RECYCLED: 300, S.LOST: 200}
# Time before each step, in hours (low, high).
GAP_HOURS = {S.COLLECTED: (72, 360), S.RECEIVED: (4, 48), S.DIAGNOSED: (2, 72), "wipe": (1, 24), S.WIPED: (1, 4),
             S.REFURBISHED: (4, 96), S.READY: (1, 24), S.RESERVED: (24, 480), S.HANDED_OVER: (24, 240),
             S.RETURNED: (24 * 20, 24 * 120), S.RECYCLED: (24, 240), S.LOST: (24, 120), "note": (1, 72)}
NOTES = ["Rayure sur le capot", "Batterie à 78 %", "Chargeur manquant", "Clavier AZERTY remplacé",
         "Écran avec pixel mort", "RAM passée à 8 Go", "Étiquette donateur retirée", "Charnière fragile"]
STATIONS = ["atelier-poste-1", "atelier-poste-2", "quai-reception"]
FIRST_LIFE = [S.COLLECTED, S.RECEIVED, S.DIAGNOSED, "wipe", S.WIPED, S.REFURBISHED, S.READY, S.RESERVED,
              S.HANDED_OVER, S.RETURNED]
NEXT_LIFE = [S.RECEIVED, S.DIAGNOSED, "wipe", S.WIPED, S.REFURBISHED, S.READY, S.RESERVED, S.HANDED_OVER,
             S.RETURNED]
LOOPABLE = frozenset(NEXT_LIFE) - {"wipe"}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(eq=False)
class Plan:
    """One device's history before it is replayed into rows."""

    index: int
    type: str
    final: State
    donor: int
    media: int
    lives: int = 1
    notes: int = 0
    steps: list = field(default_factory=list)

    def event_count(self) -> int:
        return sum(self.media or 1 if s == "wipe" else 1 for s in self.steps) + 1 + self.notes


@dataclass
class Built:
    devices: int
    events: int
    seconds: float
    verify_seconds: float
    verify_checked: int
    counts: dict
    tokens: dict

    def as_dict(self) -> dict:
        return {"devices": self.devices, "events": self.events, "build_s": round(self.seconds, 2),
                "verify_in_process_s": round(self.verify_seconds, 3), "verify_checked": self.verify_checked,
                "states": self.counts}


def _path(plan: Plan, rng: random.Random) -> list:
    final = plan.final
    if final == S.REGISTERED:
        return []
    if final == S.RECYCLED:
        return [S.COLLECTED, S.RECEIVED, S.DIAGNOSED, "wipe", S.WIPED, S.RECYCLED]
    if final == S.LOST:
        if rng.random() < 0.6:
            return [S.COLLECTED, S.LOST]
        return FIRST_LIFE[: FIRST_LIFE.index(S.HANDED_OVER) + 1] + [S.LOST]
    if plan.lives > 1:
        path = list(FIRST_LIFE) + NEXT_LIFE * (plan.lives - 2)
        return path + NEXT_LIFE[: NEXT_LIFE.index(final) + 1]
    return FIRST_LIFE[: FIRST_LIFE.index(final) + 1]


def plan_devices(
    count: int, events_target: int, setup_events: int, rng: random.Random, donors: list[int]
) -> list[Plan]:
    """Choose every device's type, final state and number of lives so the chain totals ``events_target``."""
    states, weights = zip(*FINAL_STATES, strict=False)
    types, type_weights = zip(*TYPES, strict=False)
    finals = rng.choices(states, weights, k=count)
    kinds = rng.choices(types, type_weights, k=count)
    plans = []
    for i in range(count):
        kind = kinds[i]
        media = 0 if kind == "monitor" else (2 if kind == "desktop" and rng.random() < 0.15 else 1)
        plans.append(Plan(i, kind, finals[i], donors[i % len(donors)], media))
    for p in plans:
        p.steps = _path(p, rng)
    total = setup_events + sum(p.event_count() for p in plans)
    # Devices handed over before may have been returned and handed over again: add lives until close.
    loopable = [p for p in plans if p.final in LOOPABLE]
    while loopable and events_target - total > 14 * 4:
        k = rng.randrange(len(loopable))
        p = loopable[k]
        before = p.event_count()
        p.lives += 1
        p.steps = _path(p, rng)
        total += p.event_count() - before
        if p.lives >= 4:
            loopable[k] = loopable[-1]
            loopable.pop()
    # The rest are technicians' notes on devices already registered.
    while total < events_target:
        rng.choice(plans).notes += 1
        total += 1
    return plans


def _imei(rng: random.Random) -> str:
    body = "35" + "".join(rng.choice("0123456789") for _ in range(12))
    total = 0
    for i, ch in enumerate(body + "0"):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


class _Setup:
    """Organisations, users, programmes and batches, made through the models and services."""

    def __init__(self, app, batches: int, start: dt.datetime):
        system = Actor.system("bench")
        clock.frozen = start
        try:
            self.orgs = {}
            for name, kind in ORGANISATIONS:
                org = Organisation(name=name, kind=OrgKind(kind), contact_email=f"contact@{kind}.bench.example")
                db.session.add(org)
                db.session.flush()
                custody.record("organisation_created", actor=system,
                               details={"organisation_id": org.id, "name": name, "kind": kind})
                self.orgs[name] = org
            db.session.commit()
            self.users = {}
            policy = auth.PasswordPolicy.of(app.config)
            for key, (email, role, org) in BENCH_USERS.items():
                self.users[key] = auth.create_user(email, role=role, organisation_id=self.orgs[org].id, actor=system,
                                                   name=key.title(), policy=policy)
            self.donors = [o for o in self.orgs.values() if o.kind == OrgKind.DONOR]
            self.partners = [o for o in self.orgs.values() if o.kind == OrgKind.PARTNER]
            for i, org in enumerate(self.donors):
                self.users[f"donor{i}"] = auth.create_user(f"donateur{i}@bench.reboot.example", role="donor",
                                                           organisation_id=org.id, actor=system, policy=policy)
            for i, org in enumerate(self.partners):
                self.users[f"partner{i}"] = auth.create_user(f"coordination{i}@bench.reboot.example",
                                                             role="coordinator", organisation_id=org.id, actor=system,
                                                             policy=policy)
            owner = self.orgs["Métropole de Lyon"]
            self.programmes = []
            for name, target, unit, categories in PROGRAMMES:
                p = Programme(name=name, owner_organisation_id=owner.id, beneficiary_categories=categories,
                              targets=[ProgrammeTarget(unit=unit, count=target)],
                              kit_kinds=[KitKind(code="kit", name="Kit", device_types=[],
                                                 accessory_kinds=["mobile_key"])] if unit == "kit" else [])
                p.partners = list(self.partners)
                db.session.add(p)
                db.session.flush()
                custody.record("programme_created", actor=system,
                               details={"programme_id": p.id, "name": name,
                                        "targets": [{"unit": unit, "count": target}]})
                self.programmes.append(p.id)
            db.session.commit()
            self.batches = {o.id: [] for o in self.donors}
            for i in range(batches):
                donor = self.donors[i % len(self.donors)]
                b = Batch(name=f"{donor.name} — collecte {i // len(self.donors) + 1}", donor_organisation_id=donor.id,
                          workshop_organisation_id=self.orgs["Weeefund"].id, status=BatchStatus.OPEN,
                          declared_counts={}, contact_name="Service logistique")
                db.session.add(b)
                db.session.flush()
                custody.record("batch_created", actor=system, details={"batch_id": b.id, "name": b.name})
                self.batches[donor.id].append(b.id)
            db.session.commit()
        finally:
            clock.frozen = None
        self.workshop = self.orgs["Weeefund"].id
        self.recycler = self.orgs["Recyclage DEEE Rhône"].id
        self.tech = Actor.of(self.users["technician"])
        self.user_ids = {key: user.id for key, user in self.users.items()}
        self.donor_actor = {o.id: Actor.of(self.users[f"donor{i}"]) for i, o in enumerate(self.donors)}
        self.partner_actor = {o.id: Actor.of(self.users[f"partner{i}"]) for i, o in enumerate(self.partners)}
        self.partner_ids = [o.id for o in self.partners]


def _us(t: float) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(t * 1_000_000))


class _Replay:
    """Replays a plan the way the services would, collecting rows and events."""

    def __init__(self, setup: _Setup, rng: random.Random, now: float, prefix: str, width: int):
        self.s, self.rng, self.now, self.prefix, self.width = setup, rng, now, prefix, width
        self.devices, self.media, self.wipes, self.events = [], [], [], []
        self.medium_id = 0
        self.wipe_id = 0

    def device(self, plan: Plan) -> None:
        s, rng = self.s, self.rng
        device_id = plan.index + 1
        tag = format_tag(self.prefix, device_id, self.width)
        brand, model = rng.choice(MODELS[plan.type])
        serial = f"{brand[:2].upper()}{device_id:09d}"
        imei = _imei(rng) if plan.type == "phone" else None
        batch = rng.choice(s.batches[plan.donor]) if s.batches[plan.donor] else None
        verdict_final = rng.choice(("recycle", "parts")) if plan.final == S.RECYCLED else "refurbish"
        partner = rng.choice(s.partner_ids)
        programme = rng.choice(s.programmes)
        # Step times, then anchored so the last step is DWELL before now.
        gaps = [rng.uniform(*GAP_HOURS[step]) * HOUR for step in plan.steps]
        end = self.now - rng.uniform(60, DWELL_DAYS[plan.final] * DAY)
        span = sum(gaps)
        if end - span < self.now - 390 * DAY:  # long lives are squeezed into the programme's time
            factor = (end - (self.now - 390 * DAY)) / span
            gaps = [g * factor for g in gaps]
            span = sum(gaps)
        t = end - span
        times = []
        acc = t
        for g in gaps:
            acc += g
            times.append(acc)
        ev = self.events.append
        donor_actor = s.donor_actor[plan.donor]
        media_ids = []
        for _k in range(plan.media):
            self.medium_id += 1
            kind = ("emmc" if plan.type in ("tablet", "phone") else rng.choice(("ssd", "hdd", "nvme")))
            capacity = (32 if kind == "emmc" else rng.choice((128, 256, 500))) * 10**9
            mserial = f"DSK{self.medium_id:09d}" if kind != "emmc" else None
            self.media.append(
                (
                    self.medium_id,
                    device_id,
                    kind,
                    "Mémoire intégrée" if kind == "emmc" else "Disque interne",
                    mserial,
                    capacity,
                    t,
                )
            )
            media_ids.append((self.medium_id, mserial, kind, capacity))
        ev((t, "device_registered", device_id, tag, donor_actor, None, S.REGISTERED.value, None, plan.donor, None,
            None, {"type": plan.type, "brand": brand, "model": model, "serial": serial, "imei": imei,
                   "batch_id": batch, "media": plan.media}))
        st = {"state": S.REGISTERED, "state_since": t, "last_received_at": None, "no_media_statement_at": None,
              "verdict": None, "grade": None, "custodian": plan.donor, "programme_id": None, "partner_id": None,
              "recycler_id": None, "loan": False, "expected_return_on": None, "version": 1, "updated_at": t}
        for step, when in zip(plan.steps, times, strict=False):
            if step == "wipe":
                self._wipe(device_id, tag, media_ids, when, st)
            else:
                self._move(device_id, tag, step, when, st, plan, verdict_final, partner, programme)
        notes = None
        if plan.notes:
            # Technicians' notes land between registration and now; each records before and after.
            stamps = sorted(rng.uniform(t + 1, self.now - 1) for _ in range(plan.notes))
            for when in stamps:
                new = rng.choice(NOTES) + f" ({rng.randint(1, 99)})"
                ev((when, "device_updated", device_id, tag, s.tech, None, None, None, None, None, None,
                    {"changes": {"notes": {"before": notes, "after": new}}}))
                notes = new
                st["updated_at"] = max(st["updated_at"], when)
        self.devices.append({
            "id": device_id, "tag": tag, "type": plan.type, "brand": brand, "model": model, "serial": serial,
            "imei": imei, "specs": {"ram_gb": rng.choice((4, 8, 16)), "year": rng.randint(2014, 2022)},
            "notes": notes, "unit_value_cents": rng.choice((3000, 5000, 8000, 12000)), "state": st["state"].value,
            "state_since": st["state_since"], "last_received_at": st["last_received_at"],
            "no_media_statement_at": st["no_media_statement_at"], "verdict": st["verdict"], "grade": st["grade"],
            "donor_organisation_id": plan.donor, "custodian_organisation_id": st["custodian"], "batch_id": batch,
            # Every batch is Weeefund's, and Weeefund is the one workshop a device goes through.
            "workshop_organisation_id": s.workshop if batch is not None or st["state"] != S.REGISTERED else None,
            "programme_id": st["programme_id"], "partner_organisation_id": st["partner_id"],
            "recycler_organisation_id": st["recycler_id"], "loan": st["loan"],
            "expected_return_on": st["expected_return_on"], "created_at": t, "updated_at": st["updated_at"],
            "version": st["version"],
        })

    def _wipe(self, device_id, tag, media_ids, when, st) -> None:
        s, ev = self.s, self.events.append
        if not media_ids:
            st["no_media_statement_at"] = when
            ev((when, "no_media_statement", device_id, tag, s.tech, None, None, None, None, None, None, {}))
            return
        for k, (medium_id, mserial, kind, capacity) in enumerate(media_ids):
            self.wipe_id += 1
            at = when + k
            method, category = ("Fill With Zeros", "clear") if kind == "hdd" else ("Secure Erase", "purge")
            self.wipes.append((self.wipe_id, device_id, medium_id, category, method, capacity, at))
            ev((at, "wipe_recorded", device_id, tag, s.tech, None, None, None, None, None, None, {
                "wipe_record_id": self.wipe_id, "medium_id": medium_id, "medium_serial": mserial, "result": "passed",
                "nist_category": category, "method": method, "tool": "nwipe", "tool_version": "0.35",
                "evidence_sha256": None}))

    def _move(self, device_id, tag, target, when, st, plan, verdict_final, partner, programme) -> None:
        s, rng = self.s, self.rng
        actor, params, note, station = s.tech, {}, None, None
        if target in (S.COLLECTED, S.RECEIVED, S.DIAGNOSED, S.WIPED, S.REFURBISHED, S.READY, S.RECYCLED):
            station = rng.choice(STATIONS)
        if target == S.DIAGNOSED:
            params = {"verdict": verdict_final}
        elif target == S.READY:
            params = {"grade": rng.choice("AABBC")}
        elif target == S.RESERVED:
            actor = s.partner_actor[partner]
            params = {"programme_id": programme, "partner_organisation_id": partner}
        elif target == S.HANDED_OVER:
            actor = s.partner_actor[partner]
            loan = rng.random() < 0.3
            params = {"beneficiary_ref": f"EC-{rng.randint(10000, 99999)}", "beneficiary_category": "pupil",
                      "loan": loan, "expected_return_on": _us(when + rng.choice((60, 180, 365)) * DAY).date()
                      if loan else None}
        elif target == S.RETURNED:
            actor = s.partner_actor[st["partner_id"] or partner]
            note = "Rendu en fin d'année scolaire"
        elif target == S.RECYCLED:
            params = {"recycler_organisation_id": s.recycler, "disposal_reference": f"BSD-{device_id:08d}"}
        elif target == S.LOST:
            if st["state"] == S.HANDED_OVER:
                actor = s.partner_actor[st["partner_id"]]
            params = {"reason": "Non retrouvé lors de la tournée"}
        source = st["state"]
        custodian_before = st["custodian"]
        if target in (S.COLLECTED, S.RECEIVED):
            custodian = s.workshop
        elif target in (S.HANDED_OVER, S.RETURNED):
            custodian = st["partner_id"]
        elif target == S.RECYCLED:
            custodian = s.recycler
        elif target == S.LOST:
            custodian = None
        else:
            custodian = custodian_before
        st.update(state=target, state_since=when, updated_at=when, custodian=custodian, version=st["version"] + 1)
        if target == S.RECEIVED:
            st["last_received_at"] = when
        if target == S.DIAGNOSED:
            st["verdict"] = params["verdict"]
        if target == S.READY:
            st["grade"] = params["grade"]
            if source == S.RESERVED:
                st["programme_id"] = st["partner_id"] = None
        if target == S.RESERVED:
            st["programme_id"], st["partner_id"] = programme, partner
        if target == S.HANDED_OVER:
            st["loan"] = params["loan"]
            st["expected_return_on"] = params["expected_return_on"]
        if target in (S.RETURNED, S.RECEIVED, S.LOST):
            st["expected_return_on"] = None
        if target == S.RECYCLED:
            st["recycler_id"] = s.recycler
        details = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v)
                   for k, v in params.items() if v is not None and k != "beneficiary_ref"}
        self.events.append((when, "state_changed", device_id, tag, actor, source.value, target.value,
                            custodian_before, custodian, station, note, details))


# ---------------------------------------------------------------- writing


def _columns(table) -> list[str]:
    return [c.name for c in table.columns]


class _Writer:
    """Multi-row inserts on SQLite, COPY on PostgreSQL, on one raw connection and one transaction."""

    def __init__(self, engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        self.raw = engine.raw_connection()
        self.conn = self.raw.driver_connection
        if self.dialect == "sqlite":
            self.conn.execute("PRAGMA synchronous=OFF")
            self.conn.execute("BEGIN IMMEDIATE")
        self.cur = self.conn.cursor()

    def ts(self, t: float | None):
        if t is None:
            return None
        value = _us(t)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if self.dialect == "sqlite" else value

    def date(self, d):
        if d is None:
            return None
        return d.isoformat() if self.dialect == "sqlite" else d

    def json(self, value):
        return json.dumps(value)

    def write(self, table: str, columns: list[str], rows) -> int:
        n = 0
        if self.dialect == "sqlite":
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            chunk = []
            for row in rows:
                chunk.append(row)
                if len(chunk) >= 20000:
                    self.cur.executemany(sql, chunk)
                    n += len(chunk)
                    chunk = []
            if chunk:
                self.cur.executemany(sql, chunk)
                n += len(chunk)
            return n
        with self.cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        return n

    def execute(self, sql: str, params=()):
        if self.dialect == "sqlite":
            return self.cur.execute(sql, params)
        return self.cur.execute(sql.replace("?", "%s"), params)

    def commit(self):
        if self.dialect == "postgresql":
            for table in ("devices", "storage_media", "wipe_records", "custody_events"):
                self.cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
        if self.dialect == "sqlite":
            self.conn.execute("COMMIT")
        else:
            self.conn.commit()
        self.cur.close()
        self.raw.close()


def build(app, devices: int, events: int | None = None, *, seed: int = 2026, log=print) -> Built:
    """Fill the app's freshly migrated, empty database with ``devices`` devices and ``events`` custody events."""
    events = events or devices * 10
    started = time.perf_counter()
    rng = random.Random(seed)
    now = time.time() - 120
    prefix, width = app.config["TAG_PREFIX"], app.config["TAG_WIDTH"]
    with app.app_context():
        engine = db.engine
        head = db.session.execute(text("SELECT last_seq FROM custody_chain_head WHERE id = 1")).scalar()
        if head:
            raise RuntimeError("the dataset is built into an empty database (the custody chain is not empty)")
        setup = _Setup(app, batches=max(5, devices // 250), start=_us(now - 400 * DAY))
        setup_events, setup_hash = db.session.execute(
            text("SELECT last_seq, last_hash FROM custody_chain_head WHERE id = 1")).one()
        plans = plan_devices(devices, events, setup_events, rng, [o.id for o in setup.donors])
        replay = _Replay(setup, rng, now, prefix, width)
        for plan in plans:
            replay.device(plan)
        del plans
        log(f"  planned {devices:,} devices and {len(replay.events) + setup_events:,} events "
            f"in {time.perf_counter() - started:.1f}s")
        db.session.remove()

        w = _Writer(engine)
        tech = setup.tech
        dev_cols = _columns(Device.__table__)
        dev_rows = []
        for d in replay.devices:
            row = dict(d)
            row["specs"] = w.json(row["specs"])
            for k in ("state_since", "last_received_at", "no_media_statement_at", "created_at", "updated_at"):
                row[k] = w.ts(row[k])
            row["expected_return_on"] = w.date(row["expected_return_on"])
            if w.dialect == "sqlite":
                row["loan"] = int(row["loan"])
            dev_rows.append(tuple(row.get(c) for c in dev_cols if c in row))
        dev_cols = [c for c in dev_cols if c in replay.devices[0]] if replay.devices else dev_cols
        w.write("devices", dev_cols, dev_rows)
        del dev_rows
        w.write("storage_media", ["id", "device_id", "kind", "model", "serial", "capacity_bytes", "created_at"],
                ((m[0], m[1], m[2], m[3], m[4], m[5], w.ts(m[6])) for m in replay.media))
        w.write("wipe_records",
                ["id", "device_id", "medium_id", "result", "nist_category", "method", "tool", "tool_version",
                 "passes", "verification", "started_at", "ended_at", "bytes_erased", "operator_id", "operator_name",
                 "source", "details", "recorded_at"],
                ((x[0], x[1], x[2], "passed", x[3], x[4], "nwipe", "0.35", 1, "last pass", w.ts(x[6] - 5400),
                  w.ts(x[6] - 300), x[5], tech.user_id, tech.name, "nwipe", "{}", w.ts(x[6])) for x in replay.wipes))
        log(f"  devices, media and wipe records written in {time.perf_counter() - started:.1f}s")

        events = sorted(replay.events, key=lambda e: e[0])
        seq, prev_hash = setup_events, setup_hash
        ev_cols = ("id",) + custody.HASHED + ("hash",)

        def event_rows():
            nonlocal seq, prev_hash
            for (t, type_, device_id, tag, actor, sb, sa, cb, ca, station, note, details) in events:
                seq += 1
                when = _us(t)
                values = {
                    "seq": seq, "type": type_, "device_id": device_id, "device_tag": tag,
                    "actor_user_id": actor.user_id, "actor_name": actor.name,
                    "actor_organisation_id": actor.organisation_id,
                    "actor_organisation_name": actor.organisation_name, "state_before": sb, "state_after": sa,
                    "custodian_before_id": cb, "custodian_after_id": ca, "server_time": when, "client_time": None,
                    "station": station, "note": note, "details": canonical_details(details),
                    "request_id": os.urandom(16).hex(), "prev_hash": prev_hash,
                }
                prev_hash = values["hash"] = event_hash(values)
                values["server_time"] = w.ts(t)
                yield (seq,) + tuple(values[k] for k in custody.HASHED) + (prev_hash,)

        written = w.write("custody_events", list(ev_cols), event_rows())
        w.execute("UPDATE custody_chain_head SET last_seq = ?, last_hash = ? WHERE id = 1", (seq, prev_hash))
        w.execute("DELETE FROM tag_counters WHERE prefix = ?", (prefix,))
        w.execute("INSERT INTO tag_counters (prefix, last_value) VALUES (?, ?)", (prefix, devices))
        declared = {}
        for d in replay.devices:
            if d["batch_id"]:
                counts = declared.setdefault(d["batch_id"], {})
                counts[d["type"]] = counts.get(d["type"], 0) + 1
        for batch_id, counts in declared.items():
            w.execute("UPDATE batches SET declared_counts = ? WHERE id = ?", (json.dumps(counts), batch_id))
        w.commit()
        log(f"  {written:,} events hashed and written in {time.perf_counter() - started:.1f}s")
        counts = {}
        for d in replay.devices:
            counts[d["state"]] = counts.get(d["state"], 0) + 1
        del replay

        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        build_seconds = time.perf_counter() - started

        t0 = time.perf_counter()
        result = custody.verify_chain()
        verify_seconds = time.perf_counter() - t0
        if not result.ok:
            raise RuntimeError(f"the built custody chain does not verify: {result.problem}")
        log(f"  chain verified: {result.checked:,} events in {verify_seconds:.1f}s")

        tokens = {}

        for key in BENCH_USERS:
            user = db.session.get(User, setup.user_ids[key])
            tokens[key] = auth.create_token(user, actor=Actor.system("bench"), name="bench",
                                             days=current_app.config["TOKEN_LIFETIME_DAYS"])[1]
        db.session.remove()
    return Built(devices, result.checked, build_seconds, verify_seconds, result.checked, counts, tokens)
