"""The client side of INSi's SOAP face: requests as the padoa/tlsi-ins client builds them (tests, bench, docs)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from app.ins.soap.namespaces import (
    ACTION_TRAITS,
    NS_CTXBAM,
    NS_CTXLPS,
    NS_RECSANS,
    NS_RECVIT,
    NS_SAML2,
    NS_SOAP12,
    NS_WSA,
    NS_WSSE,
)


def build_request(
    body_xml: str,
    *,
    action: str = ACTION_TRAITS,
    idam: str = "SEGURSANDBOX01",
    message_id: str = "uuid:b3549edd-4ae9-472a-b26f-fd2fb4ef397f",
    version: str = "1.0",
    name: str = "segur-sandbox-client",
    security: str = "",
    bam_version: str = "01_02",
    lps_version: str = "01_00",
    temps: str = "2026-11-24T10:00:00.000Z",
) -> bytes:
    """A request as the padoa client builds it (``insi-client.fixture.ts``): headers then body."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{NS_SOAP12}" xmlns:ctxbam="{NS_CTXBAM}" xmlns:ctxlps="{NS_CTXLPS}" '
        f'xmlns:insi_recsans_ins="{NS_RECSANS}" xmlns:insi_recvit_ins="{NS_RECVIT}">'
        "<soap:Header>"
        f'<ctxbam:ContexteBAM Version="{bam_version}"><ctxbam:Id>1f7425e2-b913-415c-adaa-785ee1076a70</ctxbam:Id>'
        f"<ctxbam:Temps>{temps}</ctxbam:Temps><ctxbam:Emetteur>medecin@example.org</ctxbam:Emetteur>"
        "<ctxbam:COUVERTURE></ctxbam:COUVERTURE></ctxbam:ContexteBAM>"
        f'<ctxlps:ContexteLPS Nature="CTXLPS" Version="{lps_version}">'
        f"<ctxlps:Id>1f7425e2-b913-415c-adaa-785ee1076a70</ctxlps:Id><ctxlps:Temps>{temps}</ctxlps:Temps>"
        "<ctxlps:Emetteur>medecin@example.org</ctxlps:Emetteur><ctxlps:LPS>"
        f'<ctxlps:IDAM R="4">{escape(idam)}</ctxlps:IDAM><ctxlps:Version>{escape(version)}</ctxlps:Version>'
        "<ctxlps:Instance>b3549edd-4ae9-472a-b26f-fd2fb4ef397f</ctxlps:Instance>"
        f"<ctxlps:Nom>urn:lps:{escape(name)}:{escape(version)}</ctxlps:Nom></ctxlps:LPS></ctxlps:ContexteLPS>"
        f'<wsa:Action xmlns:wsa="{NS_WSA}">{escape(action)}</wsa:Action>'
        f'<wsa:MessageID xmlns:wsa="{NS_WSA}">{escape(message_id)}</wsa:MessageID>'
        f"{security}</soap:Header><soap:Body>{body_xml}</soap:Body></soap:Envelope>"
    ).encode()


def recsansvitale_xml(nom: str, prenoms: list[str] | str, sexe: str, date: str, lieu: str | None = None) -> str:
    if isinstance(prenoms, str):
        prenoms = [prenoms]
    p = "".join(f"<insi_recsans_ins:Prenom>{escape(x)}</insi_recsans_ins:Prenom>" for x in prenoms)
    lieu_xml = f"<insi_recsans_ins:LieuNaissance>{escape(lieu)}</insi_recsans_ins:LieuNaissance>" if lieu else ""
    return (
        f'<insi_recsans_ins:RECSANSVITALE xmlns:insi_recsans_ins="{NS_RECSANS}">'
        f"<insi_recsans_ins:NomNaissance>{escape(nom)}</insi_recsans_ins:NomNaissance>{p}"
        f"<insi_recsans_ins:Sexe>{escape(sexe)}</insi_recsans_ins:Sexe>"
        f"<insi_recsans_ins:DateNaissance>{escape(date)}</insi_recsans_ins:DateNaissance>{lieu_xml}"
        "</insi_recsans_ins:RECSANSVITALE>"
    )


def recvitale_xml(matricule_od: str, date: str, rang: str | None = "1", nom: str | None = None,
                  matricule_individu: str | None = None) -> str:
    def mat(tag: str, value: str) -> str:
        return (f"<insi_recvit_ins:{tag}><insi_recvit_ins:NumIdentifiant>{value[:13]}</insi_recvit_ins:NumIdentifiant>"
                f"<insi_recvit_ins:Cle>{value[13:15]}</insi_recvit_ins:Cle></insi_recvit_ins:{tag}>")

    parts = [mat("MatriculeIndividu", matricule_individu) if matricule_individu else "",
             mat("MatriculeOD", matricule_od)]
    if nom:
        parts.append(f"<insi_recvit_ins:NomNaissance>{escape(nom)}</insi_recvit_ins:NomNaissance>")
    parts.append(f"<insi_recvit_ins:DateNaissance>{escape(date)}</insi_recvit_ins:DateNaissance>")
    if rang:
        parts.append(f"<insi_recvit_ins:RangNaissance>{escape(rang)}</insi_recvit_ins:RangNaissance>")
    return f'<insi_recvit_ins:RECVITALE xmlns:insi_recvit_ins="{NS_RECVIT}">' + "".join(parts) + \
        "</insi_recvit_ins:RECVITALE>"


def saml_security(issuer: str = "CN=DOCTEUR TEST,OU=10B0000000,O=CPS") -> str:
    """A structurally plausible CPx SAML assertion in ``wsse:Security`` (not signed: the sandbox does not
    check signatures)."""
    return (
        f'<wsse:Security xmlns:wsse="{NS_WSSE}"><saml2:Assertion xmlns:saml2="{NS_SAML2}" ID="_a1" '
        f'IssueInstant="2026-11-24T10:00:00Z" Version="2.0"><saml2:Issuer>{escape(issuer)}</saml2:Issuer>'
        '<saml2:Subject><saml2:NameID NameQualifier="CPS">810000000000</saml2:NameID></saml2:Subject>'
        "</saml2:Assertion></wsse:Security>"
    )
