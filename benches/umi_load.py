#!/usr/bin/env python3
"""UMI v1 load generator: plays the arena's side of the protocol against a
bot command and measures how many games it serves, and how fast it replies.

It owns the measurement, not the bot: it launches the command as
umi-conform's DummyArena does (a temp dir with umi.sock, $UMI_SOCKET, a new
session, the process group killed at the end), sends hello/welcome, one warmup
per bucket, waits for ready, starts G games split over the lanes (G / lanes
each, every lane one batch per step, one message in flight per lane, all lanes
in flight at once) and replays recorded frames to them. The bot's actions
never change the frames.

Modes:
- unpaced (default): a lane's next obs goes as soon as its act arrives;
  reports game-frames per second (games answered, summed over lanes, over
  wall time) and p50/p99 reply time per lane;
- --paced: every lane ticks at 60 fps, all lanes on the same clock (the
  worst case: their batches arrive together; --stagger spreads the lanes'
  ticks evenly over the frame instead); the obs goes at the tick, or as soon
  as the previous act arrives if that is later (a late tick; the schedule
  does not slip); reports p50/p99 reply time per lane and whether every
  lane's p99 is within one frame (16.7 ms);
- --find-realtime: paced sessions, a fresh bot each, doubling G from 2 until
  one fails, then bisecting in steps of 1/8 of the last passing power of two:
  the largest G whose every lane's paced p99 reply is within one frame.

Frames: `--frames fixture` (umi-conform's fixture streams: game handle h
replays stream h % streams from its start) or `--frames FILE` (packed
umi.frame.FRAME records of one game from one seat; game k starts at record
k*7 mod length). Every game has its own clock, loops at the end, and is
marked first on its first obs.

The generator shares the CPU with the bot, so it keeps its own work small
(one preallocated message per lane, frames gathered with one np.take) and
reports its own CPU time. Every wait has a timeout; a bot that sends
`error` or dies ends the run with exit code 1 and its last output lines.

Run from the repository root (needs numpy and umi-melee):

    .venv-bench/bin/python benches/umi_load.py --cmd "target/release/fourstock umi" --games 64
    .venv-bench/bin/python benches/umi_load.py --cmd "..." --games 256 --paced
    .venv-bench/bin/python benches/umi_load.py --cmd "..." --find-realtime --json out.jsonl --label ort
"""

import argparse
import collections
import contextlib
import dataclasses
import json
import os
import select
import shlex
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgpack
import numpy as np
from umi import protocol
from umi.conform.arena import BUCKETS, load_fixtures
from umi.frame import CHARACTER_NAMES, FRAME, UMI_VERSION

FRAME_S = 1 / 60
REALTIME_MS = 1000 / 60
CONNECT_S = 120       # the bot's connection and hello, as umi-conform allows
READY_S = 300         # warmups and ready (welcome's timeouts.ready_s)
ACT_S = 10.0          # one act (welcome's timeouts.act_s)
EXIT_S = 10           # the bot's own exit after shutdown
SETTLE_STEPS = 20     # unmeasured unpaced steps per lane before each measurement
FILE_STRIDE = 7       # --frames FILE: game k starts at record k * FILE_STRIDE
_LEN = struct.Struct("<I")
_SEQ = struct.Struct(">I")    # msgpack uint32, big-endian after its 0xce tag


class BotFailed(Exception):
    pass


# ---- frames

@dataclasses.dataclass
class FrameSource:
    streams: np.ndarray    # Frame[S, T]: S recorded streams of T frames, seen from seat 0
    stride: int            # game k starts at frame k * stride of its stream

    def start(self, handles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each game's (stream, first frame)."""
        stream = handles.astype(np.int64) % len(self.streams)
        return stream, (handles.astype(np.int64) * self.stride) % self.streams.shape[1]


def frame_source(spec: str) -> FrameSource:
    if spec == "fixture":
        return FrameSource(np.ascontiguousarray(load_fixtures()["frames"][:, :, 0]), 0)
    records = np.fromfile(spec, FRAME)
    if not len(records):
        raise SystemExit(f"{spec}: no frames ({FRAME.itemsize}-byte umi.frame.FRAME records)")
    return FrameSource(records[None], FILE_STRIDE)


def game_infos(source: FrameSource, handles: np.ndarray) -> list[dict]:
    """new_games entries, as umi-conform's arena writes them, characters read from each game's first frame."""
    stream, start = source.start(handles)
    players = source.streams[stream, start]["players"]
    name = lambda ids: [CHARACTER_NAMES.get(int(c), "FOX") for c in ids]
    return [{"game": int(h), "port": 1, "character": me, "opp_character": opp, "stage": "BATTLEFIELD"}
            for h, me, opp in zip(handles, name(players[:, 0]["character"]), name(players[:, 1]["character"]))]


# ---- one lane's batch

class Lane:
    """A lane's games and their clocks, and the one obs message it reuses:
    each step rewrites the seq, the first flags and the frames in place."""

    def __init__(self, index: int, handles: np.ndarray, source: FrameSource):
        self.index, self.handles = index, handles
        stream, self.start = source.start(handles)
        self.length = source.streams.shape[1]
        self.base = stream * self.length
        self.records = source.streams.reshape(-1).view(np.uint8).reshape(-1, FRAME.itemsize)   # raw bytes: fast take
        self.age = 0
        self.index_buf = np.empty(len(handles), np.int64)
        self._build_message(len(handles))

    def _build_message(self, n: int) -> None:
        """The obs as msgpack, seq packed as a uint32 so every step's message has one layout."""
        fields = {"t": "obs", "seq": 0xFFFFFFFF, "lane": self.index, "games": self.handles.astype("<u4").tobytes(),
                  "first": bytes(n), "frames": bytes(n * FRAME.itemsize)}
        parts, payload_at = [bytes([0x80 | len(fields)])], {}     # a fixmap header
        for key, value in fields.items():
            parts.append(msgpack.packb(key))
            packed = msgpack.packb(value, use_bin_type=True)
            if key in ("seq", "first", "frames"):
                payload = 4 if key == "seq" else len(value)
                payload_at[key] = _LEN.size + sum(map(len, parts)) + len(packed) - payload
            parts.append(packed)
        body = b"".join(parts)
        self.message = bytearray(_LEN.pack(len(body)) + body)
        self.seq_at = payload_at["seq"]
        self.first = np.frombuffer(self.message, np.uint8, n, payload_at["first"])
        self.frames = np.frombuffer(self.message, np.uint8, n * FRAME.itemsize, payload_at["frames"]).reshape(n, -1)

    def next_obs(self, seq: int) -> bytearray:
        """The obs for the lane's next step; the games' clocks advance."""
        _SEQ.pack_into(self.message, self.seq_at, seq)
        self.first[:] = self.age == 0
        np.add(self.start, self.age, out=self.index_buf)
        np.remainder(self.index_buf, self.length, out=self.index_buf)
        self.index_buf += self.base
        np.take(self.records, self.index_buf, axis=0, out=self.frames)
        self.age += 1
        return self.message


# ---- the bot process and its connection

class BotProcess:
    """The bot command under a temp UMI_SOCKET: launch, connect, framed non-blocking I/O, stop."""

    def __init__(self, argv: list[str]):
        self.tmp = tempfile.TemporaryDirectory(prefix="umi-load-")
        path = str(Path(self.tmp.name) / "umi.sock")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.proc = subprocess.Popen(argv, env=dict(os.environ, UMI_SOCKET=path), start_new_session=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        self.output = collections.deque(maxlen=40)
        self.reader = threading.Thread(target=lambda: self.output.extend(self.proc.stdout), daemon=True)
        self.reader.start()
        self.conn = None
        self.inbox = bytearray()
        self.outbox = collections.deque()
        self.received = collections.deque()     # parsed messages not yet taken

    def connect(self) -> None:
        deadline = time.monotonic() + CONNECT_S
        self.server.settimeout(1)
        while self.conn is None:
            try:
                self.conn = self.server.accept()[0]
            except socket.timeout:
                self._check_alive("before connecting")
                if time.monotonic() > deadline:
                    raise BotFailed(f"the bot never connected within {CONNECT_S} s") from None
        self.conn.setblocking(False)

    def _check_alive(self, when: str) -> None:
        if self.proc.poll() is not None:
            raise BotFailed(f"the bot exited with code {self.proc.returncode} {when}")

    def send(self, data) -> None:
        """Queues a whole message; pump() writes it as the bot reads."""
        self.outbox.append(memoryview(data))
        self._write()

    def _write(self) -> None:
        while self.outbox:
            try:
                sent = self.conn.send(self.outbox[0])
            except BlockingIOError:
                return
            except OSError as e:
                self._wait_exit(2)
                raise BotFailed(f"the bot's connection closed ({type(e).__name__}){self._exit_note()}") from None
            if sent == len(self.outbox[0]):
                self.outbox.popleft()
            else:
                self.outbox[0] = self.outbox[0][sent:]

    def pump(self, timeout: float) -> collections.deque:
        """Writes what it can, waits up to timeout for input; the messages received and not yet taken."""
        writing = [self.conn] if self.outbox else []
        readable, writable, _ = select.select([self.conn], writing, [], max(timeout, 0))
        if writable:
            self._write()
        if readable:
            try:
                chunk = self.conn.recv(1 << 16)
            except BlockingIOError:
                chunk = None
            except OSError:
                chunk = b""
            if chunk == b"":
                self._wait_exit(2)
                raise BotFailed(f"the bot closed the connection{self._exit_note()}")
            if chunk:
                self.inbox += chunk
                self._parse()
        return self.received

    def _parse(self) -> None:
        while len(self.inbox) >= _LEN.size:
            (n,) = _LEN.unpack_from(self.inbox)
            if n > protocol.MAX_MESSAGE:
                raise BotFailed(f"the bot sent a message of {n} bytes")
            if len(self.inbox) < _LEN.size + n:
                break
            try:
                msg = protocol.decode(bytes(self.inbox[_LEN.size:_LEN.size + n]))
            except (protocol.ProtocolError, ValueError) as e:
                raise BotFailed(f"the bot sent a malformed message: {e}") from None
            del self.inbox[:_LEN.size + n]
            if msg["t"] == "error":
                raise BotFailed(f"the bot reported error {msg.get('code')}: {msg.get('msg')}")
            self.received.append(msg)

    def recv(self, timeout: float, expect: str) -> dict:
        """The next message, which must be of kind `expect`."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.received or self.pump(min(1.0, deadline - time.monotonic()))
            if msgs:
                msg = msgs.popleft()
                if msg["t"] != expect:
                    raise BotFailed(f"expected {expect}, got {msg['t']}")
                return msg
            self._check_alive(f"while the arena waited for {expect}")
            if time.monotonic() > deadline:
                raise BotFailed(f"no {expect} within {timeout:g} s")

    def shutdown(self) -> None:
        with contextlib.suppress(BotFailed):
            self.send(protocol.encode({"t": "shutdown", "reason": "load test done"}))
            deadline = time.monotonic() + 2
            while self.outbox and time.monotonic() < deadline:
                self.pump(0.1)

    def _wait_exit(self, timeout: float) -> bool:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
        return self.proc.poll() is not None

    def _exit_note(self) -> str:
        return f" (exit code {self.proc.returncode})" if self.proc.poll() is not None else ""

    def stop(self, grace: float) -> None:
        """Waits grace seconds for the bot's own exit, then TERM and KILL to its process group."""
        for sig, wait in ((None, grace), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, sig)
            if self._wait_exit(wait):
                break
        for closable in (self.conn, self.server):
            if closable is not None:
                closable.close()
        self.reader.join(2)
        self.tmp.cleanup()

    def last_output(self) -> str:
        return "".join(self.output).rstrip()


# ---- a session

def handshake(bot: BotProcess, games: int, lanes: int, source: FrameSource) -> dict:
    """hello, welcome, one warmup per bucket, ready; the hello."""
    hello = bot.recv(CONNECT_S, "hello")
    if hello.get("umi") != UMI_VERSION:
        raise BotFailed(f"the bot speaks umi {hello.get('umi')!r}, expected {UMI_VERSION}")
    if hello.get("max_games") is not None and hello["max_games"] < games:
        raise BotFailed(f"the bot takes at most {hello['max_games']} games, asked for {games}")
    per_lane = games // lanes
    buckets = [b for b in BUCKETS if b < per_lane] + [per_lane]
    delay = hello.get("delay") if hello.get("delay") is not None else 18
    bot.send(protocol.encode({"t": "welcome", "delay": delay, "max_games": games, "lanes": lanes,
                              "buckets": buckets, "info_every": 6, "warmups": len(buckets),
                              "timeouts": {"ready_s": READY_S, "act_s": ACT_S}, "rng_seed": 0}))
    deadline = time.monotonic() + READY_S
    for k, size in enumerate(buckets):
        ids = np.arange(10_000_000 + k * 1000, 10_000_000 + k * 1000 + size, dtype=np.uint32)
        stream, start = source.start(ids)
        bot.send(protocol.encode(protocol.obs(k + 1, 0, ids, np.ones(size, bool), source.streams[stream, start],
                                              t="warmup")))
        check_act(bot.recv(deadline - time.monotonic(), "act"), k + 1, size)
    bot.recv(deadline - time.monotonic(), "ready")
    return hello


def check_act(msg: dict, seq: int, n: int) -> None:
    """The act answers seq with n controller rows."""
    if msg.get("seq") != seq:
        raise BotFailed(f"act for seq {msg.get('seq')}, expected {seq}")
    try:
        protocol.act_arrays(msg, n)
    except (protocol.ProtocolError, KeyError, TypeError) as e:
        raise BotFailed(f"malformed act: {e!r}") from None


@dataclasses.dataclass
class LaneStats:
    replies_ms: list = dataclasses.field(default_factory=list)
    late: int = 0

    def summary(self) -> dict:
        p50, p99 = np.percentile(self.replies_ms, [50, 99]) if self.replies_ms else (float("nan"),) * 2
        return {"steps": len(self.replies_ms), "p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3),
                "late_ticks": self.late}


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one session measures."""
    games: int
    lanes: int
    paced: bool
    stagger: bool              # paced: lane k ticks k/lanes of a frame after lane 0 instead of with it
    steps: int | None          # measured steps (paced: ticks) per lane ...
    seconds: float | None      # ... or, unpaced, the measured time

    @property
    def mode(self) -> str:
        return ("paced, staggered" if self.stagger else "paced") if self.paced else "unpaced"


class Phase:
    """One measured phase of a session: every lane one obs in flight, all lanes at once, for the
    plan's steps per lane or (unpaced) as many as fit in its seconds."""

    def __init__(self, bot: BotProcess, lanes: list[Lane], plan: Plan, seq: int):
        self.bot, self.lanes, self.plan, self.seq = bot, lanes, plan, seq
        self.stats = [LaneStats() for _ in lanes]
        self.pending = {}                              # seq -> (lane, sent at)
        self.sent = [0] * len(lanes)
        self.answered = 0
        self.cpu0, self.start = time.process_time(), time.perf_counter()
        self.last = self.start
        spread = FRAME_S / len(lanes) if plan.stagger else 0.0
        self.ticks = [self.start + k * spread for k in range(len(lanes))]    # each lane's next tick
        self.stop_at = self.start + plan.seconds if plan.seconds is not None else None

    def run(self) -> dict:
        while True:
            now = time.perf_counter()
            resting = self._send_due(now)
            if not self.pending and not resting:
                return self._result()
            deadlines = [at + ACT_S for _, at in self.pending.values()]
            if deadlines and now > min(deadlines):
                raise BotFailed(f"no act within {ACT_S:g} s")
            self._receive(min(resting + deadlines) - now)

    def _send_due(self, now: float) -> list[float]:
        """Sends every idle lane's next obs that is due; the ticks of the lanes still waiting for theirs."""
        busy = {k for k, _ in self.pending.values()}
        resting = []
        for k, lane in enumerate(self.lanes):
            if k in busy or not self._has_budget(k, now):
                continue
            if self.plan.paced and now < self.ticks[k]:
                resting.append(self.ticks[k])
                continue
            self.seq += 1
            self.pending[self.seq] = (k, time.perf_counter())
            self.sent[k] += 1
            self.ticks[k] += FRAME_S
            self.bot.send(lane.next_obs(self.seq))
        return resting

    def _has_budget(self, k: int, now: float) -> bool:
        return self.sent[k] < self.plan.steps if self.plan.steps is not None else now < self.stop_at

    def _receive(self, timeout: float) -> None:
        received = self.bot.pump(timeout)
        while received:
            msg = received.popleft()
            self.last = time.perf_counter()
            if msg["t"] != "act" or msg.get("seq") not in self.pending:
                raise BotFailed(f"unexpected {msg['t']} seq {msg.get('seq')} with seqs {sorted(self.pending)} "
                                "in flight")
            k, at = self.pending.pop(msg["seq"])
            check_act(msg, msg["seq"], len(self.lanes[k].handles))
            self.stats[k].replies_ms.append((self.last - at) * 1000)
            self.answered += len(self.lanes[k].handles)
            if self.plan.paced and self.last > self.ticks[k]:
                self.stats[k].late += 1

    def _result(self) -> dict:
        wall, cpu = self.last - self.start, time.process_time() - self.cpu0
        return {"wall_s": round(wall, 3), "game_frames_per_s": round(self.answered / wall, 1),
                "per_lane": [s.summary() for s in self.stats],
                "generator_cpu_s": round(cpu, 3), "generator_cpu_pct": round(100 * cpu / wall, 1)}


def session(argv: list[str], source: FrameSource, plan: Plan) -> dict:
    """One bot process: handshake, games started, a settling phase, the measured phase, shutdown."""
    bot, failure = BotProcess(argv), None
    try:
        bot.connect()
        hello = handshake(bot, plan.games, plan.lanes, source)
        handles = np.arange(1, plan.games + 1, dtype=np.uint32)
        bot.send(protocol.encode({"t": "new_games", "games": game_infos(source, handles)}))
        lanes = [Lane(k, part, source) for k, part in enumerate(np.split(handles, plan.lanes))]
        settle = Phase(bot, lanes, dataclasses.replace(plan, paced=False, steps=SETTLE_STEPS, seconds=None), 100)
        settle.run()
        result = Phase(bot, lanes, plan, settle.seq).run()
        bot.send(protocol.encode({"t": "end_games", "games": [
            {"game": int(h), "result": "void", "reason": "void", "frame": 0, "stocks": [4, 4], "percent": [0, 0]}
            for h in handles]}))
        bot.shutdown()
    except BotFailed as e:
        failure = str(e)
    finally:
        bot.stop(grace=2 if failure else EXIT_S)
    if failure:
        raise BotFailed(f"{failure}\n--- the bot's last output ---\n{bot.last_output()}")
    result.update(bot=hello.get("name"), games=plan.games, mode=plan.mode, steps_per_lane=plan.steps,
                  seconds=plan.seconds, realtime=all(lane["p99_ms"] <= REALTIME_MS for lane in result["per_lane"]))
    return result


# ---- search and report

def find_realtime(argv: list[str], source: FrameSource, plan: Plan, report) -> tuple[int, list]:
    """The largest G whose paced p99 reply is within a frame on every lane: powers of two from
    one game per lane, then steps of an eighth of the last passing power of two."""
    probes, lanes = [], plan.lanes

    def passes(g):
        result = session(argv, source, dataclasses.replace(plan, games=g))
        probes.append(result)
        report(result)
        return result["realtime"]

    good, g = 0, lanes
    while passes(g):
        good, g = g, g * 2
    if not good:
        return 0, probes
    step = max(lanes, good // 8 // lanes * lanes)
    lo, hi = good, g
    while hi - lo > step:
        mid = lo + (hi - lo) // 2 // step * step
        lo, hi = (mid, hi) if passes(mid) else (lo, mid)
    return lo, probes


def vector_isa() -> str:
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    return "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "other"


def line(result: dict) -> str:
    paced = result["mode"] != "unpaced"
    lanes = ", ".join(f"lane {k} p50 {s['p50_ms']:.2f} p99 {s['p99_ms']:.2f} ms"
                      + (f" late {s['late_ticks']}/{s['steps']}" if paced else "")
                      for k, s in enumerate(result["per_lane"]))
    head = f"G={result['games']:<5} {result['mode']:16}"
    rate = f"{result['game_frames_per_s']:>10.0f} game-frames/s" if not paced else \
        f"{'real time' if result['realtime'] else 'NOT real time':>13}"
    return (f"{head} {rate}  {lanes}  (generator CPU {result['generator_cpu_s']:.2f} s, "
            f"{result['generator_cpu_pct']:.0f}% of {result['wall_s']:.1f} s)")


def plan_from(args: argparse.Namespace) -> Plan:
    paced = args.paced or args.find_realtime
    if not paced and args.stagger:
        raise SystemExit("--stagger is for --paced and --find-realtime")
    if not args.find_realtime and (args.games < args.lanes or args.games % args.lanes):
        raise SystemExit(f"--games {args.games} must be a positive multiple of --lanes {args.lanes}")
    seconds = args.seconds if args.seconds is not None else 5.0
    steps = args.steps if args.steps is not None else round(seconds * 60) if paced else None
    return Plan(args.games, args.lanes, paced, args.stagger, steps, None if steps is not None else seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cmd", required=True, help="the bot command (shlex-split); it connects to $UMI_SOCKET")
    parser.add_argument("--games", type=int, default=64, help="G, split evenly over the lanes (default 64)")
    parser.add_argument("--lanes", type=int, default=2)
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--seconds", type=float, help="measured time (default 5 s; paced: 60 ticks a second)")
    length.add_argument("--steps", type=int, help="measured steps (paced: ticks) per lane")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--paced", action="store_true", help="every lane at 60 fps")
    mode.add_argument("--find-realtime", action="store_true", help="the largest G that keeps up at 60 fps")
    parser.add_argument("--stagger", action="store_true", help="paced: spread the lanes' ticks over the frame")
    parser.add_argument("--frames", default="fixture", help='"fixture" or a file of packed umi.frame.FRAME records')
    parser.add_argument("--json", help="append one JSON object per run to this file")
    parser.add_argument("--label", default="", help="a name for the run in the JSON")
    args = parser.parse_args()
    plan, argv, source = plan_from(args), shlex.split(args.cmd), frame_source(args.frames)
    base = {"label": args.label, "cmd": args.cmd, "lanes": args.lanes, "frames": args.frames,
            "isa": vector_isa(), "cores": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    print(f"{args.cmd}  ({base['isa']}, {base['cores']} cores, frames: {args.frames})", flush=True)
    report = lambda r: print(line(r), flush=True)
    try:
        if args.find_realtime:
            best, probes = find_realtime(argv, source, plan, report)
            print(f"largest real-time G: {best} ({plan.mode} p99 <= {REALTIME_MS:.1f} ms per lane, "
                  f"{plan.steps} ticks)")
            record = dict(base, mode=f"find-realtime ({plan.mode})", ticks=plan.steps, realtime_games=best,
                          probes=probes)
        else:
            record = dict(base, **session(argv, source, plan))
            report(record)
    except (BotFailed, OSError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
