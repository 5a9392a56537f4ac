#!/usr/bin/env python3
"""An echo bot for clm-bridge, on the daemon's API alone (standard library only).

It answers every message received in one chat with a pointer reply, "echo #ID: TEXT", sent
over the chat's routes by the running daemon (`clm-bridge run`). It keeps the id of the last
event it handled in a state file, so a bot that restarts (or loses the daemon for a while)
resumes where it stopped: it misses no message and answers none twice. On a restart it first
reads everything up to the newest event before answering, so a reply sent just before a crash,
whose event id never reached the state file, is seen and not sent again.

    python3 echo_bot.py --socket ~/.local/share/clm-bridge/api.sock --chat Family \
        --state ~/.local/state/clm-echo-bot.json

Protocol: JSON-RPC 2.0, one JSON object per line, on the Unix socket (see `clm-bridge api spec`).
"""

import argparse
import json
import os
import re
import socket
import sys
import time

REPLY = re.compile(r"^echo #(\d+): ")


class ApiError(Exception):
    """The daemon answered with an error object."""

    def __init__(self, error):
        super().__init__(error.get("message", "error"))
        self.code = error.get("code")
        self.data = error.get("data") or {}


class Api:
    """One connection: calls wait for their response; events that arrive meanwhile are kept."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.file = self.sock.makefile("rwb")
        self.next_id = 1
        self.events = []

    def close(self):
        self.file.close()
        self.sock.close()

    def _read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("the daemon closed the connection")
        return json.loads(line)

    def call(self, method, params=None):
        request_id = self.next_id
        self.next_id += 1
        request = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        self.file.write(json.dumps(request).encode() + b"\n")
        self.file.flush()
        while True:
            message = self._read()
            if "id" not in message:
                self.events.append(message)
            elif "error" in message:
                raise ApiError(message["error"])
            elif message["id"] == request_id:
                return message["result"]

    def next_event(self):
        if self.events:
            return self.events.pop(0)
        while True:
            message = self._read()
            if "id" not in message:
                return message


def load_state(path):
    try:
        with open(path) as file:
            return json.load(file)["after"]
    except FileNotFoundError:
        return None


def save_state(path, after):
    temporary = path + ".tmp"
    with open(temporary, "w") as file:
        json.dump({"after": after}, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def reply(api, chat, message):
    sent = api.call("send", {"chat": chat, "text": f"echo #{message['id']}: {message['text']}"})
    print(f"echo-bot: answered #{message['id']} with #{sent['message_id']}", flush=True)


def serve(api, chat, state_path):
    after = load_state(state_path)
    subscribed = api.call("subscribe", {} if after is None else {"after": after})
    after, newest = subscribed["after"], subscribed["last_event_id"]
    print(f"echo-bot: subscribed after {after}", flush=True)
    # Catch up to the newest event before answering: replies sent before a crash are found.
    waiting, answered = [], set()
    while after < newest:
        event = api.next_event()
        params = event["params"]
        after = params["event_id"]
        if event["method"] == "message" and params["chat"] == chat:
            if params["direction"] == "received":
                waiting.append(params)
            elif match := REPLY.match(params["text"]):
                answered.add(int(match.group(1)))
    for message in waiting:
        if message["id"] not in answered:
            reply(api, chat, message)
    save_state(state_path, after)
    while True:
        event = api.next_event()
        params = event["params"]
        if event["method"] == "message" and params["chat"] == chat and params["direction"] == "received":
            reply(api, chat, params)
        save_state(state_path, params["event_id"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, help="the daemon's <data dir>/api.sock")
    parser.add_argument("--chat", required=True, help="the chat to answer in")
    parser.add_argument("--state", required=True, help="where the last event handled is kept")
    args = parser.parse_args()
    while True:
        try:
            api = Api(args.socket)
        except OSError as error:
            print(f"echo-bot: cannot reach the daemon ({error}); trying again", file=sys.stderr, flush=True)
            time.sleep(1)
            continue
        try:
            serve(api, args.chat, args.state)
        except ApiError as error:
            print(f"echo-bot: {error} ({error.code})", file=sys.stderr, flush=True)
            return 2
        except (ConnectionError, OSError) as error:
            print(f"echo-bot: {error}; reconnecting", file=sys.stderr, flush=True)
            time.sleep(1)
        finally:
            api.close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
