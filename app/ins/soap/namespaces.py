"""INSi's SOAP 1.2 namespaces and operations (WSDL ``DESIR_ICIR_EXP_1.5.0.wsdl``, padoa/tlsi-ins ``src/wsdl``)."""

from __future__ import annotations

NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS_WSA = "http://www.w3.org/2005/08/addressing"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_SAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_CTXBAM = "urn:siram:bam:ctxbam"
NS_CTXLPS = "urn:siram:lps:ctxlps"
NS_SIRAM = "urn:siram"
NS_RECSANS = "http://www.cnamts.fr/INSiRecSans"
NS_RECVIT = "http://www.cnamts.fr/INSiRecVit"
NS_RESULTAT = "http://www.cnamts.fr/INSiResultat"
NS_WEBSERVICE = "http://www.cnamts.fr/webservice"

ACTION_TRAITS = "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite"
ACTION_VITALE = "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale"
OPERATIONS = {
    ACTION_TRAITS: ("rechercherInsAvecTraitsIdentite", NS_RECSANS, "RECSANSVITALE"),
    ACTION_VITALE: ("rechercherInsAvecCarteVitale", NS_RECVIT, "RECVITALE"),
}
