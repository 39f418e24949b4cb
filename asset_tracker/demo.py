"""flask demo load: the Lyon programme's organisations, a user per role, and devices with full histories.

A command, hence a boundary: it reads the configuration and passes the settings to the services.
"""
from __future__ import annotations

import datetime as dt
import random

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from .auth import services as auth
from .core import Actor, imei_checksum_ok
from .custody import services as custody
from .db import clock, utcnow
from .devices import services as devices
from .devices.models import Device, DeviceType, StorageMedium
from .distribution import services as distribution
from .distribution.models import Programme
from .extensions import db
from .intake.models import Batch, BatchStatus
from .lifecycle import State
from .organisations.models import LegalNature, Organisation, OrgKind
from .wiping import services as wiping
from .wiping.models import VerificationStatus, WipeVerification

DEMO_PASSWORD = "demo-reboot-2026"
# Share of devices left overdue, wiped without an evidence file or with a loan past due: enough to show what
# the reminders and the audit watch lists are for, not a programme in trouble.
LATE_SHARE = 0.04

ORGANISATIONS = [
    ("Métropole de Lyon", OrgKind.PROGRAMME_OWNER, "numerique@demo.grandlyon.example"),
    ("Métropole de Lyon — DSI", OrgKind.DONOR, "dsi@demo.grandlyon.example"),
    ("Mairie de Lyon", OrgKind.DONOR, "dsi@demo.lyon.example"),
    ("CAF du Rhône", OrgKind.DONOR, "logistique@demo.caf69.example"),
    ("Préfecture du Rhône", OrgKind.DONOR, "sidsic@demo.rhone.example"),
    ("France Travail Auvergne-Rhône-Alpes", OrgKind.DONOR, "moyens@demo.francetravail.example"),
    ("Weeefund", OrgKind.WORKSHOP, "atelier@demo.weeefund.example"),
    ("Emmaüs Connect Lyon", OrgKind.PARTNER, "lyon@demo.emmaus-connect.example"),
    ("Collège Maria Casarès", OrgKind.PARTNER, "secretariat@demo.clg-casares.example"),
    ("Recyclage DEEE Rhône", OrgKind.RECYCLER, "enlevements@demo.deee69.example"),
]
# Fictitious legal identities (SIRETs in the unassigned 000 range, with a valid Luhn key): legal name, address,
# SIRET, legal nature and, for some donors only, the legal basis printed on their donation slips.
_BASIS_CG3P = ("Cession gratuite de matériels informatiques réformés dont la valeur unitaire n'excède pas le plafond "
               "fixé par décret, en vue de leur réemploi.", "CG3P, art. L3212-2, 2° et D3212-3")
LEGAL = {
    "Métropole de Lyon": ("Métropole de Lyon (démo)", "20 rue du Lac\n69003 Lyon", "00012345600014",
                          LegalNature.LOCAL_AUTHORITY, None),
    "Métropole de Lyon — DSI": ("Métropole de Lyon — Direction des systèmes d'information (démo)",
                                "20 rue du Lac\n69003 Lyon", "00023456700014", LegalNature.LOCAL_AUTHORITY, None),
    "Mairie de Lyon": ("Ville de Lyon (démo)", "1 place de la Comédie\n69001 Lyon", "00034567800015",
                       LegalNature.LOCAL_AUTHORITY, _BASIS_CG3P),
    "CAF du Rhône": ("Caisse d'allocations familiales du Rhône (démo)", "67 boulevard Vivier-Merle\n69003 Lyon",
                     "00045678900015", LegalNature.OTHER, None),
    "Préfecture du Rhône": ("Préfecture de la région Auvergne-Rhône-Alpes, préfecture du Rhône (démo)",
                            "106 rue Pierre Corneille\n69003 Lyon", "00056789000017", LegalNature.STATE, _BASIS_CG3P),
    "France Travail Auvergne-Rhône-Alpes": ("France Travail — direction régionale Auvergne-Rhône-Alpes (démo)",
                                            "13 rue Crépet\n69007 Lyon", "00067890100018",
                                            LegalNature.PUBLIC_ESTABLISHMENT, None),
    "Weeefund": ("Weeefund — atelier de reconditionnement (démo)", "12 rue de l'Atelier\n69100 Villeurbanne",
                 "00078901200010", LegalNature.ASSOCIATION, None),
    "Emmaüs Connect Lyon": ("Association Emmaüs Connect — antenne de Lyon (démo)", "8 rue Saint-Polycarpe\n69001 Lyon",
                            "00089012300011", LegalNature.ASSOCIATION, None),
    "Collège Maria Casarès": ("Collège Maria Casarès (démo)", "3 rue des Écoles\n69008 Lyon", "00090123400013",
                              LegalNature.PUBLIC_ESTABLISHMENT, None),
    "Recyclage DEEE Rhône": ("Recyclage DEEE Rhône SAS (démo)", "45 chemin des Recycleurs\n69200 Vénissieux",
                             "00013579200018", LegalNature.COMPANY, None),
}
# Who signs the donation slips in the demo (name, title), per donor.
SIGNATORIES = {
    "Mairie de Lyon": ("Hélène Martin", "Directrice de l'administration générale"),
    "Préfecture du Rhône": ("Paul Renard", "Chef du SIDSIC"),
    "CAF du Rhône": ("Sophie Garnier", "Responsable logistique"),
}
# Donors that number their equipment (the number is printed on the donation slip).
INVENTORY_PREFIX = {"Mairie de Lyon": "VDL-INV-", "Préfecture du Rhône": "PREF69-"}

USERS = [
    ("admin@demo.reboot.example", "admin", "Métropole de Lyon", "Claire Admin"),
    ("auditeur@demo.reboot.example", "auditor", "Métropole de Lyon", "Alain Auditeur"),
    ("donateur@demo.reboot.example", "donor", "CAF du Rhône", "Dominique Donateur"),
    ("mairie@demo.reboot.example", "donor", "Mairie de Lyon", "Marion Mairie"),
    ("technicien@demo.reboot.example", "technician", "Weeefund", "Théo Technicien"),
    ("controle@demo.reboot.example", "technician", "Weeefund", "Sofia Contrôle"),
    ("coordinatrice@demo.reboot.example", "coordinator", "Emmaüs Connect Lyon", "Corinne Coordinatrice"),
    ("college@demo.reboot.example", "coordinator", "Collège Maria Casarès", "Camille Collège"),
]
# The Lyon programme's promise: 1,000 laptops for young people and 2,000 family kits (a computer and a 4G key).
PROGRAMMES = [
    {"name": "Reboot' 2026-2027", "targets": [("laptop", 1000), ("family_kit", 2000)],
     "kit_kinds": [{"code": "family_kit", "name": "Kit famille", "device_types": ["laptop", "desktop"],
                    "accessory_kinds": ["mobile_key", "charger"]}],
     "categories": ["pupil", "family", "young_solidarity_income", "scholarship_student"]},
]
OPERATORS = ["Orange", "SFR", "Bouygues Telecom", "Free Mobile"]
MODELS = {
    "laptop": [("Lenovo", "ThinkPad T480"), ("Dell", "Latitude 5490"), ("HP", "EliteBook 840 G5"),
               ("Lenovo", "ThinkPad L390")],
    "desktop": [("Dell", "OptiPlex 7060"), ("HP", "ProDesk 600 G4"), ("Lenovo", "ThinkCentre M720q")],
    "tablet": [("Samsung", "Galaxy Tab A7"), ("Apple", "iPad 7")],
    "phone": [("Samsung", "Galaxy A52"), ("Apple", "iPhone 8")],
}
FINAL_STATES = ([State.REGISTERED] * 25 + [State.COLLECTED] * 12 + [State.RECEIVED] * 25 + [State.DIAGNOSED] * 20
                + [State.WIPED] * 25 + [State.REFURBISHED] * 20 + [State.READY] * 50 + [State.RESERVED] * 25
                + [State.HANDED_OVER] * 60 + [State.RETURNED] * 8 + [State.RECYCLED] * 25 + [State.LOST] * 5)


@click.group("demo", help="Demonstration data.")
def demo():
    pass


@demo.command("load")
@click.option("--devices", "count", default=300, show_default=True, help="How many devices to create.")
@with_appcontext
def load(count):
    """Load the demo (does nothing when it is already there)."""
    if load_demo(count):
        click.echo(f"demo loaded: {count} devices")
    else:
        click.echo("demo already loaded")
    click.echo(f"demo logins (password {DEMO_PASSWORD}):")
    for email, role, org, _ in USERS:
        click.echo(f"  {role:12} {email:38} {org}")


def load_demo(count: int = 300, seed: int = 2026) -> bool:
    if db.session.execute(select(Organisation.id).where(Organisation.name == "Weeefund")).first():
        return False
    rng = random.Random(seed)
    system = Actor.system("demo")
    orgs = {}
    for name, kind, email in ORGANISATIONS:
        legal_name, address, siret, nature, basis = LEGAL[name]
        org = Organisation(name=name, kind=kind, contact_email=email,
                           beneficiary_ref_pattern=r"^MC-[0-9]{4}$" if "Casarès" in name else None,
                           legal_name=legal_name, address=address, siret=siret, legal_nature=nature,
                           donation_legal_basis=basis[0] if basis else None,
                           donation_legal_basis_ref=basis[1] if basis else None)
        db.session.add(org)
        db.session.flush()
        custody.record("organisation_created", actor=system, details={"organisation_id": org.id, "name": name,
                                                                     "kind": kind.value})
        orgs[name] = org
    db.session.commit()
    users = {}
    for email, role, org, name in USERS:
        user = auth.create_user(email, role=role, organisation_id=orgs[org].id, password=DEMO_PASSWORD, name=name,
                                actor=system, policy=auth.PasswordPolicy.of(current_app.config))
        users.setdefault(role, user)
        users[email] = user
    owner = orgs["Métropole de Lyon"]
    partners = [orgs["Emmaüs Connect Lyon"], orgs["Collège Maria Casarès"]]
    programmes = _demo_programmes(owner, partners, system)

    donors = [o for o in orgs.values() if o.kind == OrgKind.DONOR]
    now = utcnow()
    start = now - dt.timedelta(days=150)
    batches = {}
    for donor in donors:
        for k, month in enumerate(("septembre", "octobre")):
            b = Batch(name=f"{donor.name} — collecte {month}", donor_organisation_id=donor.id,
                      workshop_organisation_id=orgs["Weeefund"].id, status=BatchStatus.OPEN,
                      pickup_date=(start + dt.timedelta(days=30 * k + 10)).date(), declared_counts={},
                      contact_name="Service logistique")
            if donor.name in SIGNATORIES and k == 0:
                b.disposal_decision_ref = f"Décision n° 2026-{100 + donor.id}"
                b.disposal_decision_date = (start + dt.timedelta(days=3)).date()
                b.donor_signatory_name, b.donor_signatory_title = SIGNATORIES[donor.name]
                b.workshop_signatory_name, b.workshop_signatory_title = "Théo Technicien", "Responsable d'atelier"
            db.session.add(b)
            db.session.flush()
            custody.record("batch_created", actor=system, details={"batch_id": b.id, "name": b.name})
            batches.setdefault(donor.id, []).append(b)
    db.session.commit()

    tech = Actor.of(users["technician"])
    coord = Actor.of(users["coordinator"])
    plans = []
    for i in range(count):
        final = rng.choice(FINAL_STATES)
        type_ = rng.choices(["laptop", "desktop", "tablet", "phone"], weights=[6, 3, 1, 1])[0]
        brand, model = rng.choice(MODELS[type_])
        donor = rng.choice(donors)
        batch = rng.choice(batches[donor.id])
        t = start + dt.timedelta(days=rng.uniform(0, 100), hours=rng.uniform(0, 8))
        plans.append((t, i, final, type_, brand, model, donor, batch))

    steps = []  # (time, order, callable)
    limits = {r["state"]: r["days"] for r in current_app.config["REMINDER_RULES"] if not r.get("loan")}
    for t, i, final, type_, brand, model, donor, batch in plans:
        late = rng.random() < LATE_SHARE
        planned = _plan_device(rng, t, i, final, type_, brand, model, donor, batch, orgs, programmes,
                               users, tech, coord, late=late, now=now)
        steps.extend(_recent_enough(rng, planned, limits.get(final.value), now) if not late else planned)
    steps.sort(key=lambda s: (s[0], s[1]))
    context = {}
    for when, _order, action in steps:
        clock.frozen = min(when, now)
        try:
            action(context)
        finally:
            clock.frozen = None
    _demo_kit_stock(rng, tech)
    return True


def _demo_programmes(owner, partners, system) -> list[Programme]:
    """The Reboot' programme with its two targets and its family kit."""
    out = []
    for spec in PROGRAMMES:
        out.append(distribution.create_programme(
            actor=system, name=spec["name"], owner_organisation_id=owner.id,
            targets=[{"unit": u, "count": n} for u, n in spec["targets"]], kit_kinds=spec["kit_kinds"],
            starts_on=dt.date(2026, 1, 1), ends_on=dt.date(2027, 12, 31), beneficiary_categories=spec["categories"],
            partner_ids=[p.id for p in partners], beneficiary_policy="warn"))
    return out


def _demo_kit(rng, programme, type_):
    """What a hand-over gives: a family kit (laptop or desktop + 4G key + charger) or a device with its charger."""
    kind = programme.kit_kinds[0] if programme.kit_kinds else None
    if kind is None or type_ not in kind.device_types or rng.random() < 0.4:
        return None, [{"kind": "charger"}]
    return kind.code, [_demo_key(rng), {"kind": "charger"}]


def _demo_key(rng) -> dict:
    return {"kind": "mobile_key", "imei": _imei(rng), "iccid": _iccid(rng), "operator": rng.choice(OPERATORS),
            "plan_ends_on": utcnow().date() + dt.timedelta(days=rng.choice([20, 45, 120, 300]))}


def _demo_kit_stock(rng, tech) -> None:
    """Complete family kits waiting in stock (ready laptops with a 4G key and a charger) and a few loose keys."""
    ready = db.session.execute(select(Device).where(Device.state == State.READY, Device.type.in_(
        [DeviceType.LAPTOP, DeviceType.DESKTOP])).order_by(Device.id)).unique().scalars().all()
    for device in ready[: len(ready) // 2]:
        for spec in (_demo_key(rng), {"kind": "charger"}):
            distribution.add_accessory(actor=tech, device_tag=device.tag, **spec)
    for _ in range(6):
        distribution.add_accessory(actor=tech, **_demo_key(rng))


def _recent_enough(rng, planned: list, limit_days: int | None, now: dt.datetime) -> list:
    """Move a device's timeline later so that it sits in its last state for less than the reminder delay.

    A healthy programme has a few overdue devices, not most of them: only the ones drawn as late keep a
    timeline that leaves them waiting too long.
    """
    if limit_days is None or not planned:
        return planned
    last = max(when for when, _, _ in planned)
    wanted_end = now - dt.timedelta(days=rng.uniform(0.05, 0.6) * limit_days)
    shift = wanted_end - last
    if shift <= dt.timedelta(0):
        return planned
    return [(when + shift, order, fn) for when, order, fn in planned]


def _plan_device(rng, t, i, final, type_, brand, model, donor, batch, orgs, programmes, users, tech, coord, *,
                 late=False, now=None):
    """The timed steps that take one device from registration to its demo state (``late``: left overdue)."""
    donor_users = [u for u in users.values() if u.organisation_id == donor.id]
    donor_user = Actor.of(donor_users[0]) if donor_users else Actor(None, "demo", donor.id,
                                                                    donor.name, "donor")
    recycler = orgs["Recyclage DEEE Rhône"].id
    key = f"d{i}"
    out = []
    clock_t = [t]

    def later(hours_lo, hours_hi):
        clock_t[0] = clock_t[0] + dt.timedelta(hours=rng.uniform(hours_lo, hours_hi))
        return clock_t[0]

    def add(when, fn):
        out.append((when, i, fn))

    def register(ctx):
        media = []
        if type_ in ("laptop", "desktop"):
            media.append(
                {
                    "kind": rng.choice(["ssd", "hdd", "nvme"]),
                    "model": "Disque interne",
                    "serial": f"DSK{i:05d}{rng.randint(100, 999)}",
                    "capacity_bytes": rng.choice([128, 256, 500]) * 10**9,
                }
            )
        elif type_ in ("tablet", "phone"):
            media.append({"kind": "emmc", "model": "Mémoire intégrée", "serial": None, "capacity_bytes": 32 * 10**9})
        imei = _imei(rng) if type_ == "phone" else None
        ctx[key] = devices.register_device(
            actor=donor_user, type=type_, donor_organisation_id=donor.id, brand=brand, model=model,
            serial=f"{brand[:2].upper()}{rng.randint(10**7, 10**8 - 1)}", imei=imei, batch_id=batch.id,
            specs={"ram_gb": rng.choice([4, 8, 16]), "year": rng.randint(2015, 2021)},
            unit_value_cents=rng.choice([5000, 8000, 12000]),
            donor_inventory_number=(INVENTORY_PREFIX[donor.name] + f"{i:05d}") if donor.name in INVENTORY_PREFIX
            else None,
            tag_prefix=current_app.config["TAG_PREFIX"], tag_width=current_app.config["TAG_WIDTH"], media=media)

    def move(target, actor=tech, **params):
        def run(ctx):
            devices.transition(ctx[key], target, actor=actor, params=params,
                               note=params.pop("note", None) if "note" in params else None)
        return run

    def reserve(programme, partner):
        def run(ctx):
            distribution.reserve_device(ctx[key].tag, actor=_partner_actor(users, partner), programme_id=programme.id,
                                      partner_organisation_id=partner.id)
        return run

    def hand_over(partner, ref, category, loan, return_on, kit, kit_kind=None):
        def run(ctx):
            due = return_on
            if due is not None and not late and due <= now.date():
                due = now.date() + dt.timedelta(days=rng.randint(10, 120))  # a loan still out is due back soon
            ctx[key + "/handover"] = distribution.record_handover(
                ctx[key].tag, actor=_partner_actor(users, partner), beneficiary_ref=ref,
                beneficiary_category=category, loan=loan, expected_return_on=due, new_accessories=kit,
                kit_kind=kit_kind, confirm_second_device=True, hmac_key=current_app.config["BENEFICIARY_HMAC_KEY"],
                default_pattern=current_app.config.get("BENEFICIARY_REF_DEFAULT_PATTERN"))
        return run

    def give_back(partner):
        def run(ctx):
            distribution.record_return(ctx[key + "/handover"].id, actor=_partner_actor(users, partner),
                                     reason="Rendu en fin d'année scolaire", condition="bon état")
        return run

    def recycle(disposal_reference):
        def run(ctx):
            distribution.record_recycling(ctx[key].tag, actor=tech, recycler_organisation_id=recycler,
                                        disposal_reference=disposal_reference)
        return run

    def second_check(ctx):
        """A device the draw picked is checked by the second technician before it may be ready."""
        check = db.session.scalar(select(WipeVerification).where(
            WipeVerification.device_id == ctx[key].id, WipeVerification.status == VerificationStatus.PENDING))
        if check is not None:
            wiping.verify_wipe(ctx[key].tag, actor=Actor.of(users["controle@demo.reboot.example"]), confirmed=True,
                               note="Relecture d'un échantillon de secteurs")

    def wipe(ctx):
        device = ctx[key]
        for medium in db.session.execute(select(StorageMedium).where(StorageMedium.device_id == device.id)).scalars():
            end = utcnow()
            method = "Fill With Zeros" if medium.kind.value == "hdd" else "Secure Erase"
            evidence = None if late else wiping.store_evidence(
                _wipe_report(device, medium, method, end), f"wipe-{device.tag}-{medium.id}.txt", actor=tech,
                content_type="text/plain")
            wiping.record_wipe(device, medium.id, actor=tech, result="passed", method=method,
                               nist_category="clear" if medium.kind.value == "hdd" else "purge",
                               tool="nwipe", tool_version="0.35", passes=1, verification="last pass",
                               started_at=end - dt.timedelta(hours=1), ended_at=end, evidence=evidence)
        if device.type.value not in ("laptop", "desktop", "tablet", "phone"):
            wiping.state_no_media(device, actor=tech)

    add(t, register)
    path = _path_to(final)
    verdict = "recycle" if final == State.RECYCLED else "refurbish"
    programme = rng.choice(programmes)
    partner = orgs["Collège Maria Casarès"] if rng.random() < 0.4 else orgs["Emmaüs Connect Lyon"]
    for target in path:
        if target == State.COLLECTED:
            add(later(24 * 3, 24 * 15), move(State.COLLECTED))
        elif target == State.RECEIVED:
            add(later(4, 48), move(State.RECEIVED))
        elif target == State.DIAGNOSED:
            add(later(2, 72), move(State.DIAGNOSED, verdict=verdict))
        elif target == State.WIPED:
            add(later(1, 24), wipe)
            add(later(1, 4), move(State.WIPED))
        elif target == State.REFURBISHED:
            add(later(4, 96), move(State.REFURBISHED))
        elif target == State.READY:
            add(later(1, 12), second_check)
            add(later(1, 24), move(State.READY, grade=rng.choice("AABBC")))
        elif target == State.RESERVED:
            add(later(24, 24 * 20), reserve(programme, partner))
        elif target == State.HANDED_OVER:
            loan = rng.random() < 0.3
            ref = f"MC-{rng.randint(1000, 9999)}" if "Casarès" in partner.name else f"EC-{rng.randint(10000, 99999)}"
            when = later(24, 24 * 10)
            kit_kind, kit = _demo_kit(rng, programme, type_)
            add(when, hand_over(partner, ref, "family" if kit_kind else programme.beneficiary_categories[0], loan,
                                (when + dt.timedelta(days=rng.choice([20, 90, 180]))).date() if loan else None,
                                kit, kit_kind))
        elif target == State.RETURNED:
            add(later(24 * 5, 24 * 30), give_back(partner))
        elif target == State.RECYCLED:
            add(later(24, 24 * 10), recycle(f"BSD-2026-{rng.randint(100, 999)}"))
        elif target == State.LOST:
            add(later(24, 24 * 5), move(State.LOST, reason="Non retrouvé lors de la tournée de collecte"))
    return out


def _wipe_report(device, medium, method: str, ended: dt.datetime) -> bytes:
    """The plain-text report the workshop keeps for one wiped medium (the demo's evidence file)."""
    lines = [
        "Reboot Tracker demo workshop: wipe report",
        f"Device: {device.tag} ({device.brand or ''} {device.model or ''}, serial {device.serial or '-'})",
        f"Medium: {medium.kind.value} {medium.model or ''}, serial {medium.serial or '-'}, "
        f"{medium.capacity_bytes or 0} bytes",
        f"Tool: nwipe 0.35, method {method}, 1 pass, verification of the last pass",
        f"Ended: {ended.isoformat()}",
        "Result: passed, 0 errors",
    ]
    return ("\n".join(lines) + "\n").encode()


def _partner_actor(users, partner):
    return Actor.of(users["coordinator"] if "Emmaüs" in partner.name else users["college@demo.reboot.example"])


def _path_to(final: State) -> list[State]:
    main = [State.COLLECTED, State.RECEIVED, State.DIAGNOSED, State.WIPED, State.REFURBISHED, State.READY,
            State.RESERVED, State.HANDED_OVER, State.RETURNED]
    if final == State.REGISTERED:
        return []
    if final == State.RECYCLED:
        return [State.COLLECTED, State.RECEIVED, State.DIAGNOSED, State.WIPED, State.RECYCLED]
    if final == State.LOST:
        return [State.COLLECTED, State.LOST]
    return main[: main.index(final) + 1]


def _iccid(rng) -> str:
    body = "8933" + "".join(str(rng.randint(0, 9)) for _ in range(14))
    return next(body + str(c) for c in range(10) if distribution.iccid_ok(body + str(c)))


def _imei(rng) -> str:
    body = "35" + "".join(str(rng.randint(0, 9)) for _ in range(12))
    for check in range(10):
        if imei_checksum_ok(body + str(check)):
            return body + str(check)
    raise AssertionError("unreachable")


COMMANDS = [demo]
