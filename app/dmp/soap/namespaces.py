"""Names of the DMP's XDS.b SOAP face: XML namespaces, WS-Addressing actions, ebRIM classification schemes,
external identifiers, object types, association types, stored-query ids and status URNs.

Sources: IHE ITI TF-3 §4.2.5 (Table 4.2.5-1, the metadata UUIDs), ITI TF-2a §3.18.4.1.2.3.7 (stored query
ids), ITI TF-2b §3.41/3.43 and TF-2c §3.57 (actions), ebRS 3.0 (namespaces); the CI-SIS statuses from
reference/dmp.md §1.1/§2.1 (Mediboard ``CXDSFactory::generateXDS57``).
"""

from __future__ import annotations

# --- XML namespaces -------------------------------------------------------------------------------------
NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS_WSA = "http://www.w3.org/2005/08/addressing"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS_SAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XOP = "http://www.w3.org/2004/08/xop/include"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_XDSB = "urn:ihe:iti:xds-b:2007"
NS_RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
NS_RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
NS_LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
NS_QUERY = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
NS_RMD = "urn:ihe:iti:rmd:2017"

# --- WS-Addressing actions (request, response) ----------------------------------------------------------
ACTION_ITI41 = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
ACTION_ITI18 = "urn:ihe:iti:2007:RegistryStoredQuery"
ACTION_ITI43 = "urn:ihe:iti:2007:RetrieveDocumentSet"
ACTION_ITI57 = "urn:ihe:iti:2010:UpdateDocumentSet"


def response_action(action: str) -> str:
    """IHE ITI TF-2x: every response action is the request's with ``Response`` appended."""
    return action + "Response"


# --- RegistryResponse statuses (ebRS 3.0) ---------------------------------------------------------------
STATUS_SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
STATUS_FAILURE = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
STATUS_PARTIAL = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"
SEVERITY_ERROR = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"
SEVERITY_WARNING = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"

# --- availability statuses (ebRIM, and the CI-SIS ones of JDV_J52) ---------------------------------------
STATUS_APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
STATUS_DEPRECATED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
STATUS_ARCHIVED = "urn:asip:ci-sis:2010:StatusType:Archived"
STATUS_DELETED = "urn:asip:ci-sis:2010:StatusType:Deleted"

# --- object types ----------------------------------------------------------------------------------------
OBJECT_TYPE_STABLE_DOCUMENT = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
OBJECT_TYPE_ON_DEMAND_DOCUMENT = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248"
OBJECT_TYPE_REGISTRY_PACKAGE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage"
OBJECT_TYPE_ASSOCIATION = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association"
OBJECT_TYPE_CLASSIFICATION = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification"
OBJECT_TYPE_EXTERNAL_IDENTIFIER = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier"

# --- classification nodes and schemes (ITI TF-3 Table 4.2.5-1) --------------------------------------------
NODE_SUBMISSION_SET = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
NODE_FOLDER = "urn:uuid:d9d542f3-6cc4-48b6-8870-ea235fbc94c2"

SCHEME_DOC_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
SCHEME_DOC_CLASS = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
SCHEME_DOC_CONFIDENTIALITY = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
SCHEME_DOC_EVENT = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
SCHEME_DOC_FORMAT = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
SCHEME_DOC_FACILITY = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
SCHEME_DOC_PRACTICE = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
SCHEME_DOC_TYPE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
SCHEME_SS_AUTHOR = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
SCHEME_SS_CONTENT_TYPE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
SCHEME_FOLDER_CODE = "urn:uuid:1ba97051-7806-41a8-a48b-8fce7af683c5"

# --- external identifiers -------------------------------------------------------------------------------
IDENT_DOC_PATIENT = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
IDENT_DOC_UNIQUE = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
IDENT_SS_PATIENT = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
IDENT_SS_SOURCE = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
IDENT_SS_UNIQUE = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
IDENT_FOLDER_PATIENT = "urn:uuid:f64ffdf0-4b97-4e06-b79f-a52b38ec2f8a"
IDENT_FOLDER_UNIQUE = "urn:uuid:75df8f67-9973-4fbe-a900-df66cefecc5a"

# --- association types ----------------------------------------------------------------------------------
ASSOC_HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
ASSOC_RPLC = "urn:ihe:iti:2007:AssociationType:RPLC"
ASSOC_XFRM = "urn:ihe:iti:2007:AssociationType:XFRM"
ASSOC_APND = "urn:ihe:iti:2007:AssociationType:APND"
ASSOC_XFRM_RPLC = "urn:ihe:iti:2007:AssociationType:XFRM_RPLC"
ASSOC_SIGNS = "urn:ihe:iti:2007:AssociationType:signs"
ASSOC_UPDATE_AVAILABILITY = "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"

# --- stored queries (ITI TF-2a §3.18.4.1.2.3.7) ----------------------------------------------------------
QUERY_FIND_DOCUMENTS = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
QUERY_FIND_SUBMISSION_SETS = "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9"
QUERY_FIND_FOLDERS = "urn:uuid:958f3006-baad-4929-a4de-ff1114824431"
QUERY_GET_ALL = "urn:uuid:10b545ea-725c-446d-9b95-8aeb444eddf3"
QUERY_GET_DOCUMENTS = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4"
QUERY_GET_FOLDERS = "urn:uuid:5737b14c-8a1a-4539-b659-e03a34a5e1e4"
QUERY_GET_ASSOCIATIONS = "urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155"
QUERY_GET_DOCUMENTS_AND_ASSOCIATIONS = "urn:uuid:bab9529a-4a10-40b3-a01f-f68a615d247a"
QUERY_GET_SUBMISSION_SETS = "urn:uuid:51224314-5390-4169-9b91-b1980040715a"
QUERY_GET_SUBMISSION_SET_AND_CONTENTS = "urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83"
QUERY_GET_FOLDER_AND_CONTENTS = "urn:uuid:b909a503-523d-4517-8acf-8e5834dfc4c7"
QUERY_GET_FOLDERS_FOR_DOCUMENT = "urn:uuid:10cae35a-c7f9-4cf5-b61e-fc3278ffb578"
QUERY_GET_RELATED_DOCUMENTS = "urn:uuid:d90e5407-b356-4d91-a89f-873917b4b0e6"
QUERY_FIND_DOCUMENTS_BY_REFERENCE_ID = "urn:uuid:12941a89-e02e-4be5-967c-ce4bfc8fe492"

RETURN_OBJECT_REF = "ObjectRef"
RETURN_LEAF_CLASS = "LeafClass"

# --- the DMP's identifiers ------------------------------------------------------------------------------
# The repository and home community the sandbox answers as (settings override them: app.dmp.config).
DEFAULT_REPOSITORY_UNIQUE_ID = "1.2.250.1.213.1.4.2.999.1"
DEFAULT_HOME_COMMUNITY_ID = "urn:oid:1.2.250.1.213.1.4.2.999"
