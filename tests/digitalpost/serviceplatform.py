#!/usr/bin/env python3
"""A fake of KOMBIT Serviceplatformen's Digital Post sending (SF1601 KombiPostAfsend) for modtag's tests,
which also plays KOMBIT's Beskedfordeler (SF1461) pushing the asynchronous receipts (PKO_PostStatus).

    python3 serviceplatform.py PORT CONTROL_PORT

127.0.0.1:PORT speaks HTTPS (TLS 1.2+, certs/server.crt) and requires a client certificate signed by
certs/ca.crt, like the real platform's mutual TLS with the kommune's OCES3 system certificate. It serves
the three calls of SF1601 (see README.md and the research notes it cites):

    POST /runtime/api/rest/wstrust/v1/issue      STS: JSON request -> base64 SAML assertion
    POST /service/AccessTokenService_1/token     saml-token=<assertion> -> Holder-of-key access token
    POST /service/KombiPostAfsend_1/kombi        kombi_request (KombiValgKode + memo:Message) -> kombi_response

Every request is checked exactly; anything off gets 400 with a plain-text reason, which is also kept in
the errors list. 127.0.0.1:CONTROL_PORT (plain HTTP) is for the tests:

    GET /__received      JSON list of accepted messages
    GET /__errors        JSON list of reasons for refusals
    GET /__mode/NAME     normal | reject | down | fail-later
    GET /__requests      JSON counts of requests per endpoint
    GET /__receipts?to=URL                   where receipts are pushed (https; none until set)
    GET /__pushes        JSON list of receipt pushes (every try)
    GET /__push_raw?to=URL&what=KIND         push one hostile envelope now (garbage | unknown | doctype)

After a letter is accepted (modes normal and fail-later) and a receipt URL is set, a background thread
POSTs two Beskedfordeler envelopes (ModtagBeskedInput with a base64 PKO_PostStatus) to that URL over
mutual TLS (client certificate certs/beskedfordeler.crt, server checked against certs/ca.crt):
"Modtaget Digital Post", then "Afleveret Digital Post" (normal) or "Fejlet" (fail-later).

Python 3.11 standard library only, plus the xmllint program (Debian libxml2-utils) for the MeMo schema.
Logs go to stderr and never carry message contents.
"""

import base64
import binascii
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
import zoneinfo
import xml.dom
import xml.dom.minidom
import xml.parsers.expat
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CERTS = os.path.join(HERE, "certs")
SCHEMA = "tests/data/memo/MeMo_core.xsd"  # relative to ROOT, where xmllint runs

STS_PATH = "/runtime/api/rest/wstrust/v1/issue"
TOKEN_PATH = "/service/AccessTokenService_1/token"
KOMBI_PATH = "/service/KombiPostAfsend_1/kombi"
ENDPOINTS = {STS_PATH: "sts", TOKEN_PATH: "token", KOMBI_PATH: "kombi"}

TOKEN_TYPE = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
REQUEST_TYPE = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"
KEY_TYPE = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey"
ENTITY_ID = "http://entityid.kombit.dk/service/kombipostafsend/1"
MEMO_NS = "https://DigitalPost.dk/MeMo-1"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"

ASSERTION_LIFETIME = timedelta(hours=8)  # ITK: "By default the SAML token expires 8 hours after being issued"
ACCESS_TOKEN_SECONDS = 3600
MAX_BODY = 64 * 1024 * 1024
MODES = ("normal", "reject", "down", "fail-later")

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ZULU_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
XML_DECL_RE = re.compile(rb"^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")

REJECT_BODY = (
    "<kombi_response><Result>false</Result><FejlKode>memo.invalid</FejlKode>"
    "<FejlTekst>modtageren kan ikke modtage Digital Post</FejlTekst></kombi_response>"
)


def log(text):
    sys.stderr.write(f"serviceplatform: {text}\n")
    sys.stderr.flush()


def utc_now():
    return datetime.now(timezone.utc)


def zulu(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.mode = "normal"
        self.received = []
        self.errors = []
        self.requests = {"sts": 0, "token": 0, "kombi": 0, "other": 0}
        self.receipts_to = None  # https URL receipts are pushed to
        self.pushes = []  # every try of every receipt push
        self.assertions = {}  # base64 assertion -> {cert, cvr, not_on_or_after}
        self.tokens = {}  # access token -> {cert, cvr, expires}


STATE = State()


class Refused(Exception):
    """A request that is off. `short` goes to the log, `detail` (may quote the request) only to the
    400 body and the errors list."""

    def __init__(self, short, detail=""):
        super().__init__(short)
        self.short = short
        self.detail = detail

    def reason(self):
        return f"{self.short}: {self.detail}" if self.detail else self.short


def media_type(value):
    """'application/xml; charset=UTF-8' -> ('application/xml', {'charset': 'utf-8'})."""
    parts = [p.strip() for p in (value or "").split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"').lower()
    return parts[0].lower(), params


def single_header(headers, name):
    """The header's value, None when it is missing; refused when it comes more than once."""
    values = headers.get_all(name) or []
    if len(values) > 1:
        raise Refused(f"header {name} sent {len(values)} times")
    return values[0] if values else None


def require_media_type(headers, wanted):
    kind, params = media_type(single_header(headers, "Content-Type"))
    if kind != wanted:
        raise Refused("wrong Content-Type", f"want {wanted}, got {headers.get('Content-Type')!r}")
    if "charset" in params and params["charset"] not in ("utf-8", "utf8"):
        raise Refused("wrong charset", f"want UTF-8, got {params['charset']!r}")


# --- STS ------------------------------------------------------------------------------------------

def exact_keys(obj, where, required, optional=()):
    if not isinstance(obj, dict):
        raise Refused("wrong JSON shape", f"{where} must be an object")
    missing = [k for k in required if k not in obj]
    if missing:
        raise Refused("missing JSON field", f"{where}: {', '.join(missing)}")
    extra = [k for k in obj if k not in required and k not in optional]
    if extra:
        raise Refused("unexpected JSON field", f"{where}: {', '.join(extra)}")


def want(value, expected, name):
    if value != expected:
        raise Refused(f"wrong {name}", f"want {expected!r}, got {value!r}")


def sts(handler, body, cert_der):
    require_media_type(handler.headers, "application/json")
    try:
        req = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Refused("body is not UTF-8 JSON", str(e))
    exact_keys(req, "request", ["TokenType", "RequestType", "KeyType", "AnvenderKontekst", "UseKey", "AppliesTo"],
               ["OnBehalfOf"])
    want(req["TokenType"], TOKEN_TYPE, "TokenType")
    want(req["RequestType"], REQUEST_TYPE, "RequestType")
    want(req["KeyType"], KEY_TYPE, "KeyType")
    if req.get("OnBehalfOf") is not None:
        raise Refused("wrong OnBehalfOf", "must be null or absent for a system calling on its own behalf")
    exact_keys(req["AnvenderKontekst"], "AnvenderKontekst", ["Cvr"])
    cvr = req["AnvenderKontekst"]["Cvr"]
    if not (isinstance(cvr, str) and re.fullmatch(r"[0-9]{8}", cvr)):
        raise Refused("wrong AnvenderKontekst.Cvr", f"want a string of 8 digits, got {cvr!r}")
    exact_keys(req["AppliesTo"], "AppliesTo", ["EndpointReference"])
    exact_keys(req["AppliesTo"]["EndpointReference"], "AppliesTo.EndpointReference", ["Address"])
    want(req["AppliesTo"]["EndpointReference"]["Address"], ENTITY_ID, "AppliesTo.EndpointReference.Address")
    use_key = req["UseKey"]
    expected = base64.b64encode(cert_der).decode("ascii")
    if use_key != expected:
        raise Refused("wrong UseKey",
                      "want the base64 DER of the client certificate of this TLS connection on one line "
                      "(its PEM body without BEGIN/END lines and line breaks)")

    now = utc_now().replace(microsecond=0)
    until = now + ASSERTION_LIFETIME
    assertion_id = "_" + str(uuid.uuid4())
    xml_text = (
        f'<saml:Assertion xmlns:saml="{SAML_NS}" ID="{assertion_id}" IssueInstant="{zulu(now)}" Version="2.0">'
        f"<saml:Issuer>https://n2adgangsstyring.eksterntest-stoettesystemerne.dk/fake</saml:Issuer>"
        f"<saml:Subject><saml:NameID>modtag-test</saml:NameID>"
        f'<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"/></saml:Subject>'
        f'<saml:Conditions NotBefore="{zulu(now)}" NotOnOrAfter="{zulu(until)}">'
        f"<saml:AudienceRestriction><saml:Audience>{ENTITY_ID}</saml:Audience></saml:AudienceRestriction>"
        f"</saml:Conditions>"
        f'<saml:AttributeStatement><saml:Attribute Name="dk:gov:saml:attribute:CvrNumberIdentifier">'
        f"<saml:AttributeValue>{cvr}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"
        f"</saml:Assertion>"
    )
    assertion = base64.b64encode(xml_text.encode("utf-8")).decode("ascii")
    with STATE.lock:
        STATE.assertions[assertion] = {"cert": cert_der, "cvr": cvr, "not_on_or_after": until}
    # Lifetime: python_serviceplatformen and q-serviceplatformen both read it as one string,
    # datetime.strptime(response["Lifetime"], "%m/%d/%Y %H:%M:%S"), used as the expiry; so it is given here
    # as the expiry in that form (UTC; the real time zone is not known). Clients should rather take the
    # expiry from the assertion's saml:Conditions/@NotOnOrAfter, as itk-dev/serviceplatformen does.
    answer = {
        "RequestedSecurityToken": {"Assertion": assertion},
        "Lifetime": until.strftime("%m/%d/%Y %H:%M:%S"),
    }
    return 200, "application/json", json.dumps(answer)


# --- access token ---------------------------------------------------------------------------------

def token(handler, body, cert_der):
    require_media_type(handler.headers, "application/x-www-form-urlencoded")
    try:
        form = urllib.parse.parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as e:
        raise Refused("body is not a urlencoded form", str(e))
    extra = [k for k in form if k != "saml-token"]
    if extra:
        raise Refused("unexpected form field", ", ".join(extra))
    values = form.get("saml-token", [])
    if len(values) != 1:
        raise Refused("want exactly one saml-token field", f"got {len(values)}")
    with STATE.lock:
        issued = STATE.assertions.get(values[0])
    if issued is None:
        hint = " (a '+' not encoded as %2B turns into a space)" if " " in values[0] else ""
        raise Refused("saml-token is not an assertion this STS issued", hint.strip())
    if utc_now() >= issued["not_on_or_after"]:
        raise Refused("saml-token has expired")
    if issued["cert"] != cert_der:
        raise Refused("holder-of-key mismatch", "the assertion was issued to another client certificate")
    access = str(uuid.uuid4())
    with STATE.lock:
        STATE.tokens[access] = {"cert": cert_der, "cvr": issued["cvr"],
                                "expires": utc_now() + timedelta(seconds=ACCESS_TOKEN_SECONDS)}
    answer = {"access_token": access, "token_type": "Holder-of-key", "expires_in": ACCESS_TOKEN_SECONDS}
    return 200, "application/json", json.dumps(answer)


# --- KombiPostAfsend ------------------------------------------------------------------------------

def element_children(node):
    """Element children, refusing non-blank text between them."""
    out = []
    for c in node.childNodes:
        if c.nodeType == xml.dom.Node.ELEMENT_NODE:
            out.append(c)
        elif c.nodeType in (xml.dom.Node.TEXT_NODE, xml.dom.Node.CDATA_SECTION_NODE) and c.data.strip():
            raise Refused("unexpected text in kombi_request", f"inside <{node.tagName}>")
    return out


def text_of(node):
    return "".join(c.data for c in node.childNodes
                   if c.nodeType in (xml.dom.Node.TEXT_NODE, xml.dom.Node.CDATA_SECTION_NODE))


def memo_child(parent, local):
    for c in parent.childNodes:
        if c.nodeType == xml.dom.Node.ELEMENT_NODE and c.namespaceURI == MEMO_NS and c.localName == local:
            return c
    return None


def message_span(body):
    """Byte offsets of the second-level element <memo:Message ...>...</memo:Message> in the body."""
    parser = xml.parsers.expat.ParserCreate()
    depth = 0
    span = {}

    def start(name, attrs):
        nonlocal depth
        depth += 1
        if depth == 2 and name == "memo:Message" and "start" not in span:
            span["start"] = parser.CurrentByteIndex

    def end(name):
        nonlocal depth
        if depth == 2 and name == "memo:Message" and "start" in span and "end" not in span:
            span["end"] = body.index(b">", parser.CurrentByteIndex) + 1
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(body, True)
    return span["start"], span["end"]


def in_scope_namespaces(element):
    """xmlns declarations on the element's ancestors that the element does not itself redeclare."""
    own = {a.name for a in element.attributes.values()}
    inherited = {}
    node = element.parentNode
    while node is not None and node.nodeType == xml.dom.Node.ELEMENT_NODE:
        for a in node.attributes.values():
            if (a.name == "xmlns" or a.name.startswith("xmlns:")) and a.name not in own:
                inherited.setdefault(a.name, a.value)
        node = node.parentNode
    return inherited


def check_prefixes(node):
    if node.nodeType != xml.dom.Node.ELEMENT_NODE:
        return
    if node.namespaceURI == MEMO_NS and node.prefix != "memo":
        raise Refused("MeMo elements must use the prefix 'memo'",
                      f"<{node.tagName}> is in {MEMO_NS} with prefix {node.prefix!r}")
    for c in node.childNodes:
        check_prefixes(c)


def validate_schema(document):
    try:
        run = subprocess.run(["xmllint", "--noout", "--nonet", "--schema", SCHEMA, "-"], cwd=ROOT,
                             input=document, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise Refused("xmllint is missing", "install Debian's libxml2-utils")
    except subprocess.TimeoutExpired:
        raise Refused("xmllint timed out")
    if run.returncode != 0:
        detail = run.stderr.decode("utf-8", "replace").strip().replace("\n", " | ")
        raise Refused("memo:Message fails the MeMo 1.1 schema", detail)


def kombi(handler, body, cert_der):
    auth = single_header(handler.headers, "Authorization")
    if auth is None:
        raise Refused("missing header Authorization")
    if not auth.startswith("Holder-of-key "):
        raise Refused("wrong Authorization", "want 'Holder-of-key <access_token>'")
    with STATE.lock:
        tok = STATE.tokens.get(auth[len("Holder-of-key "):])
    if tok is None:
        raise Refused("Authorization carries no access token this service issued")
    if utc_now() >= tok["expires"]:
        raise Refused("access token has expired")
    if tok["cert"] != cert_der:
        raise Refused("holder-of-key mismatch", "the access token was issued to another client certificate")

    tid = single_header(handler.headers, "x-TransaktionsId")
    if tid is None:
        raise Refused("missing header x-TransaktionsId")
    if not UUID_RE.match(tid):
        raise Refused("x-TransaktionsId is not a UUID", repr(tid))
    ttid = single_header(handler.headers, "x-TransaktionsTid")
    if ttid is None:
        raise Refused("missing header x-TransaktionsTid")
    try:
        if not ZULU_RE.match(ttid):
            raise ValueError
        datetime.fromisoformat(ttid[:19])
    except ValueError:
        raise Refused("x-TransaktionsTid is not an ISO 8601 UTC time ending in Z", repr(ttid))
    require_media_type(handler.headers, "application/xml")

    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refused("body is not UTF-8", str(e))
    decl = XML_DECL_RE.match(body)
    if decl and decl.group(1).lower() not in (b"utf-8", b"utf8"):
        raise Refused("XML declaration names another encoding than UTF-8", decl.group(1).decode("ascii", "replace"))
    if b"<!DOCTYPE" in body:
        raise Refused("DOCTYPE is not allowed")
    try:
        doc = xml.dom.minidom.parseString(body)
    except xml.parsers.expat.ExpatError as e:
        raise Refused("body is not well-formed XML", str(e))

    root = doc.documentElement
    if root.tagName != "kombi_request" or root.namespaceURI is not None:
        raise Refused("root element must be kombi_request in no namespace",
                      f"got <{root.tagName}> in {root.namespaceURI!r}")
    children = element_children(root)
    if not children or children[0].tagName != "KombiValgKode" or children[0].namespaceURI is not None:
        raise Refused("first child of kombi_request must be KombiValgKode")
    if any(c.nodeType != xml.dom.Node.TEXT_NODE for c in children[0].childNodes) \
            or text_of(children[0]) != "Digital Post":
        raise Refused("KombiValgKode must be exactly 'Digital Post'", repr(text_of(children[0])))
    if len(children) < 2 or children[1].localName != "Message" or children[1].namespaceURI != MEMO_NS:
        raise Refused("KombiValgKode must be followed by memo:Message", f"in namespace {MEMO_NS}")
    message = children[1]
    if message.prefix != "memo":
        raise Refused("MeMo elements must use the prefix 'memo'", f"got <{message.tagName}>")
    if len(children) > 2:
        raise Refused("unexpected element after memo:Message",
                      f"<{children[2].tagName}> (Digital Post needs only KombiValgKode and memo:Message)")
    check_prefixes(message)

    # The Message as its own document: its bytes as sent, plus namespace declarations it inherits.
    start, end = message_span(body)
    text = body[start:end].decode("utf-8")
    inherited = in_scope_namespaces(message)
    if inherited:
        extra = "".join(f' {k}="{v}"' for k, v in inherited.items())
        text = text.replace("<memo:Message", "<memo:Message" + extra, 1)
    memo = '<?xml version="1.0" encoding="UTF-8"?>\n' + text
    validate_schema(memo.encode("utf-8"))

    header = memo_child(message, "MessageHeader")
    message_type = text_of(memo_child(header, "messageType"))
    if message_type != "DIGITALPOST":
        raise Refused("KombiValgKode 'Digital Post' wants messageType DIGITALPOST", repr(message_type))
    sender = memo_child(header, "Sender")
    sender_type = text_of(memo_child(sender, "idType"))
    sender_id = text_of(memo_child(sender, "senderID"))
    if sender_type != "CVR":
        raise Refused("Sender/idType must be CVR", repr(sender_type))
    if not re.fullmatch(r"[0-9]{8}", sender_id):
        raise Refused("Sender/senderID must be a CVR number of 8 digits")
    recipient = memo_child(header, "Recipient")
    recipient_type = text_of(memo_child(recipient, "idType"))
    recipient_id = text_of(memo_child(recipient, "recipientID"))
    if recipient_type not in ("CVR", "CPR"):
        raise Refused("Recipient/idType must be CVR or CPR", repr(recipient_type))
    digits = 8 if recipient_type == "CVR" else 10
    if not re.fullmatch(f"[0-9]{{{digits}}}", recipient_id):
        raise Refused(f"Recipient/recipientID must be {digits} digits for {recipient_type}")

    message_uuid = text_of(memo_child(header, "messageUUID"))

    with STATE.lock:
        mode = STATE.mode
        receipts_to = STATE.receipts_to
    if mode == "reject":
        log("kombi: mode reject, answering memo.invalid")
        return 400, "application/xml", REJECT_BODY
    transmission_id = str(uuid.uuid4())
    record = {
        "transaktions_id": tid,
        "transaktions_tid": ttid,
        "memo": memo,
        "message_uuid": message_uuid,
        "transmission_id": transmission_id,
        "recipient_id": recipient_id,
        "recipient_type": recipient_type,
        "anvender_cvr": tok["cvr"],
    }
    with STATE.lock:
        STATE.received.append(record)
    if receipts_to is not None:
        letter = {"transmission_id": transmission_id, "message_uuid": message_uuid, "cvr": tok["cvr"]}
        threading.Thread(target=push_receipts, args=(receipts_to, letter, mode == "fail-later"),
                         daemon=True).start()
    answer = (
        f"<kombi_response><Result>true</Result><TransmissionID>{transmission_id}</TransmissionID>"
        f"<HovedoplysningerSvarREST><SvarReaktion><Advis><AdvisId>{uuid.uuid4()}</AdvisId>"
        f"<AdvisTekst>received</AdvisTekst></Advis></SvarReaktion></HovedoplysningerSvarREST></kombi_response>"
    )
    return 200, "application/xml", answer


# --- Beskedfordeler (SF1461): pushing PKO_PostStatus receipts ---------------------------------------

PKO_NS = "http://serviceplatformen.dk/xml/print/PKO_PostStatus/1/types"
STATUS_RECEIVED = "Modtaget Digital Post"
STATUS_DELIVERED = "Afleveret Digital Post"
STATUS_FAILED = "Fejlet"
FAIL_CODE = "modtager.ukendt"
FAIL_TEXT = "Modtageren kunne ikke findes i Digital Post"
PUSH_RETRIES = 5  # a push not answered 200 is tried again up to this many times
PUSH_RETRY_SECONDS = 0.5
PUSH_DELAY_SECONDS = 0.2  # after the letter was accepted
PUSH_TIMEOUT_SECONDS = 10
PUSH_KINDS = ("garbage", "unknown", "doctype")
COPENHAGEN = zoneinfo.ZoneInfo("Europe/Copenhagen")

# The envelope exactly as in the real sample PostStatusBeskedModtag.success.xml (research notes, [BFD]),
# including its indentation. The fixed UUIDs (Beskedtype, BeskedAnsvarligAktoer, RelateretObjekt,
# RegistreringsAktoer, ObjektType, Kildesystem, Sikkerhedsklassificering, Fordelingssystem, ...) and
# KildesystemAkkreditiver are the sample's; ObjektHandling is the success sample's, or the error sample's
# for Fejlet. As in the samples, ObjektRegistreringId is the TransmissionId and ObjektId the MessageUUID.
ENVELOPE = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
{doctype}<ns4:ModtagBeskedInput xmlns="urn:oio:sagdok:3.0.0" xmlns:ns2="urn:oio:besked:kuvert:1.0" xmlns:ns3="http://www.w3.org/2000/09/xmldsig#" xmlns:ns4="urn:oio:sts:1.0.0">
    <ns2:Haendelsesbesked>
        <ns2:BeskedId>
            <UUIDIdentifikator>{besked_id}</UUIDIdentifikator>
        </ns2:BeskedId>
        <ns2:BeskedVersion>1.0</ns2:BeskedVersion>
        <ns2:Beskedkuvert>
            <ns2:Filtreringsdata>
                <ns2:Beskedtype>
                    <UUIDIdentifikator>d2bed63c-4853-4008-b6e0-a74c15b15fbf</UUIDIdentifikator>
                </ns2:Beskedtype>
                <ns2:BeskedAnsvarligAktoer>
                    <UUIDIdentifikator>96514e13-afdd-44d6-95a8-adc2ca19b127</UUIDIdentifikator>
                </ns2:BeskedAnsvarligAktoer>
                <ns2:TilladtModtager>
                    <URNIdentifikator>urn:oio:cvr:{cvr}</URNIdentifikator>
                </ns2:TilladtModtager>
                <ns2:RelateretObjekt>
                    <ns2:ObjektId>
                        <UUIDIdentifikator>53213778-de6b-42ee-8fbd-8aa73b0d4d85</UUIDIdentifikator>
                    </ns2:ObjektId>
                    <ns2:ObjektType>
                        <UUIDIdentifikator>91aa31b3-c4b3-499e-8689-93b1ef89f319</UUIDIdentifikator>
                    </ns2:ObjektType>
                </ns2:RelateretObjekt>
                <ns2:ObjektRegistrering>
                    <ns2:ObjektRegistreringId>
                        <UUIDIdentifikator>{transmission_id}</UUIDIdentifikator>
                    </ns2:ObjektRegistreringId>
                    <ns2:RegistreringsAktoer>
                        <UUIDIdentifikator>19dc3a1d-c629-4853-b566-7fe49cf674ce</UUIDIdentifikator>
                    </ns2:RegistreringsAktoer>
                    <ns2:Registreringstidspunkt>
                        <TidsstempelDatoTid>{registered}</TidsstempelDatoTid>
                    </ns2:Registreringstidspunkt>
                    <ns2:ObjektAnsvarligMyndighed>
                        <URNIdentifikator>urn:oio:cvr:{cvr}</URNIdentifikator>
                    </ns2:ObjektAnsvarligMyndighed>
                    <ns2:ObjektId>
                        <UUIDIdentifikator>{message_uuid}</UUIDIdentifikator>
                    </ns2:ObjektId>
                    <ns2:ObjektType>
                        <UUIDIdentifikator>9a7be69f-b736-4e0e-9d5b-78d4f43e7ad7</UUIDIdentifikator>
                    </ns2:ObjektType>
                    <ns2:ObjektHandling>
                        <UUIDIdentifikator>{handling}</UUIDIdentifikator>
                    </ns2:ObjektHandling>
                </ns2:ObjektRegistrering>
            </ns2:Filtreringsdata>
            <ns2:Leveranceinformation>
                <ns2:Dannelsestidspunkt>
                    <TidsstempelDatoTid>{created}</TidsstempelDatoTid>
                </ns2:Dannelsestidspunkt>
                <ns2:TransaktionsId>
                    <UUIDIdentifikator>{transaktions_id}</UUIDIdentifikator>
                </ns2:TransaktionsId>
                <ns2:Kildesystem>
                    <UUIDIdentifikator>19dc3a1d-c629-4853-b566-7fe49cf674ce</UUIDIdentifikator>
                </ns2:Kildesystem>
                <ns2:KildesystemIPAdresse>{ip}</ns2:KildesystemIPAdresse>
                <ns2:KildesystemAkkreditiver>U0VSSUFMTlVNQkVSPUNWUjoxOTQzNTA3NS1GSUQ6Mjg3NjQwNTYgKyBDTj1Lb21iaXQtU1BGLXRlc3Qtc3RzLVNpa2tlcmhlZCAoZnVua3Rpb25zY2VydGlmaWthdCksIE89S09NQklUIEEvUyAvLyBDVlI6MTk0MzUwNzUsIEM9REs=.MTYwNDMxOTk0Ng==.Q049VFJVU1QyNDA4IFN5c3RlbXRlc3QgWFhYSVYgQ0EsIE89VFJVU1QyNDA4LCBDPURL</ns2:KildesystemAkkreditiver>
                <ns2:Sikkerhedsklassificering>
                    <UUIDIdentifikator>1d81c472-0808-44cc-963d-f5ef0170ae1d</UUIDIdentifikator>
                </ns2:Sikkerhedsklassificering>
                <ns2:Leveranceruter>
                    <ns2:Leverancerute>
                        <ns2:Fordelingssystem>
                            <UUIDIdentifikator>f9fbbb38-4b2f-11e5-885d-feff819cdc9f</UUIDIdentifikator>
                        </ns2:Fordelingssystem>
                        <ns2:ModtagelsesTidspunkt>
                            <TidsstempelDatoTid>{routed}</TidsstempelDatoTid>
                        </ns2:ModtagelsesTidspunkt>
                        <ns2:LeveranceTidspunkt>
                            <TidsstempelDatoTid>{delivered}</TidsstempelDatoTid>
                        </ns2:LeveranceTidspunkt>
                        <ns2:ModtagetFraSystem>
                            <UUIDIdentifikator>19dc3a1d-c629-4853-b566-7fe49cf674ce</UUIDIdentifikator>
                        </ns2:ModtagetFraSystem>
                        <ns2:ErLeveretIHenholdTil>
                            <UUIDIdentifikator>f27ab282-1096-4c04-af62-bcd01a2f1525</UUIDIdentifikator>
                        </ns2:ErLeveretIHenholdTil>
                        <ns2:LeveranceruteLokalUdvidelse>
                            <ns2:AntalLeveranceforsoeg>{attempt}</ns2:AntalLeveranceforsoeg>
                        </ns2:LeveranceruteLokalUdvidelse>
                    </ns2:Leverancerute>
                </ns2:Leveranceruter>
            </ns2:Leveranceinformation>
        </ns2:Beskedkuvert>
        <ns2:Beskeddata>
            <Base64 xmlns="urn:besked:kuvert:1.0" xmlns:ns4="urn:oio:sagdok:3.0.0" content-type="application/xml" encoding="UTF-8" file-type=".xml">{base64}</Base64>
    </ns2:Beskeddata>
    </ns2:Haendelsesbesked>
</ns4:ModtagBeskedInput>
"""
HANDLING_SUCCESS = "f7161a89-5068-4023-bc80-d7f4daad2a2e"
HANDLING_ERROR = "e225a75c-4b63-46c4-9423-77f5c8762445"

# For what=doctype: an internal entity that is used, and an external one (XXE) that is used too.
HOSTILE_DOCTYPE = (
    '<!DOCTYPE ns4:ModtagBeskedInput [\n'
    '  <!ENTITY lol "lollollollollollollollollollol">\n'
    '  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
    '  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n'
    ']>\n'
)


def millis_zulu(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def millis_local(moment):
    local = moment.astimezone(COPENHAGEN)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + \
        local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]


def post_status(transmission_id, message_uuid, status, when, fejl=None):
    """A PKO_PostStatus document, compact and without an XML declaration, like the decoded samples."""
    details = "<FejlDetaljer/>" if fejl is None else (
        f"<FejlDetaljer><FejlKode>{escape(fejl[0])}</FejlKode><FejlTekst>{escape(fejl[1])}</FejlTekst></FejlDetaljer>")
    return (
        f'<PKO_PostStatus xmlns="{PKO_NS}"><TransmissionId>{transmission_id}</TransmissionId>'
        f"<MessageUUID>{escape(message_uuid)}</MessageUUID><MessageId>{uuid.uuid4()}</MessageId>"
        f"<KanalKode>Digital Post</KanalKode><TransaktionsDatoTid>{millis_zulu(when)}</TransaktionsDatoTid>"
        f"<TransaktionsStatusKode>{status}</TransaktionsStatusKode>"
        f"<CorrelationId>{transmission_id}</CorrelationId>{details}</PKO_PostStatus>"
    )


def envelope(letter, status, fejl=None, attempt=1, doctype=""):
    """The ModtagBeskedInput the Beskedfordeler would push for one PKO_PostStatus of the letter."""
    when = utc_now()
    inner = post_status(letter["transmission_id"], letter["message_uuid"], status, when, fejl)
    return ENVELOPE.format(
        doctype=doctype,
        besked_id=uuid.uuid4(),
        cvr=escape(letter["cvr"]),
        transmission_id=letter["transmission_id"],
        registered=millis_zulu(when),
        message_uuid=escape(letter["message_uuid"]),
        handling=HANDLING_ERROR if status == STATUS_FAILED else HANDLING_SUCCESS,
        created=millis_zulu(when),
        transaktions_id=uuid.uuid4(),
        ip="::FFFF:127.0.0.1",
        routed=millis_local(when),
        delivered=millis_local(utc_now()),
        attempt=attempt,
        base64=base64.b64encode(inner.encode("utf-8")).decode("ascii"),
    ).encode("utf-8")


def check_push_url(url):
    """None when url is an https URL with a host, else why not."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port
    except ValueError as e:
        return f"not a URL: {e}"
    if parts.scheme != "https" or not parts.hostname:
        return "want an https URL with a host"
    return None


def client_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the server and checks its name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(os.path.join(CERTS, "ca.crt"))
    context.load_cert_chain(os.path.join(CERTS, "beskedfordeler.crt"), os.path.join(CERTS, "beskedfordeler.key"))
    return context


def post(url, body):
    """POST body to url over mutual TLS. (status, answer text); status None on a connection error, with
    the error as the text."""
    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, context=client_context(),
                                       timeout=PUSH_TIMEOUT_SECONDS)
    try:
        conn.request("POST", target, body=body,
                     headers={"Content-Type": "application/xml; charset=UTF-8", "Connection": "close"})
        answer = conn.getresponse()
        return answer.status, answer.read(MAX_BODY).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as e:
        return None, f"connection error: {type(e).__name__}: {e}"
    finally:
        conn.close()


def push_one(url, letter, status, fejl=None):
    """Push one receipt; not answered 200, try again up to PUSH_RETRIES times, as a broker redelivers."""
    for attempt in range(1, PUSH_RETRIES + 2):
        code, text = post(url, envelope(letter, status, fejl, attempt))
        with STATE.lock:
            STATE.pushes.append({"url": url, "status_code": code, "body": text[:500], "transaktions_status": status,
                                 "message_uuid": letter["message_uuid"], "attempt": attempt})
        log(f"push {status!r} try {attempt}: {code if code is not None else 'connection error'}")
        if code == 200:
            return
        if attempt <= PUSH_RETRIES:
            time.sleep(PUSH_RETRY_SECONDS)


def push_receipts(url, letter, fail):
    time.sleep(PUSH_DELAY_SECONDS)
    try:
        push_one(url, letter, STATUS_RECEIVED)
        if fail:
            push_one(url, letter, STATUS_FAILED, (FAIL_CODE, FAIL_TEXT))
        else:
            push_one(url, letter, STATUS_DELIVERED)
    except Exception as e:  # a bug here must not go unnoticed in the tests' logs
        log(f"push thread failed: {type(e).__name__}: {e}")


def hostile(what):
    letter = {"transmission_id": str(uuid.uuid4()), "message_uuid": str(uuid.uuid4()), "cvr": "12345678"}
    if what == "garbage":
        return b"\x00\xff\xfe this is not XML <ns4:ModtagBeskedInput <<< &&& \xc3\x28"
    if what == "unknown":
        return envelope(letter, STATUS_DELIVERED)
    body = envelope(letter, STATUS_DELIVERED, doctype=HOSTILE_DOCTYPE).decode("utf-8")
    body = body.replace("<ns2:KildesystemIPAdresse>::FFFF:127.0.0.1<",
                        "<ns2:KildesystemIPAdresse>&lol2;&xxe;<", 1)
    return body.encode("utf-8")


HANDLERS = {STS_PATH: sts, TOKEN_PATH: token, KOMBI_PATH: kombi}


# --- the HTTPS service ----------------------------------------------------------------------------

class PlatformHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-serviceplatformen"
    sys_version = ""
    timeout = 30

    def handle(self):
        try:
            self.request.do_handshake()
        except (ssl.SSLEOFError, ConnectionError, TimeoutError):
            return
        except (ssl.SSLError, OSError) as e:
            reason = f"tls: handshake refused: {getattr(e, 'reason', None) or e}"
            log(reason)
            with STATE.lock:
                STATE.errors.append(reason)
            return
        super().handle()

    def log_message(self, format, *args):
        pass

    def send(self, status, content_type, text, extra_headers=()):
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise Refused("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        n = int(length)
        if n > MAX_BODY:
            raise Refused("body too large")
        return self.rfile.read(n)

    def dispatch(self):
        path = self.path
        name = ENDPOINTS.get(path, "other")
        with STATE.lock:
            STATE.requests[name] += 1
            mode = STATE.mode
        try:
            body = self.read_body()
        except (ValueError, Refused):
            self.close_connection = True
            body = None
        if mode == "down":
            log(f"{self.command} {path}: mode down, 503")
            self.send(503, "text/plain; charset=utf-8", "service unavailable (fake: mode down)\n",
                      [("Retry-After", "1")])
            return
        if name == "other" or self.command != "POST":
            reason = f"{name if name != 'other' else 'unknown'}: no endpoint {self.command} {path}"
            with STATE.lock:
                STATE.errors.append(reason)
            log(f"{self.command} {path}: 404")
            self.send(404, "text/plain; charset=utf-8", reason + "\n")
            return
        try:
            if body is None:
                raise Refused("unreadable body (bad Content-Length or chunking)")
            status, content_type, text = HANDLERS[path](self, body, self.request.getpeercert(binary_form=True))
        except Refused as r:
            reason = f"{name}: {r.reason()}"
            with STATE.lock:
                STATE.errors.append(reason)
            log(f"{self.command} {path}: 400 {r.short}")
            self.send(400, "text/plain; charset=utf-8", reason + "\n")
            return
        log(f"{self.command} {path}: {status}")
        self.send(status, content_type, text)

    do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = dispatch


class PlatformServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, context):
        self.context = context
        super().__init__(address, PlatformHandler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # The handshake runs in the request's thread (PlatformHandler.handle), not in the accept loop.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


# --- the control port -----------------------------------------------------------------------------

class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, format, *args):
        pass

    def reply(self, status, value):
        data = json.dumps(value, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        parts = urllib.parse.urlsplit(self.path)
        path = parts.path
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        if path == "/__push_raw":
            return self.push_raw(query)
        with STATE.lock:
            if path == "/__received":
                return self.reply(200, list(STATE.received))
            if path == "/__errors":
                return self.reply(200, list(STATE.errors))
            if path == "/__requests":
                return self.reply(200, dict(STATE.requests))
            if path == "/__pushes":
                return self.reply(200, list(STATE.pushes))
            if path == "/__receipts":
                if "to" in query:
                    to = query["to"][-1] or None  # an empty to= stops the pushes
                    why = to and check_push_url(to)
                    if why:
                        return self.reply(400, {"error": why})
                    STATE.receipts_to = to
                    log(f"receipts to {to}")
                return self.reply(200, {"to": STATE.receipts_to})
            if path.startswith("/__mode/"):
                mode = path[len("/__mode/"):]
                if mode not in MODES:
                    return self.reply(400, {"error": f"unknown mode {mode!r}", "modes": list(MODES)})
                STATE.mode = mode
                log(f"mode {mode}")
                return self.reply(200, {"mode": mode})
        self.reply(404, {"error": f"no such control path {self.path}"})

    def push_raw(self, query):
        to = (query.get("to") or [""])[-1]
        what = (query.get("what") or [""])[-1]
        why = check_push_url(to)
        if why:
            return self.reply(400, {"error": why})
        if what not in PUSH_KINDS:
            return self.reply(400, {"error": f"unknown what {what!r}", "what": list(PUSH_KINDS)})
        code, text = post(to, hostile(what))
        log(f"push_raw {what}: {code if code is not None else 'connection error'}")
        self.reply(200, {"what": what, "status_code": code, "body": text})


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: serviceplatform.py PORT CONTROL_PORT")
    port, control_port = int(sys.argv[1]), int(sys.argv[2])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(os.path.join(CERTS, "server.crt"), os.path.join(CERTS, "server.key"))
    context.load_verify_locations(os.path.join(CERTS, "ca.crt"))
    context.verify_mode = ssl.CERT_REQUIRED
    platform = PlatformServer(("127.0.0.1", port), context)
    control = ThreadingHTTPServer(("127.0.0.1", control_port), ControlHandler)
    control.daemon_threads = True
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print("serviceplatform listening", flush=True)
    log(f"https://127.0.0.1:{port} (client certificates from certs/ca.crt), control http://127.0.0.1:{control_port}")
    try:
        platform.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
