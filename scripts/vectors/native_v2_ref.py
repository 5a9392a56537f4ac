#!/usr/bin/env python3
"""Independent reference implementation of the native pointer format, version 2, and the
generator of core/tests/vectors/native2.json.

Written from docs/PROTOCOL.md §7 alone, with Python's hashlib/hmac/base64, PyNaCl (libsodium's
XChaCha20-Poly1305) and argon2-cffi (libsodium's Argon2 only does p = 1), so that the Rust code
and this file can only agree if both follow the same text. One-time generator, not run by the
tests:

    python3 -m venv /tmp/v2venv && /tmp/v2venv/bin/pip install pynacl argon2-cffi
    /tmp/v2venv/bin/python scripts/vectors/native_v2_ref.py

Spec, as implemented here (all integers big-endian):
    root     = Argon2id(secret, salt (16 bytes), m=64 MiB, t=3, p=4, 32 bytes)
    enc key  = HMAC(root, "clm-bridge native v2 enc" || 0x01)
    tag key  = HMAC(root, "clm-bridge native v2 tag" || 0x01)
    tag      = HMAC(tag key, "clm-bridge native v2 tag\\0" || u64(epoch // 3600))[:16]
    body     = u8(len sender) || u32(len message) || sender || message          (UTF-8)
    plain    = body || zeros up to P = 256 if len(body) <= 256 else padme(len(body))
    ad       = "clm-bridge native v2\\0" || u8(2) || tag || u64(epoch)
    d        = XChaCha20-Poly1305(enc key, nonce (24 bytes), ad, plain)          (ciphertext || tag)
    pointer  = {"v":2,"t":b64u(tag),"e":epoch,"n":b64u(nonce),"d":b64u(d)}      compact JSON
Opening: tag (else NotThisChat), then the AEAD (else BadMac), then lengths, padding and UTF-8
(else BadPlaintext). Parsing refuses a d whose length less 16 is not a padded length.
"""

import base64
import hashlib
import hmac
import json
import pathlib
import re

from argon2.low_level import Type, hash_secret_raw
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt as aead_open,
    crypto_aead_xchacha20poly1305_ietf_encrypt as aead_seal,
)
from nacl.exceptions import CryptoError

VERSION = 2
PERIOD = 3600
DAY = 86400
MIN_PADDED = 256
TYPED_SALT = hashlib.sha256(b"clm-bridge native v2 typed-secret salt").digest()[:16]
ENC_KEY_INFO = b"clm-bridge native v2 enc"
TAG_KEY_INFO = b"clm-bridge native v2 tag"
TAG_INPUT = b"clm-bridge native v2 tag\0"
AD_LABEL = b"clm-bridge native v2\0"
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"

OUT = pathlib.Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors" / "native2.json"


def u64(n):
    return n.to_bytes(8, "big")


def hm(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def padme(length):
    """PURBs' Padmé, as the paper writes it."""
    e = length.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1
    return (length + mask) & ~mask


def padded_length(length):
    return MIN_PADDED if length <= MIN_PADDED else padme(length)


def generated_secret(random20):
    """§7.2: 160 bits as eight groups of four Crockford base32 symbols."""
    value = int.from_bytes(random20, "big")
    symbols = "".join(CROCKFORD[(value >> (5 * (31 - i))) & 31] for i in range(32))
    return "-".join(symbols[i : i + 4] for i in range(0, 32, 4))


def argon2_root(secret, salt):
    return hash_secret_raw(
        secret.encode("utf-8"), salt, time_cost=3, memory_cost=65536, parallelism=4, hash_len=32, type=Type.ID
    )


class Failure(Exception):
    def __init__(self, name, **detail):
        super().__init__(name)
        self.name = name
        self.detail = detail


def header(tag, epoch, version=VERSION, label=AD_LABEL):
    return label + bytes([version]) + tag + u64(epoch)


class Keys:
    def __init__(self, root):
        self.enc = hm(root, ENC_KEY_INFO, b"\x01")
        self.tag_key = hm(root, TAG_KEY_INFO, b"\x01")

    def tag(self, period):
        return hm(self.tag_key, TAG_INPUT, u64(period))[:16]

    def seal(self, plain, epoch, nonce, ad=None):
        """Encrypts raw plaintext bytes (lets fail cases craft bad ones, or a wrong header)."""
        tag = self.tag(epoch // PERIOD)
        ad = header(tag, epoch) if ad is None else ad
        return {"v": VERSION, "t": tag, "e": epoch, "n": nonce, "d": aead_seal(plain, ad, nonce, self.enc)}

    def encode(self, sender, text, epoch, nonce):
        s, m = sender.encode("utf-8"), text.encode("utf-8")
        if len(s) > 255:
            raise Failure("InvalidSender")
        return self.seal(pad(bytes([len(s)]) + len(m).to_bytes(4, "big") + s + m), epoch, nonce)

    def open(self, p):
        if self.tag(p["e"] // PERIOD) != p["t"]:
            raise Failure("NotThisChat")
        try:
            plain = aead_open(p["d"], header(p["t"], p["e"]), p["n"], self.enc)
        except CryptoError:
            raise Failure("BadMac") from None
        return unpad(plain)


def pad(body):
    return body + bytes(padded_length(len(body)) - len(body))


def unpad(plain):
    if len(plain) < 5:
        raise Failure("BadPlaintext")
    s, m = plain[0], int.from_bytes(plain[1:5], "big")
    end = 5 + s + m
    if end > len(plain) or padded_length(end) != len(plain) or any(plain[end:]):
        raise Failure("BadPlaintext")
    try:
        return plain[5 : 5 + s].decode("utf-8"), plain[5 + s : end].decode("utf-8")
    except UnicodeDecodeError:
        raise Failure("BadPlaintext") from None


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64u(field, text):
    """Strict base64url: URL alphabet only, optional padding, canonical trailing bits."""
    bare = text[:-2] if text.endswith("==") else text[:-1] if text.endswith("=") else text
    if not re.fullmatch(r"[A-Za-z0-9_-]*", bare) or len(bare) % 4 == 1:
        raise Failure("InvalidField", field=field)
    raw = base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    if b64u(raw) != bare:
        raise Failure("InvalidField", field=field)
    return raw


def to_json(p):
    """Canonical text: compact JSON, keys in this order."""
    return f'{{"v":{p["v"]},"t":"{b64u(p["t"])}","e":{p["e"]},"n":"{b64u(p["n"])}","d":"{b64u(p["d"])}"}}'


def parse(text):
    obj = json.loads(text)
    keys = set(obj)
    if keys == {"v", "t", "e", "n", "d", "m"}:
        if obj["v"] != 1:
            raise Failure("UnsupportedVersion", version=obj["v"])
        raise AssertionError("a version-1 pointer: not this generator's business")
    if keys != {"v", "t", "e", "n", "d"}:
        raise Failure("InvalidField", field="{}")
    if obj["v"] != VERSION:
        raise Failure("UnsupportedVersion", version=obj["v"])
    p = {"v": VERSION, "e": obj["e"]}
    for field, size in (("t", 16), ("n", 24)):
        p[field] = unb64u(field, obj[field])
        if len(p[field]) != size:
            raise Failure("InvalidField", field=field)
    p["d"] = unb64u("d", obj["d"])
    if len(p["d"]) < 16 or padded_length(len(p["d"]) - 16) != len(p["d"]) - 16:
        raise Failure("InvalidField", field="d")
    return p


def outcome(root, pointer_text):
    """What a receiver holding `root` makes of `pointer_text`: ("ok", (from, text)) or an error."""
    try:
        return "ok", Keys(root).open(parse(pointer_text))
    except Failure as failure:
        return failure.name, failure.detail


# ---------------------------------------------------------------- the vectors

RANDOM_SECRET_BYTES = bytes(range(20))
CHATS = {
    # key: (secret, salt). "invited" is a chat the bridge made: generated secret, random salt.
    "invited": (generated_secret(RANDOM_SECRET_BYTES), hashlib.sha256(b"salt:invited").digest()[:16]),
    "unicode": ("Ωmega чат 秘密 🔑 שלום", hashlib.sha256(b"salt:unicode").digest()[:16]),
    "typed": ("correct horse battery staple orbit lantern", TYPED_SALT),
    # The same secret as "invited" under another salt: another chat altogether.
    "same_secret_other_salt": (generated_secret(RANDOM_SECRET_BYTES), hashlib.sha256(b"salt:other").digest()[:16]),
    # Held by nobody in the test registry: pointers sealed with it are "not mine".
    "outsider": ("a chat the receiver does not know", hashlib.sha256(b"salt:outsider").digest()[:16]),
}
EPOCH = 1795444840  # 2026-11-24, 2440 s into its hour


def nonce_for(name):
    return hashlib.sha256(b"nonce:" + name.encode()).digest()[:24]


def text_of_body(sender, body_len):
    """A message that makes the body exactly `body_len` bytes with this sender."""
    return "x" * (body_len - 5 - len(sender.encode()))


def large_text():
    unit = "Lorem ipsum, Привет мир! 🌌 שלום עולם \u200f|¶| key: value\0\n"
    text = unit * (102400 // len(unit.encode()) + 1)
    while len(text.encode()) > 102400:
        text = text[:-1]
    return text + "x" * (102400 - len(text.encode()))


OK_CASES = [
    # name, chat, from, text, epoch, nonce (None: derived from the name), now (None: the epoch)
    ("ascii", "invited", "alice", "hello", EPOCH, None, None),
    ("one_character", "invited", "alice", "k", EPOCH, None, None),
    ("hundred_characters", "invited", "alice", "Привет, мир! " * 7 + "123456789", EPOCH, None, None),
    ("emoji", "invited", "alice", "Привет, мир! 🌌🚀 👩‍👩‍👧 done", EPOCH, None, None),
    ("rtl", "unicode", "דוד", "\u200fשלום עולם, مرحبا بالعالم\u200e (mixed) 123", EPOCH + 7, None, None),
    ("typed_secret", "typed", "bob", "typed on both sides", EPOCH, None, None),
    ("nul_bytes", "invited", "nul\0sender", "a\0b\0\0", EPOCH, None, None),
    ("empty_text", "invited", "alice", "", EPOCH, None, None),
    ("separators_inside", "invited", "bob: the |¶| builder", "x|¶|y: z |¶| : \"{}\"\\ end", EPOCH, None, None),
    ("empty_sender", "unicode", "", "anonymous note", EPOCH, None, None),
    ("empty_sender_and_text", "unicode", "", "", EPOCH, None, None),
    ("sender_255_bytes", "unicode", "é" * 127 + "x", "the longest sender a pointer carries", EPOCH, None, None),
    ("body_256_bytes", "invited", "bob", text_of_body("bob", 256), EPOCH, None, None),
    ("body_257_bytes", "invited", "bob", text_of_body("bob", 257), EPOCH, None, None),
    ("body_1000_bytes", "invited", "bob", text_of_body("bob", 1000), EPOCH, None, None),
    ("body_1025_bytes", "invited", "bob", text_of_body("bob", 1025), EPOCH, None, None),
    ("control_chars", "invited", "carol", "tab\tnewline\ncr\rbom\ufeffdel\x7f", EPOCH, None, None),
    ("zero_nonce", "invited", "alice", "all-zero nonce", EPOCH, bytes(24), None),
    ("epoch_zero", "unicode", "alice", "the first second", 0, None, None),
    ("epoch_last_of_period", "invited", "alice", "3599 s into the hour", 498734 * 3600 + 3599, None, None),
    ("epoch_first_of_period", "invited", "alice", "0 s into the hour", 498735 * 3600, None, None),
    ("epoch_max", "typed", "alice", "u64::MAX", 2**64 - 1, b"\xff" * 24, 2**64 - 1),
    ("epoch_exactly_a_day_ahead", "invited", "alice", "not flagged yet", EPOCH + DAY, None, EPOCH),
    ("large_100kib", "unicode", "mallory", large_text(), EPOCH, None, None),
]


def build():
    roots = {key: argon2_root(secret, salt) for key, (secret, salt) in CHATS.items()}
    cases = []

    def base(name, chat):
        secret, salt = CHATS[chat]
        case = {"name": name, "chat": chat, "secret": secret, "salt_hex": salt.hex(), "root_hex": roots[chat].hex()}
        if secret == generated_secret(RANDOM_SECRET_BYTES):
            case["secret_random_hex"] = RANDOM_SECRET_BYTES.hex()
        return case

    for name, chat, sender, text, epoch, nonce, now in OK_CASES:
        nonce = nonce if nonce is not None else nonce_for(name)
        pointer = to_json(Keys(roots[chat]).encode(sender, text, epoch, nonce))
        assert outcome(roots[chat], pointer) == ("ok", (sender, text)), name
        now = epoch if now is None else now
        assert epoch <= now + DAY, name
        case = base(name, chat)
        case.update({"from": sender, "text": text, "epoch": epoch, "nonce_hex": nonce.hex(), "now": now,
                     "pointer": pointer, "expect": "ok"})
        cases.append(case)
    assert len({len(c["pointer"]) for c in cases if c["name"] in ("one_character", "hundred_characters")}) == 1

    cases += fail_cases(roots, base)

    # Length-checked before anything is sealed: an encode error, no pointer.
    too_long = "é" * 128
    try:
        Keys(roots["invited"]).encode(too_long, "x", EPOCH, nonce_for("too_long"))
        raise AssertionError("a 256-byte sender must not encode")
    except Failure as failure:
        case = base("fail_sender_256_bytes", "invited")
        case.update({"from": too_long, "text": "x", "epoch": EPOCH, "nonce_hex": nonce_for("too_long").hex(),
                     "expect": failure.name})
        cases.append(case)
    return cases


def fail_cases(roots, base):
    keys = Keys(roots["invited"])
    good = keys.encode("alice", "transfer 100 to bob", EPOCH, nonce_for("fail"))
    # A body of 257 bytes: padded to 272, so cutting or adding a whole 16 bytes keeps a padded length.
    long = keys.encode("alice", text_of_body("alice", 257), EPOCH, nonce_for("fail_long"))
    assert len(long["d"]) == 272 + 16 and padded_length(256) == 256
    assert (EPOCH + 1) // PERIOD == EPOCH // PERIOD and (EPOCH + PERIOD) // PERIOD != EPOCH // PERIOD
    good_body = bytes([5]) + (19).to_bytes(4, "big") + b"alice" + b"transfer 100 to bob"

    def flip(raw, index, bit=0x01):
        changed = bytearray(raw)
        changed[index] ^= bit
        return bytes(changed)

    def variant(**changes):
        return to_json({**good, **changes})

    def raw_json(extra=None, **changes):
        """Canonical field text with some fields replaced by raw strings or values."""
        fields = {"v": good["v"], "t": b64u(good["t"]), "e": good["e"], "n": b64u(good["n"]), "d": b64u(good["d"])}
        fields.update(changes)
        fields.update(extra or {})
        return json.dumps(fields, separators=(",", ":"))

    def noncanonical(field_b64):
        # The last character of a 16-byte value carries 2 data bits and 4 zero bits: set one.
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return field_b64[:-1] + alphabet[alphabet.index(field_b64[-1]) + 1]

    def sealed(plain, name, **header_changes):
        return to_json(keys.seal(plain, EPOCH, nonce_for(name), **header_changes))

    tag = good["t"]
    outsider = Keys(roots["outsider"]).encode("eve", "hello", EPOCH, nonce_for("outsider"))
    other_salt = Keys(roots["same_secret_other_salt"]).encode("eve", "hello", EPOCH, nonce_for("other_salt"))
    cases = [
        # name, pointer, expected error, registry outcome
        ("fail_altered_tag", variant(t=flip(tag, 0)), "NotThisChat", "NotMine"),
        ("fail_altered_epoch", variant(e=EPOCH + 1), "BadMac", "Broken"),
        ("fail_epoch_other_period", variant(e=EPOCH + PERIOD), "NotThisChat", "NotMine"),
        ("fail_altered_nonce_first_byte", variant(n=flip(good["n"], 0)), "BadMac", "Broken"),
        ("fail_altered_nonce_last_byte", variant(n=flip(good["n"], 23, 0x80)), "BadMac", "Broken"),
        ("fail_altered_ciphertext", variant(d=flip(good["d"], 3)), "BadMac", "Broken"),
        ("fail_altered_ciphertext_in_padding", variant(d=flip(good["d"], 200)), "BadMac", "Broken"),
        ("fail_altered_aead_tag", variant(d=flip(good["d"], -1, 0x80)), "BadMac", "Broken"),
        ("fail_truncated_to_a_padded_length", to_json({**long, "d": long["d"][:256 + 16]}), "BadMac", "Broken"),
        ("fail_extended_to_a_padded_length", to_json({**good, "d": good["d"][:-16] + bytes(16) + good["d"][-16:]}),
         "BadMac", "Broken"),
        ("fail_header_version_1_in_ad", sealed(pad(good_body), "ad_v1", ad=header(tag, EPOCH, version=1)),
         "BadMac", "Broken"),
        ("fail_header_label_v1_in_ad", sealed(pad(good_body), "ad_label", ad=header(tag, EPOCH,
         label=b"clm-bridge native v1\0")), "BadMac", "Broken"),
        ("fail_header_other_tag_in_ad", sealed(pad(good_body), "ad_tag", ad=header(flip(tag, 5), EPOCH)),
         "BadMac", "Broken"),
        ("fail_header_other_epoch_in_ad", sealed(pad(good_body), "ad_epoch", ad=header(tag, EPOCH + 1)),
         "BadMac", "Broken"),
        ("fail_other_chat_secret", to_json(outsider), "NotThisChat", "NotMine"),
        ("fail_same_secret_other_salt", to_json(other_salt), "NotThisChat", "NotMine"),
        ("fail_padding_not_zero", sealed(pad(good_body)[:-1] + b"\x01", "pad1"), "BadPlaintext", "Broken"),
        ("fail_padded_to_the_wrong_length", sealed(good_body + bytes(272 - len(good_body)), "pad272"),
         "BadPlaintext", "Broken"),
        ("fail_message_length_beyond_the_end",
         sealed(pad(bytes([5]) + (300).to_bytes(4, "big") + b"alice" + b"short"), "beyond"), "BadPlaintext", "Broken"),
        ("fail_sender_length_beyond_the_end", sealed(pad(bytes([255]) + bytes(4) + b"alice"), "beyond_s"),
         "BadPlaintext", "Broken"),
        ("fail_sender_not_utf8", sealed(pad(bytes([2]) + (4).to_bytes(4, "big") + b"\xc3\x28text"), "sender8"),
         "BadPlaintext", "Broken"),
        ("fail_text_not_utf8", sealed(pad(bytes([5]) + (4).to_bytes(4, "big") + b"aliceok \xff"), "text8"),
         "BadPlaintext", "Broken"),
        ("fail_text_truncated_utf8", sealed(pad(bytes([5]) + (3).to_bytes(4, "big") + b"alice" + "🌌".encode()[:3]),
         "cut8"), "BadPlaintext", "Broken"),
        ("fail_version_3", raw_json(v=3), "UnsupportedVersion", None),
        ("fail_version_1_without_mac", raw_json(v=1), "UnsupportedVersion", None),
        ("fail_version_2_with_mac", raw_json(extra={"m": b64u(bytes(32))}), "UnsupportedVersion", None),
        ("fail_short_tag", raw_json(t=b64u(tag[:15])), "InvalidField", None),
        ("fail_version_1_nonce_length", raw_json(n=b64u(good["n"][:16])), "InvalidField", None),
        ("fail_long_nonce", raw_json(n=b64u(good["n"] + b"\0")), "InvalidField", None),
        ("fail_truncated_ciphertext", raw_json(d=b64u(good["d"][:-1])), "InvalidField", None),
        ("fail_extended_ciphertext", raw_json(d=b64u(good["d"] + b"\0")), "InvalidField", None),
        ("fail_unpadded_ciphertext", raw_json(d=b64u(bytes(16 + 20))), "InvalidField", None),
        ("fail_bad_base64", raw_json(d="+" + b64u(good["d"])[1:]), "InvalidField", None),
        ("fail_noncanonical_base64", raw_json(t=noncanonical(b64u(tag))), "InvalidField", None),
        ("fail_empty_data", raw_json(d=""), "InvalidField", None),
    ]
    out = []
    for name, pointer, expected, registry in cases:
        result, detail = outcome(roots["invited"], pointer)
        assert result == expected, (name, result, detail)
        case = base(name, "invited")
        case.update({"pointer": pointer, "expect": expected, **detail})
        if registry is not None:
            case["registry"] = registry
        out.append(case)

    # Opens, but a day and a second ahead of the receiver's clock: flagged when shown.
    future = to_json(keys.encode("mallory", "from tomorrow", EPOCH + DAY + 1, nonce_for("future")))
    assert outcome(roots["invited"], future) == ("ok", ("mallory", "from tomorrow"))
    case = base("fail_epoch_more_than_a_day_ahead", "invited")
    case.update({"from": "mallory", "text": "from tomorrow", "epoch": EPOCH + DAY + 1, "now": EPOCH,
                 "pointer": future, "expect": "FromTheFuture", "registry": "Opened"})
    out.append(case)
    return out


def main():
    cases = build()
    OUT.write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
