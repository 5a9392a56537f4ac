#!/usr/bin/env python3
"""Real mail software for the e-mail tests and bench: Python's smtplib, imaplib and `email` package.

Standard library only. Pointers are clm202 (CLM v2.0.2's format), made here independently of
clm-core: seed = SHA-256(f"{secret}_{epoch}_{nonce}"), HMAC-DRBG keystream XOR
"#{chat}|¶|{sender}|¶|{message}".

  mail-tool.py bulk  --lmtp-port P --to ADDR --chat C --secret S --count N [--prefix T]
      N mails, one pointer each (texts "T 0" .. "T N-1"), straight into Dovecot over LMTP on
      one connection (no Postfix queue in between, so a backlog is there when the command ends).
  mail-tool.py forms --smtp-port P --to ADDR --chat C --secret S [--prefix T]
      five mails written by the `email` package over SMTP: quoted-printable, base64,
      multipart/alternative, HTML only, and a quoted reply (texts "T qp", "T base64", ...).
  mail-tool.py plain --smtp-port P --to ADDR --text T
      one mail without any pointer.
  mail-tool.py big --smtp-port P --to ADDR --chat C --secret S --text T --size N [--subject S]
      one mail of about N bytes: a pointer (text T) in its text part, padding in an attachment.
  mail-tool.py expunge-first --imap-port P --user U --password W
      deletes the oldest mail of INBOX (flag \Deleted, EXPUNGE).
  mail-tool.py state --imap-port P --user U --password W
      the mailbox as JSON: {"FOLDER": [{"subject": .., "flags": [..]}, ..], ..}.
  mail-tool.py latency --smtp-port P --to ADDR --chat C --secret S --count N -- DAEMON ARGV...
      starts the daemon (`clm-bridge ... run --json`), then sends N mails one at a time over
      SMTP; each latency is from the server's 250 reply to DATA to the daemon's output line.
  mail-tool.py backlog --count N -- DAEMON ARGV...
      starts the daemon on a mailbox already holding N pointer mails and times it until it has
      printed N lines; prints mails per second.
"""

import argparse
import hashlib
import hmac
import json
import imaplib
import re
import smtplib
import sys
import time
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email import charset as email_charset
from email.utils import formatdate, make_msgid

SEPARATOR = "|¶|"


def _hm(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def _drbg(seed, n):
    k, v = b"\x00" * 32, b"\x01" * 32
    k = _hm(k, v, b"\x00", seed)
    v = _hm(k, v)
    k = _hm(k, v, b"\x01", seed)
    v = _hm(k, v)
    out = b""
    while len(out) < n:
        v = _hm(k, v)
        out += v
    return out[:n]


def clm202(secret, chat, sender, message, epoch, nonce):
    plaintext = f"#{chat}{SEPARATOR}{sender}{SEPARATOR}{message}".encode()
    seed = hashlib.sha256(f"{secret}_{epoch}_{nonce}".encode()).digest()
    data = bytes(p ^ k for p, k in zip(plaintext, _drbg(seed, len(plaintext))))
    return json.dumps({"e": epoch, "n": nonce, "d": data.hex()})


def pointer(args, text, index):
    return clm202(args.secret, args.chat, args.sender, text, int(time.time()), f"py{time.time_ns()}x{index}")


def bulk(args):
    started = time.monotonic()
    lmtp = smtplib.LMTP("127.0.0.1", args.lmtp_port)
    lmtp.ehlo_or_helo_if_needed()
    for i in range(args.count):
        text = f"{args.prefix} {i}"
        body = (
            f"From: {args.sender}@clm.test\r\nTo: {args.to}\r\nSubject: Message {i}\r\n"
            f"Message-ID: <bulk{i}.{time.time_ns()}@clm.test>\r\nDate: {formatdate()}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{pointer(args, text, i)}\r\n"
        )
        refused = lmtp.sendmail(f"{args.sender}@clm.test", [args.to], body.encode())
        if refused:
            sys.exit(f"LMTP refused mail {i}: {refused}")
    lmtp.quit()
    print(f"delivered {args.count} mails in {time.monotonic() - started:.2f}s", file=sys.stderr)


def forms(args):
    to, sender = args.to, f"{args.sender}@clm.test"
    mails = []

    qp = EmailMessage()
    qp.set_content(f"Hi,\n\n{pointer(args, args.prefix + ' qp', 0)}\n\nBye", cte="quoted-printable")
    mails.append(("quoted-printable", qp))

    b64 = EmailMessage()
    b64.set_content(f"Hi,\n{pointer(args, args.prefix + ' base64', 1)}\n", cte="base64")
    mails.append(("base64", b64))

    alt_pointer = pointer(args, args.prefix + " alternative", 2)
    alternative = EmailMessage()
    alternative.set_content(f"Plain part:\n{alt_pointer}\n")
    alternative.add_alternative(
        f"<html><body><p>HTML part:</p><p>{_html_escape(alt_pointer)}</p></body></html>", subtype="html"
    )
    mails.append(("multipart/alternative", alternative))

    # HTML only, the way many webmail clients write it: entities, tags inside, quoted-printable.
    utf8_qp = email_charset.Charset("utf-8")
    utf8_qp.body_encoding = email_charset.QP
    html = MIMEText("", "html", _charset=utf8_qp)
    html.set_payload(
        f'<div dir="ltr"><span style="font-family:arial">{_html_escape(pointer(args, args.prefix + " html", 3))}'
        "</span><br></div>",
        charset=utf8_qp,
    )
    mails.append(("html only", html))

    quoted_pointer = pointer(args, args.prefix + " quoted", 4)
    reply = MIMEMultipart("mixed")
    reply.attach(MIMEText("Forwarding this:\n\n> " + quoted_pointer + "\n> \n> -- \n", "plain", "utf-8"))
    mails.append(("quoted reply", reply))

    with smtplib.SMTP("127.0.0.1", args.smtp_port) as smtp:
        for i, (kind, mail) in enumerate(mails):
            mail["From"] = sender
            mail["To"] = to
            mail["Subject"] = f"Form: {kind}"
            mail["Message-ID"] = make_msgid(domain="clm.test")
            mail["Date"] = formatdate()
            smtp.send_message(mail)
    print(f"sent {len(mails)} mails", file=sys.stderr)


def _html_escape(text):
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def plain(args):
    mail = EmailMessage()
    mail.set_content(args.text)
    mail["From"] = f"{args.sender}@clm.test"
    mail["To"] = args.to
    mail["Subject"] = args.subject
    mail["Date"] = formatdate()
    with smtplib.SMTP("127.0.0.1", args.smtp_port) as smtp:
        smtp.send_message(mail)


def big(args):
    mail = EmailMessage()
    mail.set_content(f"{pointer(args, args.text, 0)}\n")
    mail.add_attachment(b"x" * args.size, maintype="application", subtype="octet-stream", filename="big.bin")
    mail["From"] = f"{args.sender}@clm.test"
    mail["To"] = args.to
    mail["Subject"] = args.subject
    mail["Date"] = formatdate()
    with smtplib.SMTP("127.0.0.1", args.smtp_port) as smtp:
        smtp.send_message(mail)


def expunge_first(args):
    imap = imaplib.IMAP4("127.0.0.1", args.imap_port)
    imap.login(args.user, args.password)
    imap.select("INBOX")
    imap.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    imap.expunge()
    imap.logout()


def state(args):
    imap = imaplib.IMAP4("127.0.0.1", args.imap_port)
    imap.login(args.user, args.password)
    out = {}
    _, folders = imap.list()
    for line in folders:
        name = line.decode().rsplit(' "." ', 1)[-1].strip().strip('"')
        imap.select(f'"{name}"', readonly=True)
        _, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        mails = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0])
            subject = item[1].decode(errors="replace").strip().removeprefix("Subject: ")
            mails.append({"subject": subject, "flags": flags.group(1).decode().split() if flags else []})
        out[name] = mails
    imap.logout()
    print(json.dumps(out, sort_keys=True))


def _start_daemon(argv):
    import subprocess
    import threading

    daemon = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    shown = {}
    running = threading.Event()
    log = []

    def read_stdout():
        for line in daemon.stdout:
            now = time.monotonic()
            try:
                shown.setdefault(json.loads(line)["text"], now)
            except (ValueError, KeyError):
                pass

    def read_stderr():
        for line in daemon.stderr:
            log.append(line.decode(errors="replace"))
            if b"clm-bridge is running" in line:
                running.set()

    threading.Thread(target=read_stdout, daemon=True).start()
    threading.Thread(target=read_stderr, daemon=True).start()
    if not running.wait(120):
        daemon.kill()
        sys.exit("the daemon did not start:\n" + "".join(log))
    return daemon, shown, log


def _stop(daemon):
    daemon.terminate()
    daemon.wait(60)


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def latency(args):
    daemon, shown, log = _start_daemon(args.daemon)
    time.sleep(1)  # let it log in and reach IDLE
    latencies = []
    try:
        with smtplib.SMTP("127.0.0.1", args.smtp_port) as smtp:
            for i in range(args.count):
                text = f"latency {i}"
                body = (
                    f"From: {args.sender}@clm.test\r\nTo: {args.to}\r\nSubject: Message\r\n"
                    f"Content-Type: text/plain; charset=utf-8\r\n\r\n{pointer(args, text, i)}\r\n"
                )
                smtp.sendmail(f"{args.sender}@clm.test", [args.to], body.encode())
                accepted = time.monotonic()
                deadline = accepted + 60
                while text not in shown:
                    if time.monotonic() > deadline or daemon.poll() is not None:
                        sys.exit(f"mail {i} never shown:\n" + "".join(log[-20:]))
                    time.sleep(0.0005)
                latencies.append(shown[text] - accepted)
    finally:
        _stop(daemon)
    ms = [1000 * value for value in latencies]
    print(f"latency: {len(ms)} mails, p50 {_percentile(ms, 0.5):.1f} ms, p99 {_percentile(ms, 0.99):.1f} ms, "
          f"max {max(ms):.1f} ms")


def backlog(args):
    started = time.monotonic()
    daemon, shown, log = _start_daemon(args.daemon)
    running = time.monotonic()
    try:
        deadline = running + 600
        while len(shown) < args.count:
            if time.monotonic() > deadline or daemon.poll() is not None:
                sys.exit(f"only {len(shown)} of {args.count} shown:\n" + "".join(log[-20:]))
            time.sleep(0.01)
        last = max(shown.values())
    finally:
        _stop(daemon)
    print(f"backlog: {len(shown)} mails in {last - running:.2f} s after start-up "
          f"({len(shown) / (last - running):.0f} mails/s; {last - started:.2f} s from launch)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("bulk", "forms", "plain", "big"):
        command = commands.add_parser(name)
        command.add_argument("--to", required=True)
        command.add_argument("--sender", default="python")
        if name == "bulk":
            command.add_argument("--lmtp-port", type=int, required=True)
            command.add_argument("--count", type=int, required=True)
        else:
            command.add_argument("--smtp-port", type=int, required=True)
        if name in ("plain", "big"):
            command.add_argument("--text", required=True)
            command.add_argument("--subject", default="No pointer here" if name == "plain" else "Big mail")
        if name == "big":
            command.add_argument("--size", type=int, required=True)
        if name != "plain":
            command.add_argument("--chat", required=True)
            command.add_argument("--secret", required=True)
            command.add_argument("--prefix", default="mail")
    command = commands.add_parser("latency")
    for name in ("--smtp-port", "--count"):
        command.add_argument(name, type=int, required=True)
    for name in ("--to", "--chat", "--secret"):
        command.add_argument(name, required=True)
    command.add_argument("--sender", default="python")
    command.add_argument("daemon", nargs="+")
    command = commands.add_parser("backlog")
    command.add_argument("--count", type=int, required=True)
    command.add_argument("daemon", nargs="+")
    for name in ("state", "expunge-first"):
        command = commands.add_parser(name)
        command.add_argument("--imap-port", type=int, required=True)
        command.add_argument("--user", required=True)
        command.add_argument("--password", required=True)
    args = parser.parse_args()
    commands = {
        "bulk": bulk,
        "forms": forms,
        "plain": plain,
        "big": big,
        "expunge-first": expunge_first,
        "state": state,
        "latency": latency,
        "backlog": backlog,
    }
    commands[args.command](args)


if __name__ == "__main__":
    main()
