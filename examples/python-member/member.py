#!/usr/bin/env python3
"""An external fleet member in Python: plays one server of a fleetsim fleet
(the secondary, typically) over the wire, with its own takeover logic.

It serves Line (presence, replication), Telephony (registration of home
phones and guests, keepalive, unregister, calls), grpc.health.v1, and sends
presence to its line peers. The rules follow docs/protocol.md: a guest is
accepted only once its home has been silent for the failover time (3 minutes
by default) since the last presence heard from it; idle guests are sent home
once the home has been heard again, without a break, for the failback time
(10 minutes).

Stubs are generated at run time from the repository's .proto files with
grpcio-tools, into a cache directory keyed by the files' contents.

    python3 examples/python-member/member.py --fleet scenarios/fleets/reference.toml \\
        --server secondary --listen 127.0.0.1:7202
    fleetsim conform 127.0.0.1:7202 --role secondary
"""

import argparse
import hashlib
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from concurrent import futures
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# grpc.health.v1, as the gRPC health checking protocol defines it. Its file
# lives under its own directory so the generated module does not shadow the
# installed `grpc` package.
HEALTH_PROTO = """syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
"""

H323, SIP, SOFTPHONE, ANALOGUE, DECT = 1, 2, 3, 4, 5
KIND_NAMES = {H323: "h323", SIP: "sip", SOFTPHONE: "softphone", ANALOGUE: "analogue", DECT: "dect"}
# The order fleetsim numbers a server's phones in.
KIND_ORDER = [("h323", H323), ("sip", SIP), ("softphone", SOFTPHONE), ("analogue", ANALOGUE), ("dect", DECT)]
CALL_KINDS = range(1, 7)
VOICEMAIL_CALL, HUNT_GROUP_CALL, EXTERNAL_CALL = 5, 4, 6


def log(msg):
    print(f"member: {msg}", file=sys.stderr, flush=True)


# --- stubs --------------------------------------------------------------------


def load_stubs(proto_dir, cache_root):
    """Generates the Python stubs (once per content) and imports them."""
    protos = sorted((proto_dir / "fleetsim" / "v1").glob("*.proto"))
    if not protos:
        sys.exit(f"member: no .proto files under {proto_dir}/fleetsim/v1")
    digest = hashlib.sha256(HEALTH_PROTO.encode())
    for p in protos:
        digest.update(p.name.encode() + p.read_bytes())
    out = cache_root / digest.hexdigest()[:16]
    if not (out / ".done").exists():
        generate(proto_dir, protos, out)
    sys.path.insert(0, str(out))
    import grpc  # noqa: F401  (fail early and clearly if it is missing)
    from fleetsim.v1 import common_pb2, line_pb2, line_pb2_grpc, telephony_pb2, telephony_pb2_grpc
    from fleetsim_member import health_pb2, health_pb2_grpc

    return {
        "common": common_pb2,
        "line": line_pb2, "line_grpc": line_pb2_grpc,
        "tel": telephony_pb2, "tel_grpc": telephony_pb2_grpc,
        "health": health_pb2, "health_grpc": health_pb2_grpc,
    }


def generate(proto_dir, protos, out):
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="stubs-", dir=out.parent))
    extra = tmp / "proto"
    (extra / "fleetsim_member").mkdir(parents=True)
    (extra / "fleetsim_member" / "health.proto").write_text(HEALTH_PROTO)
    files = [str(p.relative_to(proto_dir)) for p in protos] + ["fleetsim_member/health.proto"]
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", f"-I{extra}",
           f"--python_out={tmp}", f"--grpc_python_out={tmp}", *files]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"member: protoc failed ({' '.join(cmd)}):\n{r.stderr}")
    (tmp / ".done").write_text("ok\n")
    try:
        os.rename(tmp, out)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another process made it first: use theirs


# --- the fleet file -----------------------------------------------------------


def parse_duration(text):
    """'500ms', '30s', '3m', '1h30m', '30d' -> seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+)(ms|s|m|h|d)", text)
    if text == "0":
        return 0.0
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {text!r}")
    return sum(int(n) * units[u] for n, u in parts)


class Fleet:
    """The parts of a fleet file this member needs, with fleetsim's defaults
    (docs/file-format.md): lines, backups, phones and their extensions."""

    def __init__(self, doc):
        self.servers = {}
        order = doc.get("server", [])
        roles = {s["name"]: s["role"] for s in order}
        primary = next(n for n, r in roles.items() if r == "primary")
        secondary = next((n for n, r in roles.items() if r == "secondary"), None)
        self.phones = {}  # extension -> (kind, home)
        for i, s in enumerate(order):
            self.servers[s["name"]] = self._server(s, primary, secondary)
            first = s.get("first-extension", (i + 2) * 1000 + 1)
            counts = s.get("phones", {})
            for key, kind in KIND_ORDER:
                for _ in range(counts.get(key, 0)):
                    self.phones[str(first)] = (kind, s["name"])
                    first += 1
        self.lines = set()
        for n in roles:
            for hub in (primary, secondary):
                if hub and n != hub:
                    self.lines.add(frozenset((n, hub)))
        for line in doc.get("line", []):
            self.lines.add(frozenset(line["between"]))
        t = doc.get("timers", {})
        d = lambda key, default: parse_duration(t.get(key, default))  # noqa: E731
        self.presence = d("presence-interval", "30s")
        self.failover_after = d("failover-after", "3m")
        self.failback_after = d("failback-after", "10m")
        self.keepalive = d("keepalive-interval", "30s")
        self.deadline = d("rpc-deadline", "4s")
        self.jitter = d("start-jitter", "5s")
        res = doc.get("resilience", {})
        self.homeless = parse_duration(res.get("homeless-prevention", "5m"))
        self.manual_h323 = res.get("phone-failback", "automatic") == "manual"
        self.hunt_groups = [(g["name"], g["server"]) for g in doc.get("hunt-group", [])]

    @staticmethod
    def _server(s, primary, secondary):
        role = s["role"]
        ip_office = role not in ("application-server", "ucm")
        backup = s.get("backup")
        if backup == "none" or not ip_office:
            backup = None
        elif backup is None and role != "secondary":
            backup = secondary or (primary if role != "primary" else None)
        default_opts = ["ip-phones", "hunt-groups", "voicemail"] if role == "primary" else ["ip-phones"]
        capacity = s.get("capacity", 384 if role == "expansion-v2" else 1500)
        return {"role": role, "ip_office": ip_office, "backup": backup,
                "options": set(s.get("backs-up", default_opts)) if backup else set(),
                "capacity": capacity, "address": s.get("address")}

    def peers(self, name):
        return sorted(next(iter(line - {name})) for line in self.lines if name in line)

    def backup_for_kind(self, home, kind):
        s = self.servers.get(home)
        option = {H323: "ip-phones", SIP: "ip-phones", DECT: "ip-dect"}.get(kind)
        if s is None or option is None or option not in s["options"]:
            return None
        return s["backup"]

    def phones_of(self, home):
        return {e: k for e, (k, h) in self.phones.items() if h == home}


# --- the member's state and rules ---------------------------------------------


class Peer:
    def __init__(self, now):
        self.last_seen = now        # start of this member if never heard
        self.incarnation = 0
        self.lost = False
        self.returned_since = None
        self.failover_active = False  # guests of it registered here
        self.failback_at = None
        self.advertised = []


def emulated(wall_secs, speed):
    """Wall seconds as the fleet's emulated time, in words: 2m31s, 45s, 1h2m."""
    secs = round(wall_secs * speed)
    h, rest = divmod(secs, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s" if s or secs == 0 else ""]
    return "".join(parts)


class Member:
    """What this member remembers (in memory only) and the rules it applies."""

    def __init__(self, fleet, name, speed, pb):
        self.fleet, self.name, self.pb = fleet, name, pb
        self.incarnation = int(time.time())
        self.speed = speed
        scale = lambda secs: max(secs / speed, 0.001)  # noqa: E731
        self.presence = scale(fleet.presence)
        self.failover_after = scale(fleet.failover_after)
        self.failback_after = scale(fleet.failback_after)
        self.keepalive = scale(fleet.keepalive)
        self.deadline = max(scale(fleet.deadline), 0.05)
        self.gap = 2 * self.presence + scale(fleet.jitter)
        self.homeless = scale(fleet.homeless)
        self.lock = threading.Lock()
        now = time.monotonic()
        self.peers = {p: Peer(now) for p in fleet.peers(name)}
        self.held = {}    # home -> (version, set of extensions)
        self.regs = {}    # extension -> dict(home, guest, kind, since, refreshed)
        self.calls = {}   # call id -> (extension, queue of end reasons)
        self.hunt = {}    # hunt group running here -> its home
        self.own_phones = fleet.phones_of(name)

    # Presence and records.

    def on_presence(self, frm, incarnation, hunt_groups):
        """None if there is no line to `frm`; else the version of its records held."""
        now = time.monotonic()
        with self.lock:
            p = self.peers.get(frm)
            if p is None:
                return None
            silent = now - p.last_seen
            restarted = p.incarnation not in (0, incarnation)
            p.last_seen, p.incarnation, p.advertised = now, incarnation, list(hunt_groups)
            if p.lost and (p.returned_since is None or restarted or silent > self.gap):
                p.returned_since = now
                if not p.failover_active:
                    p.lost, p.returned_since = False, None
                log(f"{frm} heard again after {silent:.1f}s")
            return self.held.get(frm, (0, None))[0]

    def on_replicate(self, frm, version, extensions):
        if self.fleet.servers.get(frm, {}).get("backup") != self.name:
            return None
        with self.lock:
            if self.held.get(frm, (None,))[0] != version:
                self.held[frm] = (version, set(extensions))
                log(f"{len(extensions)} records of {frm} held, version {version}")
        return len(extensions)

    def running_for(self, home):
        with self.lock:
            return sorted(g for g, h in self.hunt.items() if h == home)

    # The watchdog: the failover and failback rules, registration expiry.

    def evaluate(self):
        now = time.monotonic()
        with self.lock:
            for name, p in self.peers.items():
                silent = now - p.last_seen
                if silent >= self.failover_after and (not p.lost or p.returned_since is not None):
                    p.lost, p.returned_since = True, None
                    log(f"{name} lost: silent for {silent:.1f}s")
                elif p.returned_since is not None and now >= p.returned_since + self.failback_after:
                    p.lost, p.returned_since, p.failover_active = False, None, False
                    p.failback_at = now
                    for g in [g for g, h in self.hunt.items() if h == name]:
                        del self.hunt[g]
                    log(f"failback to {name}: visible again for {self.failback_after:g}s")
            limit = 2 * self.keepalive + self.deadline
            for ext in [e for e, r in self.regs.items() if now - r["refreshed"] > limit]:
                log(f"registration of {ext} expired")
                del self.regs[ext]

    # Registration.

    def register(self, ext, home, kind):
        """None when accepted, else (status code name, reason)."""
        if home == self.name:
            if ext not in self.own_phones:
                return ("NOT_FOUND", f"{ext} is not a phone of {self.name}")
            with self.lock:
                self._add(ext, home, False, kind)
            return None
        return self.register_guest(ext, home, kind)

    def register_guest(self, ext, home, kind):
        if kind not in (H323, SIP, DECT):
            return ("FAILED_PRECONDITION", f"{KIND_NAMES[kind]} endpoints do not fail over")
        if self.fleet.backup_for_kind(home, kind) != self.name:
            return ("FAILED_PRECONDITION",
                    f"{self.name} is not {home}'s backup for {KIND_NAMES[kind]} phones")
        now = time.monotonic()
        with self.lock:
            p = self.peers.get(home)
            if p is None:
                return ("FAILED_PRECONDITION", f"no line to {home}")
            window = p.failback_at is not None and now < p.failback_at + self.homeless
            if not p.lost and not window:
                return ("FAILED_PRECONDITION",
                        # Said in the fleet's emulated time, as its timeline is.
                        f"{home} last heard {emulated(now - p.last_seen, self.speed)} ago; "
                        f"failover needs {emulated(self.failover_after, self.speed)} of silence")
            if p.returned_since is not None:
                return ("FAILED_PRECONDITION", f"{home} is visible again; register there")
            if ext not in self.held.get(home, (0, set()))[1]:
                return ("FAILED_PRECONDITION", f"no record of {ext} from {home}: resilience lost")
            guests = sum(1 for r in self.regs.values() if r["guest"])
            capacity = self.fleet.servers[self.name]["capacity"]
            if ext not in self.regs and len(self.own_phones) + guests >= capacity:
                return ("FAILED_PRECONDITION",
                        f"capacity of {capacity} users and extensions reached (guests included): no resilience")
            if p.lost and not p.failover_active:
                p.failover_active = True
                self._take_hunt_groups(home, p)
                log(f"failover of {home} started by {ext}")
            self._add(ext, home, True, kind)
        return None

    def _take_hunt_groups(self, home, p):
        if "hunt-groups" in self.fleet.servers[home]["options"]:
            for g in p.advertised:
                self.hunt[g] = home

    def _add(self, ext, home, guest, kind):
        now = time.monotonic()
        self.regs[ext] = {"home": home, "guest": guest, "kind": kind, "since": now, "refreshed": now}

    def keepalive_of(self, ext, in_call):
        """None if not registered; else whether the phone must go home now."""
        now = time.monotonic()
        with self.lock:
            r = self.regs.get(ext)
            if r is None:
                return None
            r["refreshed"] = now
            if not r["guest"] or in_call or (r["kind"] == H323 and self.fleet.manual_h323):
                return False
            p = self.peers.get(r["home"])
            if p is None or p.lost or p.failover_active:
                return False
            if p.failback_at is not None and r["since"] >= p.failback_at and now < p.failback_at + self.homeless:
                return False
            del self.regs[ext]
        log(f"{ext} sent home to {r['home']}")
        return True

    def unregister(self, ext):
        with self.lock:
            self.regs.pop(ext, None)

    # Calls.

    def end_calls_of(self, ext):
        with self.lock:
            ids = [c for c, (e, _) in self.calls.items() if e == ext]
            ended = [self.calls.pop(c) for c in ids]
        for _, q in ended:
            q.put(None)


# --- the gRPC services --------------------------------------------------------


def services(member):
    import grpc

    pb = member.pb
    code = lambda name: getattr(grpc.StatusCode, name)  # noqa: E731

    class Line(pb["line_grpc"].LineServicer):
        def Presence(self, req, ctx):
            held = member.on_presence(getattr(req, "from"), req.incarnation, req.hunt_groups)
            if held is None:
                ctx.abort(code("PERMISSION_DENIED"), f"{member.name}: no line to {getattr(req, 'from')!r}")
            return pb["line"].PresenceReply(
                server=member.name, records_version_held=held,
                running_your_hunt_groups=member.running_for(getattr(req, "from")))

        def Replicate(self, req, ctx):
            frm = getattr(req, "from")
            held = member.on_replicate(frm, req.version, [p.extension for p in req.phones])
            if held is None:
                ctx.abort(code("FAILED_PRECONDITION"), f"{member.name} is not {frm}'s backup for IP phones")
            return pb["line"].ReplicateReply(held=held)

        def HuntCall(self, req, ctx):
            with member.lock:
                runs = req.group in member.hunt
            if not runs:
                ctx.abort(code("FAILED_PRECONDITION"), f"hunt group {req.group!r} does not run on {member.name}")
            return pb["line"].HuntCallReply()

        def Trunk(self, req, ctx):
            ctx.abort(code("FAILED_PRECONDITION"), f"{member.name} has no trunks")

        def ReleaseTrunk(self, req, ctx):
            return pb["line"].ReleaseTrunkReply()

    return Line(), Telephony(member, code), Health(member)


def Telephony(member, code):  # noqa: N802  (a class factory)
    pb = member.pb

    class Servicer(pb["tel_grpc"].TelephonyServicer):
        def Register(self, req, ctx):
            if req.kind not in KIND_NAMES:
                ctx.abort(code("INVALID_ARGUMENT"), f"unknown phone kind {req.kind}")
            refused = member.register(req.extension, req.home, req.kind)
            if refused:
                log(f"register {req.extension} (home {req.home}) refused: {refused[1]}")
                ctx.abort(code(refused[0]), refused[1])
            return pb["tel"].RegisterReply(guest=req.home != member.name)

        def Keepalive(self, req, ctx):
            if not req.in_call:
                member.end_calls_of(req.extension)
            go_home = member.keepalive_of(req.extension, req.in_call)
            if go_home is None:
                ctx.abort(code("NOT_FOUND"), f"{req.extension} is not registered on {member.name}")
            return pb["tel"].KeepaliveReply(go_home=go_home)

        def Unregister(self, req, ctx):
            member.unregister(req.extension)
            member.end_calls_of(req.extension)
            return pb["tel"].UnregisterReply()

        def Call(self, req, ctx):
            if req.kind not in CALL_KINDS:
                ctx.abort(code("INVALID_ARGUMENT"), f"unknown call kind {req.kind}")
            ends = queue.Queue()
            with member.lock:
                registered = req.extension in member.regs
                taken = not req.call or req.call in member.calls
                if registered and not taken:
                    member.calls[req.call] = (req.extension, ends)
                runs_group = req.group in member.hunt
            if not registered:
                ctx.abort(code("NOT_FOUND"), f"{req.extension} is not registered on {member.name}")
            if taken:
                ctx.abort(code("ALREADY_EXISTS"), f"call id {req.call!r} in use")
            # This member routes nothing elsewhere: such calls end at once.
            if req.kind == VOICEMAIL_CALL:
                ends.put("no voicemail server answered")
            elif req.kind == EXTERNAL_CALL:
                ends.put("no trunk reachable from this member")
            elif req.kind == HUNT_GROUP_CALL and not runs_group:
                ends.put(f"hunt group {req.group} is not running anywhere reachable")
            ctx.send_initial_metadata(())
            return call_stream(member, req.call, ends, ctx)

        def Hangup(self, req, ctx):
            with member.lock:
                entry = member.calls.pop(req.call, None)
            if entry:
                entry[1].put(None)
            return pb["tel"].HangupReply()

        def Configure(self, req, ctx):
            return pb["tel"].ConfigureReply()

    return Servicer()


def call_stream(member, call, ends, ctx):
    """The call's stream: open until the phone hangs up (ends quietly) or the
    system ends the call (one CallUpdate saying why)."""
    try:
        while ctx.is_active():
            try:
                reason = ends.get(timeout=0.5)
            except queue.Empty:
                continue
            if reason is not None:
                yield member.pb["tel"].CallUpdate(ended=reason)
            return
    finally:
        with member.lock:
            entry = member.calls.get(call)
            if entry is not None and entry[1] is ends:
                del member.calls[call]


def Health(member):  # noqa: N802  (a class factory)
    pb = member.pb
    serving = {"", "fleetsim.v1.Line", "fleetsim.v1.Telephony"}

    class Servicer(pb["health_grpc"].HealthServicer):
        def Check(self, req, ctx):
            import grpc

            if req.service not in serving:
                ctx.abort(grpc.StatusCode.NOT_FOUND, "service not registered")
            return pb["health"].HealthCheckResponse(status=pb["health"].HealthCheckResponse.SERVING)

        def Watch(self, req, ctx):
            known = req.service in serving
            status = "SERVING" if known else "SERVICE_UNKNOWN"
            yield pb["health"].HealthCheckResponse(status=getattr(pb["health"].HealthCheckResponse, status))
            while ctx.is_active():
                time.sleep(0.5)

    return Servicer()


# --- the member's own timers --------------------------------------------------


def presence_loop(member, peer, address, stop):
    """Presence to `peer` every presence interval; records to it if it is our backup."""
    import grpc

    pb = member.pb
    channel = grpc.insecure_channel(address)
    stub = pb["line_grpc"].LineStub(channel)
    mine = member.fleet.servers[member.name]
    records = sorted(e for e, k in member.own_phones.items()
                     if member.fleet.backup_for_kind(member.name, k) == peer)
    version = member.incarnation if mine["backup"] == peer and records else 0
    groups = [g for g, home in member.fleet.hunt_groups if home == member.name]
    while not stop.wait(member.presence):
        req = pb["line"].PresenceRequest(incarnation=member.incarnation, records_version=version,
                                         hunt_groups=groups, **{"from": member.name})
        try:
            reply = stub.Presence(req, timeout=member.deadline)
        except grpc.RpcError:
            continue  # an unreachable peer is what the watchdog is for
        if version and reply.records_version_held != version:
            phones = [pb["common"].PhoneRecord(extension=e, kind=member.own_phones[e]) for e in records]
            rep = pb["line"].ReplicateRequest(incarnation=member.incarnation, version=version,
                                              phones=phones, **{"from": member.name})
            try:
                stub.Replicate(rep, timeout=member.deadline)
            except grpc.RpcError as e:
                log(f"replicate to {peer} failed: {e.code().name}")


def watchdog(member, stop):
    tick = min(max(member.presence / 4, 0.01), 1.0)
    while not stop.wait(tick):
        member.evaluate()


# --- main ---------------------------------------------------------------------


def parse_args(argv):
    ap = argparse.ArgumentParser(description="An external fleetsim fleet member (plays the secondary).")
    ap.add_argument("--fleet", type=Path, default=REPO / "scenarios" / "fleets" / "reference.toml",
                    help="fleet file (default: the reference fleet)")
    ap.add_argument("--server", default="secondary", help="the fleet server this member plays")
    ap.add_argument("--listen", default="127.0.0.1:7202", help="HOST:PORT to serve on (port 0: any free port)")
    ap.add_argument("--peer", action="append", default=[], metavar="NAME=ADDR",
                    help="where a line peer listens (overrides the fleet file's address)")
    ap.add_argument("--speed", type=float, default=1.0, help="divide every fleet timer by this (as fleetsim up --speed)")
    ap.add_argument("--proto", type=Path, default=REPO / "proto", help="directory holding fleetsim/v1/*.proto")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "fleetsim-python-member",
                    help="where generated stubs are kept")
    return ap.parse_args(argv)


def peer_addresses(fleet, name, overrides):
    addrs = {p: fleet.servers[p]["address"] for p in fleet.peers(name) if fleet.servers[p]["address"]}
    for item in overrides:
        peer, sep, addr = item.partition("=")
        if not sep or not addr:
            sys.exit(f"member: --peer {item!r}: expected NAME=HOST:PORT")
        if peer not in fleet.servers:
            sys.exit(f"member: --peer {item!r}: no server {peer!r} in the fleet")
        addrs[peer] = addr
    return addrs


def main(argv=None):
    args = parse_args(argv)
    try:
        fleet = Fleet(tomllib.loads(args.fleet.read_text()))
    except (OSError, tomllib.TOMLDecodeError, KeyError, StopIteration, ValueError) as e:
        sys.exit(f"member: cannot read fleet {args.fleet}: {e!r}")
    if args.server not in fleet.servers:
        sys.exit(f"member: no server {args.server!r} in {args.fleet}; servers: {', '.join(fleet.servers)}")
    if args.speed <= 0:
        sys.exit("member: --speed must be positive")
    pb = load_stubs(args.proto.resolve(), args.cache)
    import grpc

    member = Member(fleet, args.server, args.speed, pb)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
    line, telephony, health = services(member)
    pb["line_grpc"].add_LineServicer_to_server(line, server)
    pb["tel_grpc"].add_TelephonyServicer_to_server(telephony, server)
    pb["health_grpc"].add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port(args.listen)
    if port == 0:
        sys.exit(f"member: cannot listen on {args.listen}")
    server.start()
    stop = threading.Event()
    threading.Thread(target=watchdog, args=(member, stop), daemon=True).start()
    for peer, addr in sorted(peer_addresses(fleet, args.server, args.peer).items()):
        threading.Thread(target=presence_loop, args=(member, peer, addr, stop), daemon=True).start()
    host = args.listen.rsplit(":", 1)[0]
    print(f"member {args.server} listening on {host}:{port}", flush=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    server.stop(grace=None)
    log("stopped")


if __name__ == "__main__":
    main()
