#!/usr/bin/env python3
"""Independent reference implementation of clm: invite links (docs/PROTOCOL.md §8) and the
generator of core/tests/vectors/invites.json. Standard library only (zlib's crc32):

    python3 scripts/vectors/invites_ref.py

    link  = "clm:" || crockford_base32(frame)
    frame = u8(1) || u16be(len(body)) || body || u32le(crc32(everything before))
    body  = u8(format) || str(name) || str(secret) || keys || u8(count) || str(route)*
"""

import hashlib
import json
import pathlib
import unicodedata
import zlib

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
FORMATS = {"native2": 1, "native": 2, "clm202": 3, "clm201": 4}
TYPED_SALT = hashlib.sha256(b"clm-bridge native v2 typed-secret salt").digest()[:16]
OUT = pathlib.Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors" / "invites.json"


class Failure(Exception):
    def __init__(self, name, **detail):
        super().__init__(name)
        self.name = name
        self.detail = detail


def b32(raw):
    bits = "".join(f"{b:08b}" for b in raw)
    bits += "0" * (-len(bits) % 5)
    return "".join(ALPHABET[int(bits[i : i + 5], 2)] for i in range(0, len(bits), 5))


def unb32(text):
    """(bytes, canonical) or Failure BadCharacter."""
    bits = ""
    for i, c in enumerate(text):
        if c.lower() not in ALPHABET:
            raise Failure("BadCharacter", position=4 + i)
        bits += f"{ALPHABET.index(c.lower()):05b}"
    whole = len(bits) // 8 * 8
    raw = bytes(int(bits[i : i + 8], 2) for i in range(0, whole, 8))
    canonical = set(bits[whole:]) <= {"0"} and len(b32(raw)) == len(text)
    return raw, canonical


def symbols_for(n_bytes):
    return -(-8 * n_bytes // 5)


def s(text):
    raw = text.encode("utf-8")
    assert len(raw) <= 255
    return bytes([len(raw)]) + raw


def body_of(invite):
    out = bytes([FORMATS[invite["format"]]]) + s(invite["name"]) + s(invite["secret"])
    if invite["format"] == "native2":
        out += bytes.fromhex(invite["salt_hex"])
    if invite["format"] == "clm201":
        out += s(invite["chat_id"]) + s(invite["seed_suffix"])
    return out + bytes([len(invite["routes"])]) + b"".join(s(r) for r in invite["routes"])


def frame_of(body, version=1):
    head = bytes([version]) + len(body).to_bytes(2, "big") + body
    return head + zlib.crc32(head).to_bytes(4, "little")


def link_of(frame):
    return "clm:" + b32(frame)


def encode(invite):
    return link_of(frame_of(body_of(invite)))


class Body:
    def __init__(self, raw):
        self.raw = raw

    def take(self, n, field):
        if len(self.raw) < n:
            raise Failure("BadField", field=field)
        head, self.raw = self.raw[:n], self.raw[n:]
        return head

    def str(self, field, may_be_empty=False, shown=True):
        n = self.take(1, field)[0]
        raw = self.take(n, field)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Failure("BadField", field=field) from None
        if (not text and not may_be_empty) or (shown and any(unicodedata.category(c) == "Cc" for c in text)):
            raise Failure("BadField", field=field)
        return text


def parse(link):
    link = link.strip(" \t\r\n")
    if link[:4].lower() != "clm:":
        raise Failure("NotAnInvite")
    symbols = link[4:]
    frame, canonical = unb32(symbols)
    if len(frame) < 3:
        raise Failure("Truncated", expected=symbols_for(3), found=len(symbols))
    expected = symbols_for(3 + int.from_bytes(frame[1:3], "big") + 4)
    if len(symbols) < expected:
        raise Failure("Truncated", expected=expected, found=len(symbols))
    if len(symbols) > expected:
        raise Failure("TooLong", expected=expected, found=len(symbols))
    if not canonical or zlib.crc32(frame[:-4]).to_bytes(4, "little") != frame[-4:]:
        raise Failure("ChecksumMismatch")
    if frame[0] != 1:
        raise Failure("UnsupportedVersion", version=frame[0])
    body = Body(frame[3:-4])
    code = body.take(1, "format")[0]
    invite = {"name": body.str("name"), "secret": body.str("secret", shown=False)}
    names = {v: k for k, v in FORMATS.items()}
    if code not in names:
        raise Failure("BadField", field="format")
    invite["format"] = names[code]
    if code == 1:
        invite["salt_hex"] = body.take(16, "salt").hex()
    if code == 4:
        invite["chat_id"] = body.str("chat_id")
        invite["seed_suffix"] = body.str("seed_suffix", may_be_empty=True)
    count = body.take(1, "routes")[0]
    if count > 16:
        raise Failure("BadField", field="routes")
    invite["routes"] = [body.str("route") for _ in range(count)]
    if body.raw:
        raise Failure("BadField", field="routes")
    return invite


# ---------------------------------------------------------------- the vectors

GENERATED = "000g-40r4-0m30-e209-185g-r38e-1w81-24gk"  # §7.2's example: the bytes 00..13
INVITED_SALT = hashlib.sha256(b"salt:invited").digest()[:16].hex()


def invite(fmt, name, secret, routes=(), **keys):
    out = {"format": fmt, "name": name, "secret": secret, "routes": list(routes)}
    out.update(keys)
    return out


OK = [
    ("native2_generated_with_routes",
     invite("native2", "Family", GENERATED, ["drop.usb", "email.work:bob@example.org"], salt_hex=INVITED_SALT)),
    ("native2_typed_secret", invite("native2", "Book club", "correct horse battery staple orbit lantern",
                                    salt_hex=TYPED_SALT.hex())),
    ("native_v1", invite("native", "Old friends", "a long shared secret")),
    ("clm202_unicode_name", invite("clm202", "Семья 🏡", "family-secret-2025", ["telegram.home:-1001234"])),
    ("clm201", invite("clm201", "general", "my master seed", chat_id="1", seed_suffix="general")),
    ("clm201_empty_seed_suffix", invite("clm201", "odd chat", "seed", chat_id="42", seed_suffix="")),
    ("longest_fields", invite("native2", "n" * 255, "s" * 255, ["r" * 255] * 16, salt_hex="ff" * 16)),
    ("secret_with_control_characters", invite("native", "chat", "tab\tnewline\n secret")),
]


def build():
    cases = []
    for name, inv in OK:
        link = encode(inv)
        assert parse(link) == inv and parse(link.upper()) == inv, name
        cases.append({"name": name, "link": link, "expect": "ok", "invite": inv})
    first = OK[0][1]
    link = encode(first)
    cases.append({"name": "upper_case_for_qr", "link": link.upper(), "expect": "ok", "invite": first,
                  "canonical": link})
    cases.append({"name": "surrounding_white_space", "link": f"  {link}\r\n", "expect": "ok", "invite": first,
                  "canonical": link})

    body = body_of(first)

    def changed(text, index, symbol):
        return text[:index] + symbol + text[index + 1:]

    def other_symbol(c):
        return ALPHABET[(ALPHABET.index(c) + 1) % 32]

    i = len(link) // 2
    fails = [
        ("fail_not_an_invite", "https://example.org/join?chat=Family"),
        ("fail_other_scheme", "clx:" + link[4:]),
        ("fail_bad_character", changed(link, i, "u")),
        ("fail_punctuation_after_the_link", link + "."),
        ("fail_truncated", link[:-10]),
        ("fail_truncated_by_one_character", link[:-1]),
        ("fail_truncated_inside_the_header", link[:8]),
        ("fail_scheme_only", "clm:"),
        ("fail_too_long", link + "0"),
        ("fail_changed_character", changed(link, i, other_symbol(link[i]))),
        ("fail_changed_last_character", changed(link, len(link) - 1, other_symbol(link[-1]))),
        ("fail_swapped_neighbours", link[:i] + link[i + 1] + link[i] + link[i + 2:]),
        # One body byte fewer and a length that says so, under the old checksum.
        ("fail_changed_declared_length",
         link_of(bytes([1]) + (len(body) - 1).to_bytes(2, "big") + body[:-1] + frame_of(body)[-4:])),
        ("fail_unused_bits_set", link[:-1] + ALPHABET[ALPHABET.index(link[-1]) | 1]),
        ("fail_unsupported_version", link_of(frame_of(body, version=2))),
        ("fail_unknown_format", link_of(frame_of(bytes([9]) + body[1:]))),
        ("fail_empty_name", encode_raw(invite("native", "", "secret"))),
        ("fail_empty_secret", encode_raw(invite("native", "chat", ""))),
        ("fail_control_character_in_name", encode_raw(invite("native", "bad\x1b[31mname", "secret"))),
        ("fail_control_character_in_route", encode_raw(invite("native", "chat", "secret", ["drop.usb\n"]))),
        ("fail_name_not_utf8", link_of(frame_of(bytes([2, 2, 0xc3, 0x28]) + s("secret") + bytes([0])))),
        ("fail_missing_salt", link_of(frame_of(bytes([1]) + s("chat") + s("secret") + bytes(15)))),
        ("fail_clm201_empty_chat_id", encode_raw(invite("clm201", "chat", "seed", chat_id="", seed_suffix="x"))),
        ("fail_route_count_beyond_the_end", link_of(frame_of(body[:-1 - len(body_route_tail(first))] + bytes([3])
                                                              + body_route_tail(first)))),
        ("fail_bytes_after_the_last_route", link_of(frame_of(body + b"\0"))),
        ("fail_too_many_routes", encode_raw(invite("native", "chat", "secret", ["r"] * 17))),
    ]
    for name, text in fails:
        try:
            parse(text)
            raise AssertionError(f"{name} parsed")
        except Failure as failure:
            cases.append({"name": name, "link": text, "expect": failure.name, **failure.detail})
    return cases


def body_route_tail(inv):
    return b"".join(s(r) for r in inv["routes"])


def encode_raw(inv):
    """Encodes without the writer's checks, to make links a reader must refuse."""
    return link_of(frame_of(body_of(inv)))


def main():
    cases = build()
    OUT.write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {OUT}")
    print(OK[0][0], cases[0]["link"], len(cases[0]["link"]))


if __name__ == "__main__":
    main()
