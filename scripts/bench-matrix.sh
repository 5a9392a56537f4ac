#!/usr/bin/env bash
# Send-to-history latency of the Matrix transport over loopback (release build, real Synapse):
# a person's client posts a pointer to a room (client-server API PUT), a running bridge
# (`clm-bridge run --json`) syncs it, opens it, stores it and prints it. The driver times each
# pointer from just before the PUT to the moment the bridge printed its line, one at a time.
# Then the same for pointers sent by another bridge with `clm-bridge send` (a new process each:
# vault, session restore, catch-up sync, send), timed from starting `send`.
#
#   scripts/bench-matrix.sh [POSTS] [SENDS]     defaults: 200 posts, 20 sends
set -euo pipefail
cd "$(dirname "$0")/.."
posts="${1:-200}"
sends="${2:-20}"
cargo build --release -q -p clm-bridge
bin="$PWD/target/release/clm-bridge"
state="$PWD/target/test-servers/synapse"
eval "$(scripts/servers/synapse.sh start "$state" | sed 's/^/export /')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 - "$bin" "$work" "$posts" "$sends" <<'PY'
import json, os, subprocess, sys, threading, time, urllib.request

bin, work, posts, sends = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
url = os.environ["CLM_TEST_MATRIX_URL"]
secret = os.environ["CLM_TEST_MATRIX_SHARED_SECRET"]
register = os.environ["CLM_TEST_MATRIX_REGISTER"]
tag = f"{os.getpid()}_{int(time.time())}"
password = "bench password"
chat_secret = "bench family secret"

def api(method, path, token=None, body=None):
    request = urllib.request.Request(url + path, method=method, data=json.dumps(body or {}).encode())
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)

def user(name):
    subprocess.run([register, "-u", name, "-p", password, "--no-admin", "-k", secret, url],
                   check=True, stdout=subprocess.DEVNULL)
    answer = api("POST", "/_matrix/client/v3/login", body={"type": "m.login.password",
                 "identifier": {"type": "m.id.user", "user": name}, "password": password})
    return answer["user_id"], answer["access_token"]

carol, carol_token = user(f"bench_carol_{tag}")
ann, ann_token = user(f"bench_ann_{tag}")
ben, _ = user(f"bench_ben_{tag}")
env = dict(os.environ, CLM_BRIDGE_PASSPHRASE="bench vault passphrase: 7 ravens juggle quinoa", CLM_BENCH_SECRET=chat_secret)

def node(name, user_id):
    home = os.path.join(work, name)
    os.makedirs(home)
    with open(os.path.join(home, "password"), "w") as f:
        f.write(password + "\n")
    config = os.path.join(home, "config.toml")
    with open(config, "w") as f:
        f.write(f'[matrix.m]\nhomeserver = "{url}"\nuser_id = "{user_id}"\n'
                f'password_file = "{home}/password"\nallowed_inviters = ["{carol}"]\n')
    base = [bin, "--data-dir", os.path.join(home, "data"), "--config", config]
    subprocess.run(base + ["init", "--name", name], env=env, check=True, capture_output=True)
    subprocess.run(base + ["chat", "add", "Family", "--format", "native", "--secret-env", "CLM_BENCH_SECRET"],
                   env=env, check=True, capture_output=True)
    return base

ann_cli, ben_cli = node("ann", ann), node("ben", ben)
daemon = subprocess.Popen(ben_cli + ["run", "--json"], env=dict(env, RUST_LOG="warn,clm_adapters=info"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
seen = {}
ready = threading.Event()
def read_out():
    for line in daemon.stdout:
        seen[json.loads(line)["text"]] = time.monotonic()
def read_err():
    for line in daemon.stderr:
        if "first sync stored" in line:
            ready.set()
threading.Thread(target=read_out, daemon=True).start()
threading.Thread(target=read_err, daemon=True).start()
assert ready.wait(120), "the bridge did not sync"

room = api("POST", "/_matrix/client/v3/createRoom", carol_token,
           {"preset": "private_chat", "invite": [ann, ben]})["room_id"]
# ann's bridge only sends here (its daemon does not run): ann joins by hand.
api("POST", f"/_matrix/client/v3/rooms/{room}/join", ann_token)
while True:
    joined = api("GET", f"/_matrix/client/v3/rooms/{room}/joined_members", carol_token)["joined"]
    if ann in joined and ben in joined:
        break
    time.sleep(0.05)

def wait_for(text, start):
    deadline = time.monotonic() + 60
    while text not in seen:
        assert time.monotonic() < deadline, f"{text!r} never shown"
        time.sleep(0.001)
    return seen[text] - start

def encode(text):
    return subprocess.run([bin, "encode", "--format", "native", "--chat", "Family", "--from", "carol",
                           "--secret-env", "CLM_BENCH_SECRET", "--", text],
                          env=env, check=True, capture_output=True, text=True).stdout.strip()

def report(what, latencies):
    latencies = sorted(latencies)
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(f"{what}: n={len(latencies)} p50={pick(0.50):.1f} ms p99={pick(0.99):.1f} ms "
          f"max={latencies[-1] * 1000:.1f} ms")

pointers = [(f"bench post {i}", encode(f"bench post {i}")) for i in range(posts)]
latencies = []
for i, (text, pointer) in enumerate(pointers):
    start = time.monotonic()
    api("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/bench{tag}_{i}", carol_token,
        {"msgtype": "m.text", "body": pointer})
    latencies.append(wait_for(text, start))
report("posted by a client -> shown by the bridge", latencies)

latencies = []
for i in range(sends):
    text = f"bench send {i}"
    start = time.monotonic()
    subprocess.run(ann_cli + ["send", "--chat", "Family", "--via", f"matrix.m:{room}", text],
                   env=env, check=True, capture_output=True)
    latencies.append(wait_for(text, start))
report("`clm-bridge send` (new process) -> shown by the other bridge", latencies)
daemon.terminate()
daemon.wait(30)
PY
