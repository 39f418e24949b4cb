"""Spreadsheet builders for the intake tests."""
from __future__ import annotations

FR_HEADER = ("Type;Marque;Modèle;Numéro de série;IMEI;Valeur unitaire (€);Remarques;Type de disque;"
             "N° de série du disque;Capacité du disque (Go)")
KEYS = ("type", "brand", "model", "serial", "imei", "unit_value", "notes", "disk_kind", "disk_serial", "disk_gb")


def imei_with_check(body14: str) -> str:
    """A 15-digit IMEI: the 14 digits given plus their Luhn check digit."""
    total = 0
    for i, ch in enumerate(body14):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body14 + str((10 - total % 10) % 10)


def csv_rows(n: int, *, bad: dict | None = None, prefix: str = "PF") -> bytes:
    """A French `;` CSV of ``n`` laptops with a disk each; ``bad`` = {index: {column key: value}} spoils rows."""
    lines = [FR_HEADER]
    for i in range(n):
        row = {"type": "portable", "brand": "Lenovo", "model": "ThinkPad T480", "serial": f"{prefix}{i:08d}",
               "imei": "", "unit_value": "45,50", "notes": "", "disk_kind": "SSD", "disk_serial": f"{prefix}D{i:08d}",
               "disk_gb": "256"}
        row.update((bad or {}).get(i, {}))
        lines.append(";".join(row[k] for k in KEYS))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
