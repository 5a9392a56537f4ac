#!/usr/bin/env python3
"""Independent reference implementation of the native pointer format, version 1, and the
generator of core/tests/vectors/native.json.

Written from the specification (the module documentation of core/src/format/native.rs and
docs/PROTOCOL.md), with Python's own hashlib/hmac/base64 and argon2-cffi, so that the Rust
code and this file can only agree if both follow the same spec. One-time generator, not run
by the tests:

    python3 -m venv /tmp/vecvenv && /tmp/vecvenv/bin/pip install argon2-cffi
    /tmp/vecvenv/bin/python scripts/vectors/native_ref.py

Spec, as implemented here (all integers big-endian):
    root      = Argon2id(secret, salt="clm-bridge/native/v1", m=64 MiB, t=3, p=4, 32 bytes)
    key(L)    = HKDF-Expand(PRK=root, info=L, 32) = HMAC(root, L || 0x01)
    enc, mac, tag keys: L = "clm-bridge native v1 enc" / "... mac" / "... tag"
    period    = epoch // 3600
    tag       = HMAC(tag key, "clm-bridge native v1 tag\\0" || u64(period))[:16]
    plaintext = u8(len(sender bytes)) || sender || message          (UTF-8)
    keystream = HMAC-DRBG(seed = "clm-bridge native v1 keystream\\0" || enc key || nonce || u64(epoch))
    d         = plaintext XOR keystream
    m         = HMAC(mac key, "clm-bridge native v1 mac\\0" || u8(version=1) || tag || u64(epoch)
                              || nonce || d)
    pointer   = {"v":1,"t":b64u(tag),"e":epoch,"n":b64u(nonce),"d":b64u(d),"m":b64u(m)}
                compact JSON, base64url without padding.
Opening: tag of the epoch's period must match (else NotThisChat), then the MAC (else BadMac),
then the plaintext must split (else BadPlaintext).
"""

import base64
import hashlib
import hmac
import json
import pathlib
import re

from argon2.low_level import Type, hash_secret_raw

VERSION = 1
PERIOD = 3600
SALT = b"clm-bridge/native/v1"
ENC_KEY_INFO = b"clm-bridge native v1 enc"
MAC_KEY_INFO = b"clm-bridge native v1 mac"
TAG_KEY_INFO = b"clm-bridge native v1 tag"
TAG_INPUT = b"clm-bridge native v1 tag\0"
KEYSTREAM_INPUT = b"clm-bridge native v1 keystream\0"
MAC_INPUT = b"clm-bridge native v1 mac\0"

OUT = pathlib.Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors" / "native.json"


def u64(n):
    return n.to_bytes(8, "big")


def hm(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


class HmacDrbg:
    """NIST SP 800-90A HMAC_DRBG (SHA-256) instantiated with `seed` only; no reseed."""

    def __init__(self, seed):
        self.k = b"\x00" * 32
        self.v = b"\x01" * 32
        self.k = hm(self.k, self.v, b"\x00", seed)
        self.v = hm(self.k, self.v)
        if seed:
            self.k = hm(self.k, self.v, b"\x01", seed)
            self.v = hm(self.k, self.v)

    def generate(self, n):
        out = bytearray()
        while len(out) < n:
            self.v = hm(self.k, self.v)
            out += self.v
        return bytes(out[:n])


def xor(data, stream):
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def argon2_root(secret):
    return hash_secret_raw(
        secret.encode("utf-8"),
        SALT,
        time_cost=3,
        memory_cost=65536,
        parallelism=4,
        hash_len=32,
        type=Type.ID,
    )


class Keys:
    def __init__(self, root):
        self.enc = hm(root, ENC_KEY_INFO, b"\x01")
        self.mac = hm(root, MAC_KEY_INFO, b"\x01")
        self.tag_key = hm(root, TAG_KEY_INFO, b"\x01")

    def tag(self, period):
        return hm(self.tag_key, TAG_INPUT, u64(period))[:16]

    def keystream(self, nonce, epoch, n):
        return HmacDrbg(KEYSTREAM_INPUT + self.enc + nonce + u64(epoch)).generate(n)

    def mac_of(self, tag, epoch, nonce, data):
        return hm(self.mac, MAC_INPUT, bytes([VERSION]), tag, u64(epoch), nonce, data)

    def seal(self, plaintext, epoch, nonce):
        """Encrypts and authenticates raw plaintext bytes (lets fail cases craft bad ones)."""
        data = xor(plaintext, self.keystream(nonce, epoch, len(plaintext)))
        tag = self.tag(epoch // PERIOD)
        return {"v": VERSION, "t": tag, "e": epoch, "n": nonce, "d": data, "m": self.mac_of(tag, epoch, nonce, data)}

    def encode(self, sender, text, epoch, nonce):
        sender_bytes = sender.encode("utf-8")
        if len(sender_bytes) > 255:
            raise Failure("InvalidSender")
        return self.seal(bytes([len(sender_bytes)]) + sender_bytes + text.encode("utf-8"), epoch, nonce)

    def open(self, p):
        if self.tag(p["e"] // PERIOD) != p["t"]:
            raise Failure("NotThisChat")
        if not hmac.compare_digest(self.mac_of(p["t"], p["e"], p["n"], p["d"]), p["m"]):
            raise Failure("BadMac")
        plain = xor(p["d"], self.keystream(p["n"], p["e"], len(p["d"])))
        if not plain:
            raise Failure("BadPlaintext")
        sender_len, rest = plain[0], plain[1:]
        if len(rest) < sender_len:
            raise Failure("BadPlaintext")
        try:
            return rest[:sender_len].decode("utf-8"), rest[sender_len:].decode("utf-8")
        except UnicodeDecodeError:
            raise Failure("BadPlaintext") from None


class Failure(Exception):
    def __init__(self, name, **detail):
        super().__init__(name)
        self.name = name
        self.detail = detail


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
    return (
        f'{{"v":{p["v"]},"t":"{b64u(p["t"])}","e":{p["e"]},"n":"{b64u(p["n"])}",'
        f'"d":"{b64u(p["d"])}","m":"{b64u(p["m"])}"}}'
    )


def parse(text):
    obj = json.loads(text)
    if set(obj) != {"v", "t", "e", "n", "d", "m"}:
        raise Failure("InvalidField", field="{}")
    if obj["v"] != VERSION:
        raise Failure("UnsupportedVersion", version=obj["v"])
    p = {"v": VERSION, "e": obj["e"]}
    for field, size in (("t", 16), ("n", 16), ("m", 32)):
        p[field] = unb64u(field, obj[field])
        if len(p[field]) != size:
            raise Failure("InvalidField", field=field)
    p["d"] = unb64u("d", obj["d"])
    if not p["d"]:
        raise Failure("InvalidField", field="d")
    return p


def outcome(root, pointer_text):
    """What a receiver holding `root` makes of `pointer_text`: ("ok", (from, text)) or an error."""
    try:
        return "ok", Keys(root).open(parse(pointer_text))
    except Failure as failure:
        return failure.name, failure.detail


# ---------------------------------------------------------------- the vectors

SECRETS = {
    "ascii": "correct horse battery staple",
    "unicode": "Ωmega чат 秘密 🔑 שלום",
    "long": "a long shared secret, " * 12 + "end",
    # Held by nobody in the test registry: pointers sealed with it are "not mine".
    "outsider": "a chat the receiver does not know",
}
EPOCH = 1795444840  # 2026-11-24, 2440 s into its hour


def nonce_for(name):
    return hashlib.sha256(b"nonce:" + name.encode()).digest()[:16]


def large_text():
    unit = "Lorem ipsum, Привет мир! 🌌 שלום עולם \u200f|¶| key: value\0\n"
    text = unit * (102400 // len(unit.encode()) + 1)
    while len(text.encode()) > 102400:
        text = text[:-1]
    return text + "x" * (102400 - len(text.encode()))


OK_CASES = [
    # name, secret, from, text, epoch, nonce (None: derived from the name)
    ("ascii", "ascii", "alice", "hello", EPOCH, None),
    ("emoji", "ascii", "alice", "Привет, мир! 🌌🚀 👩‍👩‍👧 done", EPOCH, None),
    ("rtl", "unicode", "דוד", "\u200fשלום עולם, مرحبا بالعالم\u200e (mixed) 123", EPOCH + 7, None),
    ("nul_bytes", "ascii", "nul\0sender", "a\0b\0\0", EPOCH, None),
    ("empty_text", "ascii", "alice", "", EPOCH, None),
    ("separators_inside", "ascii", "bob: the |¶| builder", "x|¶|y: z |¶| : \"{}\"\\ end", EPOCH, None),
    ("empty_sender", "unicode", "", "anonymous note", EPOCH, None),
    ("empty_sender_and_text", "unicode", "", "", EPOCH, None),
    ("sender_255_bytes", "long", "é" * 127 + "x", "the longest sender a native pointer carries", EPOCH, None),
    # Plaintext of exactly one, two and one-plus-two keystream blocks (DRBG boundaries).
    ("plaintext_32_bytes", "ascii", "bob", "x" * 28, EPOCH, None),
    ("plaintext_33_bytes", "ascii", "bob", "x" * 29, EPOCH, None),
    ("plaintext_64_bytes", "ascii", "bob", "x" * 60, EPOCH, None),
    ("control_chars", "ascii", "carol", "tab\tnewline\ncr\rbom\ufeffdel\x7f", EPOCH, None),
    ("zero_nonce", "ascii", "alice", "all-zero nonce", EPOCH, bytes(16)),
    ("epoch_zero", "unicode", "alice", "the first second", 0, None),
    ("epoch_last_of_period", "ascii", "alice", "3599 s into the hour", 498734 * 3600 + 3599, None),
    ("epoch_first_of_period", "ascii", "alice", "0 s into the hour", 498735 * 3600, None),
    ("epoch_max", "long", "alice", "u64::MAX", 2**64 - 1, b"\xff" * 16),
    ("large_100kib", "unicode", "mallory", large_text(), EPOCH, None),
]


def build():
    roots = {key: argon2_root(secret) for key, secret in SECRETS.items()}
    cases = []

    def base(name, secret_key):
        return {"name": name, "secret": SECRETS[secret_key], "root_hex": roots[secret_key].hex()}

    for name, secret_key, sender, text, epoch, nonce in OK_CASES:
        nonce = nonce if nonce is not None else nonce_for(name)
        pointer = to_json(Keys(roots[secret_key]).encode(sender, text, epoch, nonce))
        assert outcome(roots[secret_key], pointer) == ("ok", (sender, text)), name
        case = base(name, secret_key)
        case.update(
            {"from": sender, "text": text, "epoch": epoch, "nonce_hex": nonce.hex(), "pointer": pointer, "expect": "ok"}
        )
        cases.append(case)

    keys = Keys(roots["ascii"])
    good = keys.encode("alice", "transfer 100 to bob", EPOCH, nonce_for("fail"))
    assert (EPOCH + 1) // PERIOD == EPOCH // PERIOD and (EPOCH + PERIOD) // PERIOD != EPOCH // PERIOD

    def flip(raw, index, bit=0x01):
        changed = bytearray(raw)
        changed[index] ^= bit
        return bytes(changed)

    def variant(**changes):
        return to_json({**good, **changes})

    def raw_json(**changes):
        """Canonical field text with some fields replaced by raw strings or values."""
        fields = {
            "v": good["v"],
            "t": b64u(good["t"]),
            "e": good["e"],
            "n": b64u(good["n"]),
            "d": b64u(good["d"]),
            "m": b64u(good["m"]),
        }
        fields.update(changes)
        return json.dumps(fields, separators=(",", ":"))

    def noncanonical(field_b64):
        # The last character of a 16-byte value carries 2 data bits and 4 zero bits: set one.
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return field_b64[:-1] + alphabet[alphabet.index(field_b64[-1]) + 1]

    crafted = Keys(roots["ascii"])
    fail_cases = [
        # name, secret the receiver holds, pointer, expected error, registry outcome, detail
        ("fail_altered_ciphertext", "ascii", variant(d=flip(good["d"], 3)), "BadMac", "Broken"),
        ("fail_altered_ciphertext_last_bit", "ascii", variant(d=flip(good["d"], -1, 0x80)), "BadMac", "Broken"),
        ("fail_truncated_ciphertext", "ascii", variant(d=good["d"][:-1]), "BadMac", "Broken"),
        ("fail_extended_ciphertext", "ascii", variant(d=good["d"] + b"\0"), "BadMac", "Broken"),
        ("fail_altered_mac", "ascii", variant(m=flip(good["m"], 31)), "BadMac", "Broken"),
        ("fail_altered_nonce", "ascii", variant(n=flip(good["n"], 0)), "BadMac", "Broken"),
        ("fail_altered_epoch", "ascii", variant(e=EPOCH + 1), "BadMac", "Broken"),
        ("fail_other_chat_secret", "ascii",
         to_json(Keys(roots["outsider"]).encode("eve", "hello", EPOCH, nonce_for("outsider"))),
         "NotThisChat", "NotMine"),
        ("fail_tag_other_period", "ascii", variant(e=EPOCH + PERIOD), "NotThisChat", "NotMine"),
        ("fail_sender_len_beyond_end", "ascii",
         to_json(crafted.seal(bytes([200]) + b"0123456789", EPOCH, nonce_for("beyond"))), "BadPlaintext", "Broken"),
        ("fail_sender_not_utf8", "ascii",
         to_json(crafted.seal(bytes([2, 0xC3, 0x28]) + b"text", EPOCH, nonce_for("sender8"))), "BadPlaintext",
         "Broken"),
        ("fail_text_not_utf8", "ascii",
         to_json(crafted.seal(bytes([5]) + b"alice" + b"ok \xff", EPOCH, nonce_for("text8"))), "BadPlaintext",
         "Broken"),
        ("fail_text_truncated_utf8", "ascii",
         to_json(crafted.seal(bytes([5]) + b"alice" + "🌌".encode()[:3], EPOCH, nonce_for("cut8"))),
         "BadPlaintext", "Broken"),
        ("fail_unsupported_version", "ascii", raw_json(v=2), "UnsupportedVersion", None),
        ("fail_version_zero", "ascii", raw_json(v=0), "UnsupportedVersion", None),
        ("fail_short_tag", "ascii", raw_json(t=b64u(good["t"][:15])), "InvalidField", None),
        ("fail_long_nonce", "ascii", raw_json(n=b64u(good["n"] + b"\0")), "InvalidField", None),
        ("fail_short_mac", "ascii", raw_json(m=b64u(good["m"][:31])), "InvalidField", None),
        ("fail_bad_base64", "ascii", raw_json(d="+" + b64u(good["d"])[1:]), "InvalidField", None),
        ("fail_bad_base64_length", "ascii", raw_json(d=b64u(good["d"]) + "A" * (5 - len(b64u(good["d"])) % 4)),
         "InvalidField", None),
        ("fail_noncanonical_base64", "ascii", raw_json(t=noncanonical(b64u(good["t"]))), "InvalidField", None),
        ("fail_empty_data", "ascii", raw_json(d=""), "InvalidField", None),
    ]
    for name, secret_key, pointer, expected, registry in fail_cases:
        result, detail = outcome(roots[secret_key], pointer)
        assert result == expected, (name, result, detail)
        case = base(name, secret_key)
        case.update({"pointer": pointer, "expect": expected, **detail})
        if registry is not None:
            case["registry"] = registry
        cases.append(case)

    # Length-checked before anything is sealed: an encode error, no pointer.
    too_long = "é" * 128
    try:
        keys.encode(too_long, "x", EPOCH, nonce_for("too_long"))
        raise AssertionError("a 256-byte sender must not encode")
    except Failure as failure:
        case = base("fail_sender_256_bytes", "ascii")
        case.update(
            {"from": too_long, "text": "x", "epoch": EPOCH, "nonce_hex": nonce_for("too_long").hex(),
             "expect": failure.name}
        )
        cases.append(case)
    return cases


def main():
    cases = build()
    OUT.write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
