#!/usr/bin/env python3
"""Writes the .eml corpus for issue 4's classification tests (tests/data/corpus/).

Every message is made up for modtag, with Danish content and the demo directory's people.
The expected extraction for each lives beside it as .json, written by the corpus test with
UPDATE_EXPECT=1 (cargo test -p modtag-intake --test corpus) and checked by hand.

Run from the repository root:  python3 tests/data/corpus/generate.py
The encrypted samples need gpg and the demo keys (deploy/demo/keys); they differ on every
run (fresh session keys), the rest is byte-for-byte reproducible.
"""
import base64
import email.charset
import os
import quopri
import shutil
import subprocess
import sys
import tempfile
from email.header import Header
from email.utils import encode_rfc2231

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
KEYS = os.path.join(ROOT, "deploy", "demo", "keys")
DATE = "Mon, 23 Nov 2026 09:15:00 +0100"
written = []


def crlf(s):
    return s.replace("\r\n", "\n").replace("\n", "\r\n")


def save(name, data):
    if isinstance(data, str):
        data = crlf(data).encode("utf-8")
    path = os.path.join(HERE, name + ".eml")
    with open(path, "wb") as f:
        f.write(data)
    written.append(name)


def msg(frm, subject, body, to="underretning@kommune.dk", extra="", ctype="text/plain; charset=utf-8", cte="8bit", mid=None):
    mid = mid or f"<{len(written) + 1}@corpus.modtag>"
    return (f"From: {frm}\nTo: {to}\nSubject: {subject}\nDate: {DATE}\nMessage-ID: {mid}\n"
            f"MIME-Version: 1.0\n{extra}Content-Type: {ctype}\nContent-Transfer-Encoding: {cte}\n\n{body}")


def multipart(frm, subject, parts, to="underretning@kommune.dk", sub="mixed", boundary="=_grænse_42"):
    head = (f"From: {frm}\nTo: {to}\nSubject: {subject}\nDate: {DATE}\n"
            f"Message-ID: <{len(written) + 1}@corpus.modtag>\nMIME-Version: 1.0\n"
            f"Content-Type: multipart/{sub}; boundary=\"{boundary}\"\n\n")
    body = "".join(f"--{boundary}\n{p}\n" for p in parts) + f"--{boundary}--\n"
    return head + "This is a multi-part message in MIME format.\n" + body


def part(ctype, body, cte="8bit", filename=None, disposition=None):
    h = f"Content-Type: {ctype}\nContent-Transfer-Encoding: {cte}\n"
    if filename is not None:
        h += f"Content-Disposition: {disposition or 'attachment'}; filename=\"{filename}\"\n"
    return h + "\n" + body


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.encodebytes(data).decode()


def qp(text, charset):
    return quopri.encodestring(text.encode(charset)).decode("ascii")


SCHOOL = "Kontoret Bakkeskolen <kontor@bakkeskolen.dk>"
TEACHER = "Hanne Lærer <hanne.laerer@bakkeskolen.dk>"
CITIZEN = "Jens Nabo <jens.nabo@gmail.example>"
GP = "Lægehuset Torvet <klinik@laegehuset-torvet.example>"
JOURNAL = "Journalen <journalen@kommune.localhost>"
FRISKOLEN = "Susanne Møller <leder@friskolen.dk>"
CONCERN = ("Vi er bekymrede for en elev i 4.b, Emil (CPR 120315-4321).\n"
           "Han kommer ofte sulten i skole og har været fraværende mange dage.\n")

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 32 + b"\xff\xd9"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"
DOCX = (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 16 + b"[Content_Types].xml" + b"\x00" * 8
        + b"PK\x03\x04" + b"\x00" * 22 + b"word/document.xml" + b"\x00" * 8)
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 56


def tnef(files):
    """A minimal TNEF stream (winmail.dat) with the given (name, bytes) attachments."""
    def attr(level, aid, data):
        return (bytes([level]) + aid.to_bytes(4, "little") + len(data).to_bytes(4, "little")
                + data + (sum(data) % 65536).to_bytes(2, "little"))
    out = (0x223E9F78).to_bytes(4, "little") + (0x1234).to_bytes(2, "little")
    out += attr(1, 0x00089006, b"\x00\x00\x01\x00")
    out += attr(1, 0x00069007, (1252).to_bytes(4, "little") + b"\x00" * 4)
    out += attr(1, 0x00078008, b"IPM.Microsoft Mail.Note\x00")
    for name, data in files:
        out += attr(2, 0x00069002, b"\x01\x00" + b"\xff" * 4 + b"\x00" * 8)
        out += attr(2, 0x00018010, name.encode("cp1252") + b"\x00")
        out += attr(2, 0x0006800F, data)
    return out


# --- underretninger ----------------------------------------------------------------------
save("01-school-plain", msg(SCHOOL, "Bekymring for elev i 4.b", CONCERN + "\nMed venlig hilsen\nKontoret, Bakkeskolen\n"))
save("02-citizen-named", msg(CITIZEN, "Bekymring for naboens børn",
     "Hej\n\nJeg bor ved siden af en familie, hvor børnene ofte er alene hjemme om aftenen.\n"
     "Den mindste hedder Sofie, 010120-1234.\n\nVenlig hilsen\nJens Nabo\n"))
save("03-citizen-anonymous", msg("Bekymret borger <bekymret1234@gmail.example>", "Underretning",
     "Jeg ønsker at være anonym.\n\nDrengen i nr. 14 bliver råbt af hver aften og har blå mærker.\n"))
save("04-akut-signals", msg(TEACHER, "HASTER: elev tør ikke gå hjem",
     "Eleven Emil 120315-4321 fortæller i dag, at han bliver slået derhjemme og tør ikke gå hjem.\n"
     "Vi har ikke kontaktet politiet endnu.\n"))
save("05-html-only", msg(SCHOOL, "Bekymring (HTML)",
     "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
     "<p>Vi er <b>bekymrede</b> for Emil, 120315-4321.</p><p>Han græder ofte.&nbsp;Mvh skolen</p>"
     "<img src=\"http://tracker.example/pixel.gif\"></body></html>\n", ctype="text/html; charset=utf-8"))
save("06-alternative", multipart(SCHOOL, "Bekymring for Emil", [
    part("text/plain; charset=utf-8", "Tekstudgaven: vi er bekymrede for Emil 120315-4321.\n"),
    part("text/html; charset=utf-8", "<p>HTML-udgaven: vi er bekymrede for Emil.</p>\n")], sub="alternative"))
save("07-qp-latin1", msg(SCHOOL, "Bekymring", qp("Vi er bekymrede for Søren (120315-4321). Han får ikke mad og er træt.\n", "iso-8859-1"),
     ctype="text/plain; charset=iso-8859-1", cte="quoted-printable"))
save("08-base64-utf8", msg(SCHOOL, "Bekymring", b64("Æblegrød og bekymring: Åse, 010120-1234, har det svært.\n"),
     cte="base64"))
cp1252 = "Hun sagde \u201dnej\u201d til hjælp \u2013 vi er bekymrede for hende, 010120-1234.\n"
save("09-windows-1252", (
    f"From: {SCHOOL}\nTo: underretning@kommune.dk\nSubject: Bekymring\nDate: {DATE}\nMIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: 8bit\n\n").encode()
    .replace(b"\n", b"\r\n") + crlf(cp1252).encode("cp1252"))
save("10-iso-8859-15", (
    f"From: {SCHOOL}\nTo: underretning@kommune.dk\nSubject: Bekymring\nDate: {DATE}\nMIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=iso-8859-15\nContent-Transfer-Encoding: 8bit\n\n").encode()
    .replace(b"\n", b"\r\n") + crlf("Familien skylder 500 € i husleje; Søren 120315-4321 er sulten.\n").encode("iso-8859-15"))
save("11-undeclared-8bit", (
    f"From: {SCHOOL}\nTo: underretning@kommune.dk\nSubject: Bekymring\nDate: {DATE}\n\n").encode()
    .replace(b"\n", b"\r\n") + crlf("Søren på 7 år (120315-4321) græder hver morgen.\n").encode("latin-1"))
save("12-subject-q-latin1", msg(SCHOOL, Header("Bekymring for Søren i børnehaven", "iso-8859-1").encode(), CONCERN))
save("13-subject-b-utf8", msg(SCHOOL, "=?utf-8?b?" + base64.b64encode("Bekymring: Åse græder".encode()).decode() + "?=", CONCERN))
save("14-rfc2231-filename", multipart(SCHOOL, "Bekymring med bilag", [
    part("text/plain; charset=utf-8", CONCERN),
    "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
    f"Content-Disposition: attachment; filename*={encode_rfc2231('Notat om Søren æøå.pdf', 'utf-8')}\n\n" + b64(PDF)]))
save("15-pdf-attachment", multipart(SCHOOL, "Bekymring", [
    part("text/plain; charset=utf-8", CONCERN), part("application/pdf", b64(PDF), "base64", "notat.pdf")]))
save("16-hostile-filename", multipart(SCHOOL, "Bekymring", [
    part("text/plain; charset=utf-8", CONCERN),
    part("application/pdf", b64(PDF), "base64", "../../../etc/cron.d/notat\u202efdp.exe")]))
save("17-exe-as-pdf", multipart(SCHOOL, "Bekymring", [
    part("text/plain; charset=utf-8", CONCERN), part("application/pdf", b64(EXE), "base64", "rapport.pdf")]))
save("18-docx", multipart(SCHOOL, "Bekymring", [
    part("text/plain; charset=utf-8", CONCERN),
    part("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b64(DOCX), "base64", "notat.docx")]))
save("19-images", multipart(SCHOOL, "Billeder af skader", [
    part("text/plain; charset=utf-8", "Billeder vedhæftet af Emils blå mærker (120315-4321).\n"),
    part("image/jpeg", b64(JPEG), "base64", "IMG_0001.jpg"), part("image/png", b64(PNG), "base64", "skærmbillede.png")]))
save("20-text-attachment-cpr", multipart(SCHOOL, "Bekymring", [
    part("text/plain; charset=utf-8", "Se vedhæftede notat.\n"),
    part("text/plain; charset=utf-8", "Notat: Søster Sofie 010120-1234 og bror Emil 120315-4321.\n", filename="notat.txt")]))
save("21-winmail-dat", multipart(SCHOOL, "Bekymring (Outlook)", [
    part("text/plain; charset=utf-8", CONCERN),
    part("application/ms-tnef", b64(tnef([("Notat om Emil.pdf", PDF), ("billede.jpg", JPEG)])), "base64", "winmail.dat")]))
inner = msg(TEACHER, "Emil i 4.b", "Jeg er bekymret for Emil, 120315-4321.\n", to="kontor@bakkeskolen.dk")
save("22-attached-message-to-modtagelsen", multipart(SCHOOL, "Videresender bekymring fra lærer", [
    part("text/plain; charset=utf-8", "Se lærerens mail nedenfor.\n"),
    "Content-Type: message/rfc822\nContent-Disposition: attachment; filename=\"laererens mail.eml\"\n\n" + crlf(inner)]))
save("23-mod11-and-bad-dates", msg(SCHOOL, "Bekymring for søskende",
     "Storebror 070761-4286 (fejler modulus 11, men gyldig), lillebror 320115-1234 (ingen dato), "
     "ordrenummer 12345678901 og telefon 12 34 56 78.\n"))
save("24-cpr-formats", msg(SCHOOL, "Bekymring 120315 4321",
     "Uden bindestreg: 0101201234. Med mellemrum i emnet. Igen: 120315-4321.\n"))
save("25-police", msg("Politiet <station@politi.dk>", "Underretning fra politiet",
     "Politiet har i nat været på adressen. Barnet Sofie, 010120-1234, var alene hjemme.\n"))
save("26-form-fields", msg("noreply@sikkermail.example", "Underretning via formular",
     "Navn: Karin Pædagog\nStilling: Pædagog\nArbejdssted: Vuggestuen Mælkebøtten\nAnonym: Nej\n\n"
     "Beskrivelse: Barnet (010120-1234) kommer ofte uden tøj til vejret.\n"))
save("27-form-anonymous", msg("noreply@sikkermail.example", "Underretning via formular",
     "Navn:\nAnonym: Ja\n\nBeskrivelse: En pige på 10 år (010115-4000) fortæller om vold i hjemmet.\n"))
save("28-no-from", ("To: underretning@kommune.dk\nSubject: Bekymring\nDate: " + DATE + "\n\n"
                    "En dreng på legepladsen siger at han ikke får mad.\n"))
save("29-skaerpet", msg("Anne Sundhedsplejerske <anne@sundhedsplejen.example>", "Underretning",
     "Jeg underretter som fagperson med skærpet underretningspligt om spædbarnet 010125-4003.\n"))

# --- Trivsel+ (Send sikkert) ---------------------------------------------------------------
TP = "trivselplus@kommune.dk"
save("30-trivsel-matched", msg(FRISKOLEN, "Trivsel+ Karen Poulsen Henrik Sørensen",
     "Friskolen, CVR 13585628, ønsker et tværfagligt team om en elev på trin 2.\n", to=TP))
save("31-trivsel-case-spacing", msg(FRISKOLEN, "TRIVSEL + poulsen karen", "Forespørgsel om TRIVSEL+ forløb.\n", to=TP))
save("32-trivsel-prefixes", msg(FRISKOLEN, "SV: VS: Trivsel+: Henrik Sorensen, Camilla  Berg", "Se tråden.\n", to=TP))
save("33-trivsel-unmatched", msg(FRISKOLEN, "Trivsel plus Karen Poulsen og Ukendt Person", "Ny leder?\n", to=TP))
save("34-trivsel-misspelled", msg(FRISKOLEN, "Trivsel+ Karin Poulsen", "Til PPR.\n", to=TP))
save("35-trivsel-encoded", msg(FRISKOLEN, Header("Trivsel+ Henrik Sørensen Birgitte Hansen", "iso-8859-1").encode(),
     "Trin 2, Friskolen CVR-nr.: 13 58 56 28.\n", to=TP))
save("36-trivsel-fwd", msg(FRISKOLEN, "Fwd: Trivsel+ Sørensen Henrik", "Videresendt.\n", to=TP))
save("37-sendsikkert-no-trivsel", msg(FRISKOLEN, "Bekymring for elev", "Vi er bekymrede for en elev, 120315-4321.\n", to=TP))
save("38-trivsel-bad-cvr", msg("Leder <leder@privatskole.example>", "Trivsel+ Karen Poulsen",
     "Privatskolen, CVR 13585627.\n", to=TP))
save("39-trivsel-utf8-b", msg(FRISKOLEN, "=?UTF-8?B?" + base64.b64encode("Trivsel+ Børneskolerådgiverne".encode()).decode() + "?=",
     "Til Børneskolerådgiverne.\n", to=TP))

# --- LÆ 165 ----------------------------------------------------------------------------------
save("40-lae165-subject", msg(GP, "LÆ 165 vedr. barn 010120-1234", "Se vedhæftede LÆ 165.\n"))
save("41-lae165-attachment", multipart(GP, "Korrespondance fra lægen", [
    part("text/plain; charset=utf-8", "Hermed erklæring.\n"), part("application/pdf", b64(PDF), "base64", "LAE165_blanket.pdf")]))
save("42-lae165-text", msg(GP, "Henvendelse fra egen læge",
     "Lægeerklæring LÆ 165 til kommunen om social-medicinsk hjælp.\nBarn: 120315-4321\nPraktiserende læge\n"))
save("43-lae165-encoded", msg(GP, Header("LÆ165 - forslag om hjælp", "utf-8").encode(), "Forslag om social-medicinsk hjælp.\n"))

# --- postfordeling: forwards by journal staff ----------------------------------------------
PF = "postfordeling@kommune.dk"
orig = msg(TEACHER, "Bekymring for Emil", "Emil 120315-4321 har det skidt.\n", to="kontor@kommune.dk")
save("44-fwd-rfc822", multipart(JOURNAL, "VS: Bekymring for Emil", [
    part("text/plain; charset=utf-8", "Til Modtagelsen.\n"),
    "Content-Type: message/rfc822\n\n" + crlf(orig)], to=PF))
save("45-fwd-outlook-da", msg(JOURNAL, "VS: Bekymring",
     "Til Modtagelsen.\n\n________________________________\nFra: Hanne Lærer [mailto:hanne.laerer@bakkeskolen.dk]\n"
     "Sendt: 18. november 2026 09:14\nTil: Kommunen\nEmne: Bekymring for elev\n\n" + CONCERN, to=PF))
save("46-fwd-outlook-en", msg(JOURNAL, "FW: Concern",
     "For Modtagelsen.\n\nFrom: Anne Nurse <anne@regionh.dk>\nSent: Wednesday, November 18, 2026 9:14 AM\n"
     "To: Kommune\nSubject: Concern about a child\n\nChild 010120-1234 was seen at the emergency room.\n", to=PF))
save("47-fwd-thunderbird-da", msg(JOURNAL, "Fwd: Bekymring",
     "\n\n-------- Videresendt meddelelse --------\nEmne: \tBekymring for Sofie\nDato: \tTue, 17 Nov 2026 14:02:11 +0100\n"
     "Fra: \tJens Nabo <jens.nabo@gmail.example>\nTil: \tkommunen@kommune.dk\n\nSofie 010120-1234 er alene hjemme.\n", to=PF))
save("48-fwd-original-message", msg(JOURNAL, "FW: Underretning",
     "Videresendes.\n\n-----Original Message-----\nFrom: Kontoret Bakkeskolen <kontor@bakkeskolen.dk>\n"
     "Sent: Monday, November 16, 2026 10:00 AM\nTo: Kommune\nSubject: Underretning om elev\n\n" + CONCERN, to=PF))
save("49-fwd-thunderbird-en", msg(JOURNAL, "Fwd: Concern",
     "-------- Forwarded Message --------\nSubject: \tBekymring\nDate: \tMon, 16 Nov 2026 08:00:00 +0100\n"
     "From: \tKontoret Bakkeskolen <kontor@bakkeskolen.dk>\n\n" + CONCERN, to=PF))
save("50-fwd-gmail", msg(JOURNAL, "Fwd: bekymring",
     "---------- Forwarded message ---------\nFrom: Jens Nabo <jens.nabo@gmail.example>\nDate: man. 16. nov. 2026 kl. 20.01\n"
     "Subject: bekymring\nTo: <kommunen@kommune.dk>\n\nBørnene er alene hjemme igen.\n", to=PF))
orig2 = multipart(TEACHER, "VS: Bekymring for Emil", [part("text/plain; charset=utf-8", "Se nedenfor.\n"),
                  "Content-Type: message/rfc822\n\n" + crlf(msg("Forælder <foraelder@gmail.example>", "Min søns klassekammerat",
                                                                "Emil 120315-4321 siger han bliver slået.\n", to=TEACHER))], to="kontor@kommune.dk", boundary="indre")
save("51-fwd-of-fwd", multipart(JOURNAL, "VS: VS: Bekymring for Emil", [
    part("text/plain; charset=utf-8", "Til Modtagelsen.\n"), "Content-Type: message/rfc822\n\n" + crlf(orig2)], to=PF))
save("52-fwd-lae165", msg(JOURNAL, "VS: LÆ 165",
     "Til Modtagelsen.\n\nFra: Lægehuset Torvet [mailto:klinik@laegehuset-torvet.example]\nSendt: 17. november 2026 11:00\n"
     "Til: Kommunen\nEmne: LÆ 165 vedr. 010120-1234\n\nSe blanket.\n", to=PF))
save("53-postfordeling-no-original", msg(JOURNAL, "Til Modtagelsen", "Borger ringede om bekymring for barn 010120-1234.\n", to=PF))
save("54-journal-fwd-to-modtagelsen", msg(JOURNAL, "VS: Bekymring",
     "Fra: Hanne Lærer [mailto:hanne.laerer@bakkeskolen.dk]\nSendt: 18. november 2026 09:14\nTil: Kommunen\n"
     "Emne: Bekymring for elev\n\n" + CONCERN))

# --- malformed -----------------------------------------------------------------------------
save("55-missing-boundary", (f"From: {SCHOOL}\nTo: underretning@kommune.dk\nSubject: Bekymring\nDate: {DATE}\n"
                             "MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n--x\nContent-Type: text/plain\n\n" + CONCERN + "--x--\n"))
save("56-wrong-boundary", (f"From: {SCHOOL}\nTo: underretning@kommune.dk\nSubject: Bekymring\nDate: {DATE}\n"
                           "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"rigtig\"\n\n--forkert\n"
                           "Content-Type: text/plain\n\n" + CONCERN + "--forkert--\n"))
save("57-truncated-base64", multipart(SCHOOL, "Bekymring", [
    part("text/plain; charset=utf-8", CONCERN), part("application/pdf", b64(PDF)[:37] + "!!!", "base64", "notat.pdf")]))
save("58-huge-header", (f"From: {SCHOOL}\nTo: underretning@kommune.dk\nSubject: Bekymring\nX-Junk: " + "A" * 100_000 +
                        f"\nDate: {DATE}\n\n" + CONCERN))
save("59-ten-thousand-parts", (f"From: {SCHOOL}\nTo: underretning@kommune.dk\nSubject: Mange dele\nDate: {DATE}\n"
                               "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n" +
                               "--b\nContent-Type: text/plain\n\nx\n" + "--b\n\nx\n" * 9999 + "--b--\n"))
deep = CONCERN
for i in range(60):
    deep = f"Content-Type: multipart/mixed; boundary=\"d{i}\"\n\n--d{i}\n" + ("Content-Type: text/plain\n\n" if i == 0 else "") + deep + f"\n--d{i}--\n"
save("60-deep-nesting", f"From: {SCHOOL}\nTo: underretning@kommune.dk\nSubject: Dybt\nDate: {DATE}\nMIME-Version: 1.0\n" + deep)
save("61-zero-bytes", b"")
save("62-binary-junk", bytes((i * 7919 + 13) % 256 for i in range(4096)))
save("63-body-only", "Hej, jeg er bekymret for min nabos barn. Hilsen Jens\n")
save("64-header-8bit-subject", (f"From: {SCHOOL}\nTo: underretning@kommune.dk\nDate: {DATE}\n").encode().replace(b"\n", b"\r\n")
     + "Subject: Bekymring for Søren\r\n\r\nSe emnet.\r\n".encode("latin-1"))
save("65-ole-doc", multipart(SCHOOL, "Bekymring", [
    part("text/plain; charset=utf-8", CONCERN), part("application/msword", b64(OLE), "base64", "notat.doc"),
    part("application/zip", b64(b"PK\x03\x04" + b"\x00" * 40), "base64", "arkiv.zip")]))


# --- encrypted to the kommune's key (needs gpg) -----------------------------------------------
def gpg(home, *args, data=None):
    return subprocess.run(["gpg", "--homedir", home, "--batch", "--yes", "--trust-model", "always", *args],
                          input=data, capture_output=True, check=True).stdout


if shutil.which("gpg"):
    home = tempfile.mkdtemp()
    os.chmod(home, 0o700)
    for f in ["modtagelsen.cert.asc", "journalen.cert.asc", "leder-friskolen.key.asc"]:
        gpg(home, "--import", os.path.join(KEYS, f))
    gpg(home, "--quick-gen-key", "--passphrase", "", "Ukendt <ukendt@example.org>", "ed25519", "sign", "never")

    def encrypt(plain, to, signer=None):
        args = ["--armor", "--encrypt", "--recipient", to]
        if signer:
            args = ["--armor", "--sign", "--local-user", signer, "--encrypt", "--recipient", to]
        return gpg(home, *args, data=crlf(plain).encode()).decode()

    def pgp_mime(frm, subject, inner_entity, to_key, signer=None):
        armored = encrypt(inner_entity, to_key, signer)
        return multipart(frm, subject, [
            "Content-Type: application/pgp-encrypted\n\nVersion: 1\n",
            "Content-Type: application/octet-stream; name=\"encrypted.asc\"\n\n" + armored],
            sub="encrypted; protocol=\"application/pgp-encrypted\"", boundary="pgp")

    entity = ("Content-Type: multipart/mixed; boundary=\"indre\"\n\n--indre\nContent-Type: text/plain; charset=utf-8\n\n"
              + CONCERN + "--indre\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"notat.pdf\"\n"
              "Content-Transfer-Encoding: base64\n\n" + b64(PDF) + "--indre--\n")
    save("66-pgp-mime-signed-known", pgp_mime(FRISKOLEN, "...", entity, "modtagelsen@kommune.localhost", "leder@friskolen.localhost"))
    save("67-pgp-inline", msg(SCHOOL, "Krypteret bekymring", encrypt(CONCERN, "modtagelsen@kommune.localhost")))
    save("68-pgp-other-key", pgp_mime(SCHOOL, "Krypteret", entity, "journalen@kommune.localhost"))
    save("69-pgp-mime-unknown-signer", pgp_mime(SCHOOL, "Krypteret", entity, "modtagelsen@kommune.localhost", "ukendt@example.org"))
    shutil.rmtree(home)
else:
    print("gpg not found: the encrypted samples were not rewritten", file=sys.stderr)

# 70-mail-parser-panic.eml is not generated: cargo fuzz found it (mail-parser 0.11 panics on
# it); it is kept as found.
print(f"{len(written)} messages in {HERE}")
