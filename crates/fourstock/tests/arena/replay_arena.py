#!/usr/bin/env python3
"""A UMI arena stand-in that replays one game to a bot from one seat.

Built on umi-melee's own protocol and frame layout (``umi.protocol``,
``umi.frame``), so the bytes are the ones the real arena sends. It starts
the bot, plays the handshake (one lane, one game, one warmup), sends every
frame of FRAMES (packed ``umi.frame.FRAME`` records) as one ``obs``, keeps
each reply's controller row, then ends the game and shuts the bot down.

    replay_arena.py --frames F --port P --character FOX --opponent FALCO \
        --out ROWS --log LOG -- fourstock umi --models models

ROWS gets ``f32[len(frames), 13]``; LOG the bot's stdout and stderr. Exits
with the bot's exit code, or 2 if the session went wrong. Every wait has a
timeout.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile

import numpy as np

from umi import protocol
from umi.frame import FRAME

TIMEOUT_S = 60


def play(conn, frames, args):
    hello = protocol.recv(conn)
    if hello["t"] != "hello":
        raise protocol.ProtocolError(f"expected hello, got {hello['t']}")
    protocol.send(conn, {"t": "welcome", "delay": hello["delay"], "max_games": 1, "lanes": 1,
                         "buckets": [1], "info_every": 6, "warmups": 1,
                         "timeouts": {"ready_s": 300, "act_s": 10}, "rng_seed": 0})
    protocol.send(conn, protocol.obs(1, 0, np.array([1_000_000], "<u4"), np.array([True]), frames[:1],
                                     t="warmup"))
    expect(protocol.recv(conn), "act", 1)
    expect(protocol.recv(conn), "ready")
    protocol.send(conn, {"t": "new_games", "games": [{
        "game": 1, "port": args.port, "character": args.character,
        "opp_character": args.opponent, "stage": args.stage}]})
    rows = np.empty((len(frames), 13), np.float32)
    for t in range(len(frames)):
        seq = 2 + t
        protocol.send(conn, protocol.obs(seq, 0, np.array([1], "<u4"), np.array([t == 0]), frames[t:t + 1]))
        rows[t] = protocol.act_arrays(expect(protocol.recv(conn), "act", seq), 1)["ctrl"][0]
    protocol.send(conn, {"t": "end_games", "games": [{"game": 1, "result": "void"}]})
    protocol.send(conn, {"t": "shutdown", "reason": "replay done"})
    return rows


def expect(msg, kind, seq=None):
    if msg["t"] != kind or (seq is not None and msg.get("seq") != seq):
        raise protocol.ProtocolError(f"expected {kind} {seq}, got {msg}")
    return msg


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--character", required=True)
    parser.add_argument("--opponent", required=True)
    parser.add_argument("--stage", default="BATTLEFIELD")
    parser.add_argument("--out", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("cmd", nargs="+")
    args = parser.parse_args(argv)
    frames = np.fromfile(args.frames, FRAME)
    with tempfile.TemporaryDirectory(prefix="umi-replay-") as tmp, open(args.log, "w") as log:
        path = os.path.join(tmp, "umi.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        server.settimeout(TIMEOUT_S)
        bot = subprocess.Popen(args.cmd, env=dict(os.environ, UMI_SOCKET=path), stdout=log,
                               stderr=subprocess.STDOUT)
        try:
            conn, _ = server.accept()
            conn.settimeout(TIMEOUT_S)
            rows = play(conn, frames, args)
            code = bot.wait(TIMEOUT_S)
        except (OSError, protocol.ProtocolError, subprocess.TimeoutExpired) as e:
            print(f"replay arena: {type(e).__name__}: {e}", file=sys.stderr)
            return 2
        finally:
            if bot.poll() is None:
                bot.kill()
                bot.wait()
            server.close()
    rows.tofile(args.out)
    return code


if __name__ == "__main__":
    sys.exit(main())
