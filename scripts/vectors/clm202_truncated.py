#!/usr/bin/env python3
"""Reproduces CLM v2.0.2's published sender bug and writes core/tests/vectors/clm202-truncated.json.

The published sender builds plaintext = f"#{chat_name}|¶|{username}|¶|{message}", asks the
HMAC-DRBG for len(plaintext) bytes (characters, not UTF-8 bytes) and XORs with zip(), which
stops at the shorter input: the last (bytes - characters) plaintext bytes are lost. Each case
carries what a decoder must show (design.md): an incomplete trailing UTF-8 sequence is dropped
and the message marked truncated; a missing `|¶|` after the sender also means truncated (the
cut reached it), and a partial separator at the end is dropped.

Standard library only:  python3 scripts/vectors/clm202_truncated.py
"""

import hashlib
import hmac
import json
import pathlib

SEPARATOR = "|¶|"
OUT = pathlib.Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors" / "clm202-truncated.json"


def hm(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def drbg(seed, n):
    """NIST SP 800-90A HMAC_DRBG (SHA-256): instantiate with `seed`, generate n bytes."""
    k, v = b"\x00" * 32, b"\x01" * 32
    k = hm(k, v, b"\x00", seed)
    v = hm(k, v)
    if seed:
        k = hm(k, v, b"\x01", seed)
        v = hm(k, v)
    out = b""
    while len(out) < n:
        v = hm(k, v)
        out += v
    return out[:n]


def published_sender(secret, chat_name, sender, message, epoch, nonce):
    """What CLM v2.0.2's sender emits, bug included."""
    plaintext = f"#{chat_name}{SEPARATOR}{sender}{SEPARATOR}{message}"
    seed = hashlib.sha256(f"{secret}_{epoch}_{nonce}".encode()).digest()
    keystream = drbg(seed, len(plaintext))  # characters, not bytes: the bug
    data = bytes(p ^ k for p, k in zip(plaintext.encode(), keystream))
    return json.dumps({"e": epoch, "n": nonce, "d": data.hex()}), data


def decode_body(body):
    """The decoder rule for what follows `#{chat_name}|¶|`: (from, text, truncated)."""
    truncated = False
    try:
        valid = body.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.end != len(body) or error.reason != "unexpected end of data":
            raise
        valid, truncated = body[: error.start].decode("utf-8"), True
    if SEPARATOR in valid:
        sender, text = valid.split(SEPARATOR, 1)
        return sender, text, truncated
    for partial in ("|¶", "|"):
        if valid.endswith(partial):
            valid = valid[: -len(partial)]
            break
    return valid, "", True


def cuts_inside_character(plaintext):
    """Whether the published sender's cut (after len(plaintext) bytes) splits a character."""
    kept = plaintext.encode()[: len(plaintext)]
    try:
        kept.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def expected(secret, chat_name, pointer_data, epoch, nonce):
    seed = hashlib.sha256(f"{secret}_{epoch}_{nonce}".encode()).digest()
    plain = bytes(c ^ k for c, k in zip(pointer_data, drbg(seed, len(pointer_data))))
    prefix = f"#{chat_name}{SEPARATOR}".encode()
    if not plain.startswith(prefix):
        return {"expect_error": "BadPlaintext"}  # the cut reached the chat name itself
    sender, text, truncated = decode_body(plain[len(prefix):])
    return {"expect_from": sender, "expect_text": text, "expect_truncated": truncated}


EPOCH = 1795444840
CASES = [
    # name, secret, chat_name, from, text, whether the cut falls inside a character
    ("ascii_only_not_cut", "q1-project-alpha", "Work", "alice", "plain ASCII loses only the separators' bytes", False),
    ("cut_inside_emoji_of_message", "q1-project-alpha", "Work", "alice", "🌌 ok", True),
    ("message_ending_in_emoji_cut_inside_cyrillic", "q1-project-alpha", "Work", "alice", "good night, Пр🌌", True),
    ("cut_inside_cyrillic", "q1-project-alpha", "Work", "alice", "Привет!", True),
    ("cut_inside_cjk", "family-secret-2025", "Family", "mom", "ok 晚饭好了", True),
    ("emoji_chat_name_cut_inside_cyrillic", "family-secret-2025", "Family 🏡", "dad", "Привет 🌌", True),
    ("emoji_chat_name_cut_inside_emoji", "family-secret-2025", "Family 🏡", "dad", "🌌🌌🌌 see you", True),
    ("cyrillic_chat_name_cut_in_message", "секрет", "Семья", "мама", "ужин готов, приходите домой 🍲", True),
    ("cut_on_character_boundary", "q1-project-alpha", "Work", "alice", "ok 🌌 done here", False),
    ("emoji_chat_name_cut_right_after_separator", "q1-project-alpha", "🌌 Galaxy 🌌", "star", "hi 🌌 all", False),
    ("empty_message_cut_inside_separator", "q1-project-alpha", "Work", "alice", "", True),
    ("empty_message_cut_after_bar", "q1-project-alpha", "Worké", "alice", "", False),
    ("empty_message_whole_separator_cut", "q1-project-alpha", "Wörké", "alice", "", False),
    ("empty_message_cut_into_sender", "q1-project-alpha", "чат", "alice", "", False),
    ("empty_message_cut_inside_sender_character", "q1-project-alpha", "Work", "алиса", "", True),
    ("empty_message_emoji_sender_cut_inside_emoji", "q1-project-alpha", "Work", "alice 🌌", "", True),
    ("cut_reaches_chat_name", "q1-project-alpha", "🌌🌌🌌🌌🌌", "a", "", False),
]


def main():
    cases = []
    for name, secret, chat_name, sender, text, cut_inside in CASES:
        plaintext = f"#{chat_name}{SEPARATOR}{sender}{SEPARATOR}{text}"
        assert cuts_inside_character(plaintext) == cut_inside, name
        nonce = hashlib.sha256(name.encode()).hexdigest()[:16]
        pointer, data = published_sender(secret, chat_name, sender, text, EPOCH, nonce)
        case = {
            "name": name,
            "secret": secret,
            "chat_name": chat_name,
            "from": sender,
            "text_full": text,
            "epoch": EPOCH,
            "nonce": nonce,
            "pointer": pointer,
        }
        case.update(expected(secret, chat_name, data, EPOCH, nonce))
        cases.append(case)
        print(name, {k: v for k, v in case.items() if k.startswith("expect")})
    OUT.write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
