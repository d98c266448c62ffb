"""Writing INSi's answers: the ``RESULTAT`` element (``http://www.cnamts.fr/INSiResultat``) in its envelope, as
the live INSi writes them. Pure."""

from __future__ import annotations

from xml.sax.saxutils import escape

from app.ins.search import InsRecord, Outcome, PersonRecord
from app.ins.soap.namespaces import NS_RECSANS, NS_RECVIT, NS_RESULTAT, NS_SOAP12


def _ins_xml(tag: str, rec: InsRecord, oid: str) -> str:
    typ = f"<TypeMatricule>{escape(rec.type_matricule)}</TypeMatricule>" if rec.type_matricule else ""
    deb = f"<DateDeb>{rec.date_deb}</DateDeb>" if rec.date_deb else ""
    fin = f"<DateFin>{rec.date_fin}</DateFin>" if rec.date_fin else ""
    return (
        f"<{tag}><IdIndividu><NumIdentifiant>{rec.number}</NumIdentifiant><Cle>{rec.key}</Cle>{typ}</IdIndividu>"
        f"<OID>{oid}</OID>{deb}{fin}</{tag}>"
    )


def resultat_xml(outcome: Outcome, oid_of, *, with_prenom: bool = False) -> str:
    """The ``RESULTAT`` element as the live INSi writes it. ``oid_of(InsRecord) -> str`` applies the OID policy.

    Layout of the live answers padoa/tlsi-ins records from the qualif service (``getPierreAlainLiveXmlResponse``,
    ``getAdrtroisToussaintXmlResponse``, ``getTchitchiCatarinaXmlResponse``, ``getCR02XmlResponse`` in
    ``src/ins/fixtures/`` @12ef794): default namespace first, then ``ns0`` (RecVit) and ``ns1`` (RecSans);
    ``IdIndividu`` carries ``NumIdentifiant`` and ``Cle`` (no live answer carries ``TypeMatricule``; a
    fixture may still give one, XSD ``INSi_RESULTAT_INS.xsd``); ``DateDeb``/``DateFin`` after the ``OID``.
    ``TIQ`` carries ``ListePrenom`` only, like live answers (``Prenom`` too if ``with_prenom``: some CNDA sample
    files carry it, reference §6.5)."""
    head = (
        f'<RESULTAT xmlns="{NS_RESULTAT}" xmlns:ns0="{NS_RECVIT}" xmlns:ns1="{NS_RECSANS}">'
        f"<CR><CodeCR>{outcome.code}</CodeCR><LibelleCR>{escape(outcome.label)}</LibelleCR></CR>"
    )
    p: PersonRecord | None = outcome.person
    if p is None or p.ins_actif is None:
        return head + "</RESULTAT>"
    parts = [_ins_xml("INSACTIF", p.ins_actif, oid_of(p.ins_actif))]
    parts += [_ins_xml("INSHISTO", h, oid_of(h)) for h in p.ins_histo]
    prenom = f"<Prenom>{escape(p.first_prenom)}</Prenom>" if with_prenom else ""
    lieu = f"<LieuNaissance>{escape(p.lieu_naissance)}</LieuNaissance>" if p.lieu_naissance else ""
    tiq = (
        f"<TIQ><NomNaissance>{escape(p.nom_naissance)}</NomNaissance>{prenom}"
        f"<ListePrenom>{escape(p.liste_prenom)}</ListePrenom><Sexe>{p.sexe}</Sexe>"
        f"<DateNaissance>{p.date_naissance}</DateNaissance>{lieu}</TIQ>"
    )
    return head + "<INDIVIDU>" + "".join(parts) + tiq + "</INDIVIDU></RESULTAT>"


def build_response(resultat: str) -> bytes:
    """The envelope of a live answer (same recordings as :func:`resultat_xml`): ``soap:Envelope`` around an
    ``env:Body`` that declares both ``S`` and ``env``."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap:Envelope xmlns:soap="{NS_SOAP12}"><env:Body xmlns:S="{NS_SOAP12}" xmlns:env="{NS_SOAP12}">'
        f"{resultat}</env:Body></soap:Envelope>"
    ).encode()
