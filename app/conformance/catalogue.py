"""The 49 server-observable Ségur requirements (shared/reference/segur-requirements.md, "Server-observable
requirements"): ID, service, what the sandbox checks (the table's English wording), source. Pure data.

Sources: SQ = Squash export (ansforge/segur-squash-plugins, import_gsheet_sans_modele.xlsx); BB = bitbucket
devbox-sante/homologation; FAQ = industriels.esante.gouv.fr FAQ; TP = third-party REM extracts; HL7EX =
ansforge/hl7V2-exemples. ``S*`` rows need a scenario hook (the sandbox must first provoke something).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    number: int
    id: str
    service: str
    title: str
    source: str
    hook: bool = False
    """``S*`` in the table: a scenario hook is needed before the sandbox can decide."""

    @property
    def suite(self) -> str:
        """The JUnit suite: the first service named (``INS→DMP`` and ``INS/PSC`` are INS's)."""
        return self.service.replace("→", "/").split("/")[0]


CATALOGUE: tuple[Requirement, ...] = (
    Requirement(1, 'EX_GEN-1255 / EX_GEN-1250', 'INS→DMP',
                'For each patient the client touches in the DMP, an INSi retrieval (or verification) for the same '
                'matricule happened earlier in the run',
                'BB /issues/77, /82'),
    Requirement(2, 'EX_GEN-1530', 'INS→DMP',
                'Every DMP patient identifier (PID-3, `patientId`, VIHF resource-id) is a matricule INSi returned to '
                'this client',
                'BB /issues/78'),
    Requirement(3, 'SC.INS/va1.34', 'INS',
                'Client issued both an INSi search by traits and one by Carte Vitale (when both scenarios run)',
                'SQ'),
    Requirement(4, 'SC.INS/va1.11 (rule 52)', 'INS',
                'After the sandbox delivers a document or flow carrying an unknown INS, the client calls INSi '
                'verification for it',
                'SQ', hook=True),
    Requirement(5, 'SC.INS/va1.28, .31 (rules 11, 12)', 'INS',
                'After the sandbox returns an INSi "00" with a `00` day/month or an empty birth name, that matricule '
                'never appears in later DMP/MSS traffic',
                'SQ', hook=True),
    Requirement(6, 'SC.INS/va1.53, .59 (rule 28)', 'INS',
                'No outgoing CDA, XDM `patientId` or MSS address carries a matricule the client never got from INSi; '
                'XDM without a qualified INS has `X-MSS-INS: N`',
                'SQ; FAQ (INS/va1.53)'),
    Requirement(7, 'SC.INS/va1.14, .37, .58', 'INS',
                'INSi calls present an accepted credential: CPx, or an IGC-Santé organisation certificate; the mode '
                'used is recorded',
                'SQ'),
    Requirement(8, 'SC.INS/PSC.01', 'INS/PSC',
                'For a PSC-logged user, INSi calls carry a PSC token issued by the sandbox for the same RPPS',
                'SQ'),
    Requirement(9, 'SC.DMP/va1.01 (+DMP/va1.05, va1.13)', 'DMP',
                'Documents of the in-scope types arrive; CDA R2 N1 header valid (Structuration minimale); typeCode in'
                " the couloir's annex 3 list",
                'SQ'),
    Requirement(10, 'DMP/va1.10 (RIS), DMP/va1.18', 'DMP',
                'XDS `confidentialityCode` values only from the allowed set (`N`, `MASQUE_PS`, `INVISIBLE_PATIENT`, '
                '`INVISIBLE_REPRESENTANTS_LEGAUX`), matching what the scenario asked',
                'SQ'),
    Requirement(11, 'DMP/va1.16, va1.23, va1.09', 'DMP',
                'Replacement uses an RPLC association to the previous entry (old one deprecated); deletion uses the '
                'delete transaction',
                'SQ', hook=True),
    Requirement(12, 'DMP/va1.15', 'DMP',
                'A partial lab report is later replaced (RPLC) by the complete report for the same order',
                'SQ'),
    Requirement(13, 'SC.DMP/CONF.05', 'DMP',
                'No TD0.3 (authorisation) call is made merely to feed or delete',
                'SQ'),
    Requirement(14, 'SC.DMP/CONF.06 / CONF.09', 'DMP',
                'When the scenario says the patient objects, no consultation (or feeding) transaction arrives for '
                'that patient',
                'SQ', hook=True),
    Requirement(15, 'SC.DMP/AIRS.06', 'DMP',
                'Every VIHF names a non-generic RPPS/ADELI; two different users give two different subject IDs',
                'SQ'),
    Requirement(16, 'SC.DMP/UX.08', 'DMP',
                'Each consultation or retrieval for a patient is preceded in the session by TD0.2 or TD0.4',
                'SQ'),
    Requirement(17, 'SC.DMP/UX.50', 'DMP',
                'With no prior authorisation and no objection, the client calls TD0.3 after TD0.2 and before '
                'consulting',
                'SQ'),
    Requirement(18, 'SC.DMP/UX.27', 'DMP',
                'Document search queries use ≥ 2 XDS/TD3.1 criteria when the scenario asks for a multi-criteria search',
                'SQ'),
    Requirement(19, 'SC.DMP/HISTO.03', 'DMP',
                'For historical documents, `serviceStartTime` (act date) is set and differs from the upload date; the'
                ' CDA `serviceEvent/effectiveTime` matches',
                'SQ'),
    Requirement(20, 'SC.DMP/HISTO.04', 'DMP',
                'When the sandbox directory marks the author as no longer in the RPPS, the submission adds the '
                'organisation as an author',
                'SQ', hook=True),
    Requirement(21, 'SC.DMP/PSC.01, SC.PSC.10', 'DMP/PSC',
                'DMP calls made for a PSC-logged user carry the sandbox-issued PSC identity (CI-SIS PSC transport)',
                'SQ'),
    Requirement(22, 'EX_2.1-2035', 'DMP',
                'Vaccination notes use only the permitted VAC volet version; cardinality, nullFlavor and coded values'
                ' pass',
                'BB /issues/165'),
    Requirement(23, 'SC.DMP/ALI/PROG.10, .11 (SGL)', 'DMP',
                "If the sandbox emits ADT^A01 with a consent ZFA / ADT^A03, the client's feeding follows (or is "
                'suppressed by) that consent',
                'HL7EX `SGL-Referentiel-Minimal/readme.md`'),
    Requirement(24, 'SC.MSS/CONF.01, .02', 'MSS',
                'TLS version ≥ 1.2 on SMTP and IMAP',
                'SQ'),
    Requirement(25, 'SC.MSS/CONF.03', 'MSS',
                'Negotiated cipher in the six allowed suites; client refuses DH < 2048 or EC < 256 when the sandbox '
                'offers them',
                'SQ'),
    Requirement(26, 'SC.MSS/CONF.04', 'MSS',
                'Client fetches `https://autoconfig.<domain>/mail/config-v1.1.xml`, then connects with those settings',
                'SQ'),
    Requirement(27, 'SC.MSS/CONF.05, .06', 'MSS',
                'STARTTLS issued before any authentication or mail command on SMTP and IMAP',
                'SQ'),
    Requirement(28, 'SC.MSS/CONF.07', 'MSS/PSC',
                'SASL XOAUTH2 string is exactly `user=<mailbox>^Aauth=Bearer <token>^A^A`; the token is a valid '
                'sandbox PSC access token for the mailbox holder',
                'SQ'),
    Requirement(29, 'SC.MSS/CONF.10', 'MSS/PSC',
                'After the sandbox invalidates the PSC refresh token, the client opens no new IMAP/SMTP session with '
                'it and closes the open ones',
                'SQ', hook=True),
    Requirement(30, 'SC.MSS/CONF.11', 'MSS',
                'After the sandbox drops a session while the token is valid, the client reconnects on its own',
                'SQ', hook=True),
    Requirement(31, 'SC.MSS/CONF.12', 'MSS',
                'Applicative mailbox: mTLS with an IGC-Santé organisation AUTH_CLI certificate, then PLAIN with the '
                'mailbox address',
                'SQ; TP (CONF.27)'),
    Requirement(32, 'SC.MSS/CONF.14', 'MSS',
                '`X-MSS-INS` present iff an IHE_XDM is attached; `O` iff the XDM has a qualified INS (matricule + '
                'OID), else `N`',
                'SQ'),
    Requirement(33, 'SC.MSS/CONF.15', 'MSS',
                "`X-MSS-CODECDA` present iff CDA in XDM; values equal each CDA's `code/@code`, in document order",
                'SQ'),
    Requirement(34, 'SC.MSS/CONF.16', 'MSS',
                "`X-MSS-NIL` on every submitted message, equal to the client's registered product reference",
                'SQ'),
    Requirement(35, 'SC.MSS/CONF.21', 'MSS',
                'To `@patient.mssante.fr`, `X-MSS-MES` if present equals exactly `FIN`; S*: present when the scenario'
                ' asked for no reply',
                'SQ; TP (ENS MES v1.3)'),
    Requirement(36, 'SC.MSS/CONF.23', 'MSS',
                'A health-document mail has exactly one patient across its CDAs, one `IHE_XDM.ZIP` (valid XDM layout)'
                ' and one PDF/A-1 per CDA',
                'SQ'),
    Requirement(37, 'SC.MSS/CONF.25 (ECO.2.1.3)', 'MSS',
                'Subject matches `XDM/1.0/DDM+<label> <NAME> <first name> <birth date>`; name and birth date agree '
                'with the CDA',
                'SQ'),
    Requirement(38, 'ECO.2.1.6', 'MSS',
                'PDF attachment names follow `<act date>_<type>_<NAME>_<first name>_<file no>.pdf`',
                'TP (Ref #2 v1.0.1)'),
    Requirement(39, 'SC.MSS/va1.19 (ECO.2.2.6)', 'MSS/INS',
                'Local part of every `@patient.mssante.fr` recipient is a 15-digit matricule obtained by this client '
                'from INSi (retrieval or verification OK)',
                'SQ'),
    Requirement(40, 'SC.MSS/va1.08, va1.12', 'MSS',
                'Valid RFC 5322 `Message-ID` on all mails; replies carry `In-Reply-To` and `References`',
                'SQ'),
    Requirement(41, 'SC.MSS/va1.11', 'MSS',
                'Body is `text/plain`, or `multipart/alternative` with `text/plain` + `text/html`',
                'SQ'),
    Requirement(42, 'SC.MSS/va1.16', 'MSS',
                '`From` has a display name (name and first name for personal mailboxes; the mailbox title otherwise)',
                'SQ'),
    Requirement(43, 'SC.MSS/UX.33 / va1.15', 'MSS',
                'When asked, outgoing mail carries `Disposition-Notification-To` (MDN) / `Return-Receipt-To` (DSN)',
                'SQ', hook=True),
    Requirement(44, 'SC.MSS/UX.34', 'MSS',
                'A sandbox message with `Disposition-Notification-To` gets an RFC 8098 MDN back (`multipart/report; '
                'report-type=disposition-notification`)',
                'SQ', hook=True),
    Requirement(45, 'SC.MSS/va1.02, AMBU.MSS/va1.02', 'MSS',
                'A resent document is a new CDA version whose `relatedDocument` (RPLC) points to the previous document',
                'SQ; TP'),
    Requirement(46, 'ENS MES v1.3 (size)', 'MSS',
                'Total message size to `@patient.mssante.fr` ≤ 25 MB; larger ones are bounced by the sandbox like MES'
                ' does',
                'TP (ENS MES v1.3)'),
    Requirement(47, 'SC.PSC.08 (EX PSC 16)', 'PSC',
                '`acr_values=eidas1` on every authorization (and CIBA) request',
                'SQ'),
    Requirement(48, 'SC.PSC.01', 'PSC',
                'At least one of the four allowed flows used: code flow in a browser, or CIBA; a logout reaches the '
                'sandbox end-session endpoint',
                'SQ'),
    Requirement(49, 'PSC Espace de Confiance (FAQ)', 'PSC',
                'Token endpoint client authentication is mTLS when the client is registered as Espace de Confiance; '
                'secret allowed only for Communautaire',
                'FAQ (couloir 378, p.4)'),
)

BY_NUMBER = {r.number: r for r in CATALOGUE}
SUITES = ("INS", "DMP", "MSS", "PSC")
