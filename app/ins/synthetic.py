"""Deterministic synthetic INS persons (for bulk loads and benchmarks), in the fixture shape. Pure."""

from __future__ import annotations

import random
from collections.abc import Iterator

from app.ins import nir
from app.shared.identifiers import OID_INS_NIR

SURNAMES = [
    "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU", "LAURENT",
    "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL", "FOURNIER", "GIRARD",
    "BONNET", "DUPONT", "LAMBERT", "FONTAINE", "ROUSSEAU", "VINCENT", "MULLER", "LEFEVRE", "FAURE", "ANDRE",
    "MERCIER", "BLANC", "GUERIN", "BOYER", "GARNIER", "CHEVALIER", "FRANCOIS", "LEGRAND", "GAUTHIER", "GARCIA",
    "PERRIN", "ROBIN", "CLEMENT", "MORIN", "NICOLAS", "HENRY", "ROUSSEL", "MATHIEU", "GAUTIER", "MASSON",
    "D'ALMEIDA", "LE GALL", "DE LA FONTAINE", "N'DIAYE", "SAINT-JUST", "MARTIN--DURAND", "LE BRIS", "O'NEILL",
]
MALE = ["JEAN", "PIERRE", "LUC", "PAUL", "LOUIS", "HUGO", "LEO", "GABRIEL", "RAPHAEL", "ARTHUR", "JULES",
        "ADAM", "NOAH", "TOM", "THEO", "ETHAN", "NATHAN", "MAEL", "SACHA", "JEAN-PIERRE", "MARC-ANTOINE"]
FEMALE = ["MARIE", "ANNE", "JEANNE", "LOUISE", "EMMA", "ALICE", "CHLOE", "LINA", "ROSE", "LEA", "MIA",
          "JADE", "ZOE", "INES", "CAMILLE", "SARAH", "MANON", "JULIE", "ANNE-SOPHIE", "MARIE-CLAIRE"]


def _date(rng: random.Random, year: int) -> str:
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    return f"{year:04d}-{month:02d}-{day:02d}"


def bulk_persons(n: int, *, seed: int = 20261124, order_start: int = 1) -> Iterator[dict]:
    """``n`` synthetic persons with unique, key-valid NIRs (order numbers from ``order_start``)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    for i in range(n):
        sex = rng.choice("MF")
        year = rng.randint(1930, 2024)
        date = _date(rng, year)
        prenoms = rng.sample(MALE if sex == "M" else FEMALE, rng.randint(1, 3))
        # Unique NIR: (place, order) is a function of i, so two persons never share a number while
        # n < 999 * len(communes); past that a seen-set bumps the order number.
        k = order_start + i
        communes = nir._METRO_COMMUNES
        cog = communes[(k // 999) % len(communes)]
        order = k % 999 + 1
        number = f"{'1' if sex == 'M' else '2'}{year % 100:02d}{date[5:7]}{cog}{order:03d}"
        while number in seen:
            order = order % 999 + 1
            number = number[:10] + f"{order:03d}"
        seen.add(number)
        yield {
            "NomNaissance": rng.choice(SURNAMES),
            "ListePrenom": " ".join(prenoms),
            "Sexe": sex,
            "DateNaissance": date,
            "LieuNaissance": cog,
            "INSACTIF": {
                "IdIndividu": {"NumIdentifiant": number, "Cle": nir.compute_key(number), "TypeMatricule": "NIR"},
                "OID": OID_INS_NIR,
            },
        }
