#!/usr/bin/env python3
"""Writes the MIME mails that core/tests/detect.rs feeds to the detector (core/tests/mail/*.eml).

The mails are made by Python's own `email` package, so their MIME encoding (quoted-printable,
base64, charsets, multipart structure) is a real mail library's and not our detector's idea of
it. Run once and commit the outputs; the tests read them with include_bytes!:

    python3 scripts/vectors/make_mail_fixtures.py

Pointers: CLM vectors from core/tests/vectors/clm-pointers.json, and native pointers computed
here from the root key [7; 32] exactly as `NativeKeys::from_root(&[7; 32]).encode(..)` does (the
tests re-encode them in Rust and compare, which also cross-checks docs/PROTOCOL.md). Everything
is deterministic: fixed dates, message ids and boundaries, so re-running changes nothing.
"""

import base64
import hashlib
import hmac
import html
import json
import pathlib
import struct
from email.message import EmailMessage
from email.policy import SMTP

ROOT = pathlib.Path(__file__).resolve().parents[2]
VECTORS = ROOT / "core" / "tests" / "vectors" / "clm-pointers.json"
OUT = ROOT / "core" / "tests" / "mail"

# --- native format, version 1 (core/src/format/native.rs) ------------------------------------

NATIVE_ROOT = bytes([7] * 32)


def hmac256(key: bytes, *parts: bytes) -> bytes:
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def hmac_drbg(seed: bytes, n: int) -> bytes:
    """SP 800-90A HMAC_DRBG: instantiate with `seed`, generate `n` bytes, no reseed."""
    k, v = bytes(32), bytes([1] * 32)
    k = hmac256(k, v, b"\x00", seed)
    v = hmac256(k, v)
    if seed:
        k = hmac256(k, v, b"\x01", seed)
        v = hmac256(k, v)
    out = b""
    while len(out) < n:
        v = hmac256(k, v)
        out += v
    return out[:n]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def native_pointer(sender: str, message: str, epoch: int, nonce: bytes) -> str:
    def expand(label: bytes) -> bytes:  # HKDF-Expand, one block, PRK = root
        return hmac256(NATIVE_ROOT, label, b"\x01")

    enc = expand(b"clm-bridge native v1 enc")
    mac_key = expand(b"clm-bridge native v1 mac")
    tag_key = expand(b"clm-bridge native v1 tag")
    epoch_be = struct.pack(">Q", epoch)
    tag = hmac256(tag_key, b"clm-bridge native v1 tag\0", struct.pack(">Q", epoch // 3600))[:16]
    plain = bytes([len(sender.encode())]) + sender.encode() + message.encode()
    stream = hmac_drbg(b"clm-bridge native v1 keystream\0" + enc + nonce + epoch_be, len(plain))
    data = bytes(a ^ b for a, b in zip(plain, stream))
    mac = hmac256(mac_key, b"clm-bridge native v1 mac\0", b"\x01", tag, epoch_be, nonce, data)
    return json.dumps(
        {"v": 1, "t": b64url(tag), "e": epoch, "n": b64url(nonce), "d": b64url(data), "m": b64url(mac)},
        separators=(",", ":"),
    )


# Keep in step with core/tests/detect.rs (`native_short`, `native_long`).
NATIVE_SHORT = native_pointer("alice", "native hello from mail", 1795444840, bytes(range(16)))
NATIVE_LONG = native_pointer(
    "bob",
    "A longer native message, long enough that mail clients wrap its base64 value. " * 3,
    1795444841,
    bytes([0xA5] * 16),
)

# --- CLM vectors ------------------------------------------------------------------------------

VECTOR_FILE = json.loads(VECTORS.read_text())


def check_drbg_against_vectors() -> None:
    for case in VECTOR_FILE["hmac_drbg"]:
        got = hmac_drbg(bytes.fromhex(case["seed_hex"]), case["n"]).hex()
        assert got == case["out_hex"], "HMAC-DRBG disagrees with the vector file"


def clm_vector(fmt: str, chat: str, text_start: str) -> str:
    key = "chat_id" if fmt == "clm201" else "chat_name"
    for v in VECTOR_FILE["pointers"]:
        if v["format"] == fmt and v[key] == chat and v["text"].startswith(text_start):
            return v["pointer"]
    raise KeyError((fmt, chat, text_start))


CLM201_HELLO = clm_vector("clm201", "0", "hello")
CLM201_LONG = clm_vector("clm201", "2", "aaaa")
CLM202_FAMILY_HELLO = clm_vector("clm202", "Family", "hello")
CLM202_FAMILY_LONG = clm_vector("clm202", "Family", "aaaa")
CLM202_WORK_RU = clm_vector("clm202", "Work", "Привет")

# --- helpers ----------------------------------------------------------------------------------


def new_mail(name: str, subject: str) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Alice <alice@example.org>"
    msg["To"] = "Bob <bob@example.org>"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 03 Nov 2026 10:00:40 +0000"
    msg["Message-ID"] = f"<{name}@fixtures.clm-bridge.invalid>"
    return msg


def fix_boundaries(msg: EmailMessage, name: str) -> None:
    """Python picks random boundaries; fixed ones keep the outputs reproducible."""
    for i, part in enumerate(msg.walk()):
        if part.is_multipart():
            part.set_boundary(f"=={name}-{i}==")


def wrap_value(pointer: str, width: int, soft_break: str, first: int) -> str:
    """Breaks the pointer's `d` value into `width`-character pieces joined by `soft_break`,
    the first piece `first` characters long: a client wrapping a long word."""
    head, rest = pointer.split('"d": "' if '"d": "' in pointer else '"d":"', 1)
    opener = pointer[len(head) : len(pointer) - len(rest)]
    value, tail = rest.split('"', 1)
    pieces = [value[:first]] + [value[i : i + width] for i in range(first, len(value), width)]
    return head + opener + soft_break.join(pieces) + '"' + tail


def write(name: str, msg: EmailMessage) -> None:
    fix_boundaries(msg, name)
    data = msg.as_bytes(policy=SMTP)
    (OUT / f"{name}.eml").write_bytes(data)
    print(f"wrote core/tests/mail/{name}.eml ({len(data)} bytes)")


# --- the mails --------------------------------------------------------------------------------


def qp_plain() -> None:
    msg = new_mail("qp_plain", "Quoted-printable")
    body = f"Bonjour Zoë,\n\nvoici le message : {CLM201_LONG}\n\nÀ bientôt\n"
    msg.set_content(body, charset="utf-8", cte="quoted-printable")
    write("qp_plain", msg)


def base64_plain() -> None:
    msg = new_mail("base64_plain", "Base64")
    msg.set_content(f"Привет! Here is the pointer: {NATIVE_SHORT} — bye\n", charset="utf-8", cte="base64")
    write("base64_plain", msg)


def alternative() -> None:
    msg = new_mail("alternative", "Same pointers in text and HTML")
    msg.set_content(f"Hi,\n\n{CLM202_FAMILY_HELLO}\n\nand {NATIVE_SHORT}\n")
    msg.add_alternative(
        "<html><body><p>Hi,</p>"
        f"<p>{html.escape(CLM202_FAMILY_HELLO)}</p>"
        f"<p>and <code>{html.escape(NATIVE_SHORT)}</code></p>"
        "</body></html>\n",
        subtype="html",
    )
    write("alternative", msg)


def html_only() -> None:
    msg = new_mail("html_only", "HTML only")
    wrapped = wrap_value(NATIVE_LONG, 40, "<wbr>", 40)
    body = (
        "<html><body><p>Native pointer:</p>"
        f"<pre><code>{html.escape(wrapped, quote=False).replace(chr(34), '&quot;').replace('&lt;wbr&gt;', '<wbr>')}"
        "</code></pre>"
        f"<div><span>{CLM201_HELLO.replace(chr(34), '&#34;')}</span></div>"
        "</body></html>\n"
    )
    msg.set_content(body, subtype="html", charset="utf-8", cte="quoted-printable")
    write("html_only", msg)


def flowed(name: str, delsp: bool) -> None:
    """RFC 3676 text: long lines end in a space (soft break). With delsp=yes the space is the
    writer's and a receiver removes it, so a long word can be broken anywhere; with delsp=no
    the space is content, which inside a hex value means a space inserted into it."""
    msg = new_mail(name, "format=flowed" + ("; delsp=yes" if delsp else ""))
    # The prose is broken between words: its soft break keeps one space of content, so with
    # delsp=yes the line carries that space plus the deleted one.
    soft = "  " if delsp else " "
    lines = ["This paragraph is long enough to be flowed over two lines by a client" + soft, "that wraps.", ""]
    lines += wrap_value(CLM202_FAMILY_LONG, 70, " \n", 40).split("\n")
    lines += ["", "and the native one:"]
    lines += wrap_value(NATIVE_LONG, 70, " \n", 30).split("\n")
    lines += ["", "-- ", "Alice", ""]
    params = {"format": "flowed"}
    if delsp:
        params["delsp"] = "yes"
    msg.set_content("\n".join(lines), charset="us-ascii", cte="7bit", params=params)
    write(name, msg)


def reply_quoted() -> None:
    msg = new_mail("reply_quoted", "Re: pointers")
    msg["In-Reply-To"] = "<original@fixtures.clm-bridge.invalid>"
    inner = wrap_value(CLM202_WORK_RU, 60, "\n", 20).split("\n")
    outer = wrap_value(CLM201_LONG, 70, "\n", 50).split("\n")
    lines = ["Thanks, got both.", "", "On Tue, 3 Nov 2026, Alice wrote:", "> Here it is:"]
    lines += ["> " + line for line in outer]
    lines += [">", "> Bob wrote earlier:"]
    lines += ["> > " + line for line in inner]
    lines += [""]
    msg.set_content("\n".join(lines), charset="utf-8", cte="8bit")
    write("reply_quoted", msg)


def latin1() -> None:
    msg = new_mail("latin1", "Café")
    body = f"Voilà le pointeur du café crème : {CLM202_WORK_RU} « à bientôt », Zoë\n"
    msg.set_content(body, charset="iso-8859-1", cte="quoted-printable")
    write("latin1", msg)


def attachments() -> None:
    msg = new_mail("attachments", "Pointers as files")
    msg.set_content("See the attached files.\n")
    msg.add_attachment(f"{NATIVE_SHORT}\n", subtype="plain", filename="pointer.txt")
    msg.add_attachment(
        CLM201_HELLO.encode(), maintype="application", subtype="json", filename="pointer.json"
    )
    msg.add_attachment(bytes(range(256)), maintype="application", subtype="octet-stream", filename="noise.bin")
    write("attachments", msg)


def no_pointer() -> None:
    msg = new_mail("no_pointer", "Just JSON")
    msg.set_content('Config: {"a":1} and {"note": "braces {like this}"}, nothing else.\n')
    msg.add_alternative('<p>Config: {&quot;a&quot;:1}</p>\n', subtype="html")
    write("no_pointer", msg)


def main() -> None:
    check_drbg_against_vectors()
    OUT.mkdir(parents=True, exist_ok=True)
    qp_plain()
    base64_plain()
    alternative()
    html_only()
    flowed("flowed", delsp=False)
    flowed("flowed_delsp", delsp=True)
    reply_quoted()
    latin1()
    attachments()
    no_pointer()
    print("native short:", NATIVE_SHORT)


if __name__ == "__main__":
    main()
