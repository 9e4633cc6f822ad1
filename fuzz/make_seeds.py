#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/, small and by hand.

Run from the repository root: python3 fuzz/make_seeds.py. Standard library
only. The .slp seeds are built event by event as
crates/fourstock-replay/tests/synthetic.rs builds its sample (Slippi
3.8.0); no real replay is copied.
"""
import json
import pickle
import struct
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def write(target, name, data):
    path = CORPUS / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# ---- proto: the golden vectors (each with its length prefix), and one
# stream of a whole session.
def proto():
    golden = ROOT / "proto" / "golden"
    stream = b""
    for name in ["hello", "match_start", "frame", "match_end"]:
        data = (golden / f"{name}.bin").read_bytes()
        write("proto", f"{name}.bin", data)
        stream += data
    write("proto", "session.bin", stream)
    # The payload alone, as decode_client sees it.
    write("proto", "frame_payload.bin", (golden / "frame.bin").read_bytes()[4:])


# ---- umi: a msgpack writer just big enough for the arena's messages.
def mp(v):
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if 0 <= v < 1 << 32:
            return b"\xce" + struct.pack(">I", v)
        return b"\xcf" + struct.pack(">Q", v)
    if isinstance(v, str):
        b = v.encode()
        return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    if isinstance(v, bytes):
        if len(v) < 256:
            return b"\xc4" + bytes([len(v)]) + v
        return b"\xc5" + struct.pack(">H", len(v)) + v
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        return bytes([0x80 | len(v)]) + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


def framed(body):
    return struct.pack("<I", len(body)) + body


FRAME_SIZE = 770


def umi_frame(frame_no):
    """A packed UMI frame: Battlefield (internal 0x18), Fox (internal 1)
    against Falco (internal 0x16), both alive, sticks at neutral."""
    f = bytearray(FRAME_SIZE)
    struct.pack_into("<i", f, 0, frame_no)
    f[4] = 0x18
    for seat, internal in [(0, 1), (1, 0x16)]:
        at = 21 + seat * 71
        f[at] = 1
        f[at + 1] = internal
        f[at + 2] = 4  # stocks
        f[at + 3] = 1
        f[at + 4] = 1
        struct.pack_into("<f", f, at + 18, -10.0 + 20 * seat)  # x
        struct.pack_into("<f", f, at + 26, 60.0)  # shield
        for k in range(4):  # main and c stick at 0.5
            struct.pack_into("<f", f, at + 50 + 4 * k, 0.5)
    return bytes(f)


def umi():
    welcome = mp({"t": "welcome", "delay": 0, "max_games": 2, "lanes": 1, "warmups": 1, "rng_seed": 7})
    new_games = mp({"t": "new_games", "games": [
        {"game": 3, "port": 1, "character": "FOX", "opp_character": "FALCO", "stage": "BATTLEFIELD"}]})
    games = struct.pack("<I", 3)
    obs = mp({"t": "obs", "seq": 1, "lane": 0, "games": games, "first": b"\x01", "frames": umi_frame(-123)})
    warmup = mp({"t": "warmup", "seq": 0, "lane": 0, "games": games, "first": b"\x01", "frames": umi_frame(0)})
    end_games = mp({"t": "end_games", "games": [{"game": 3}]})
    shutdown = mp({"t": "shutdown"})
    for name, body in [("welcome", welcome), ("new_games", new_games), ("obs", obs),
                       ("warmup", warmup), ("end_games", end_games), ("shutdown", shutdown)]:
        write("umi", f"{name}.bin", framed(body))
    write("umi", "session.bin", b"".join(framed(b) for b in
                                         [welcome, warmup, new_games, obs, end_games, shutdown]))


# ---- pickle: slippi-ai-shaped checkpoints, pickled by Python itself
# with a stand-in numpy (only the names matter to the reader).
def fake_numpy():
    numpy = types.ModuleType("numpy")
    core = types.ModuleType("numpy.core")
    multiarray = types.ModuleType("numpy.core.multiarray")

    class ndarray:
        pass

    class dtype:
        def __init__(self, spec):
            self.spec = spec

        def __reduce__(self):
            return (dtype, (self.spec, False, True), (3, "<", None, None, None, -1, -1, 0))

    def _reconstruct(*args):
        pass

    def scalar(*args):
        pass

    for obj, mod in [(ndarray, numpy), (dtype, numpy), (_reconstruct, multiarray), (scalar, multiarray)]:
        obj.__module__ = mod.__name__
        obj.__qualname__ = obj.__name__
        setattr(mod, obj.__name__, obj)
    numpy.core = core
    core.multiarray = multiarray
    sys.modules.update({"numpy": numpy, "numpy.core": core, "numpy.core.multiarray": multiarray})

    class Array:
        def __init__(self, shape, values, spec="<f4"):
            self.shape, self.values, self.spec = shape, values, spec

        def __reduce__(self):
            fmt = {"<f4": "<f", "<f2": "<e", "<f8": "<d", "<i4": "<i"}[self.spec]
            data = b"".join(struct.pack(fmt, v) for v in self.values)
            return (_reconstruct, (ndarray, (0,), b"b"),
                    (1, self.shape, dtype(self.spec[1:]), False, data))

    class Scalar:
        def __init__(self, value):
            self.value = value

        def __reduce__(self):
            return (scalar, (dtype("f4"), struct.pack("<f", self.value)))

    return Array, Scalar


def pickles():
    Array, Scalar = fake_numpy()
    checkpoint = {
        "state": {"policy": {
            "network": {"linear": {"w": Array((2, 3), [0.5, -1, 2, 0, 1.5, -0.25]),
                                   "b": Array((3,), [0, 1, 2])}},
            "head": {"scale": Array((), [1.0], "<f8"), "half": Array((2,), [1, 2], "<f2")},
        }},
        "config": {"network": {"name": "tx_like", "hidden_size": 8, "num_layers": 1},
                   "embed": {"items": None}, "delay": 18, "lr": Scalar(0.001),
                   "tuple": (1, 2.5, True, None, b"raw")},
        "name_map": {"Phillip": 0, "Other": 1},
        "rl_config": {"agent": {"name": ["Phillip"]}},
    }
    for proto in [3, 4]:
        write("pickle", f"checkpoint_p{proto}.pkl", pickle.dumps(checkpoint, protocol=proto))
    # A TensorFlow-style flat list, and plain containers with shared references.
    tf = {"state": {"policy": [Array((2,), [1, 2]), Array((1,), [3])]}, "config": {}}
    write("pickle", "tensorflow_list.pkl", pickle.dumps(tf, protocol=4))
    shared = [1, "x"]
    write("pickle", "shared_refs.pkl", pickle.dumps({"a": [shared, shared], "s": {1, 2}}, protocol=2))
    write("pickle", "protocol0.pkl", pickle.dumps({"a": [1, 2.5, "t", None, True]}, protocol=0))


# ---- model: config.json and model.safetensors in one input (the first
# two bytes are the config's length; crates/fourstock-fuzz/src/model.rs).
INPUT = 1049  # the featurizer's width with speeds and one opponent


def safetensors(tensors, dtype="F16"):
    size = {"F16": 2, "F32": 4}[dtype]
    header, data = {}, b""
    for name, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        fmt = "<" + ("e" if dtype == "F16" else "f") * n
        values = [((i % 7) - 3) / 16 for i in range(n)]
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + n * size]}
        data += struct.pack(fmt, *values)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def model_input(config, weights):
    c = json.dumps(config, separators=(",", ":")).encode()
    return struct.pack("<H", len(c)) + c + weights


def models():
    for cell, gates in [("lstm", 4), ("gru", 3)]:
        h = 1
        config = {"name": f"tiny-{cell}", "cell": cell, "hidden_sizes": [h],
                  "features": {"speeds": True, "opponents": 1}, "delay": 2,
                  "decoding": {"mode": "sample", "temperature": 0.5}, "characters": [2]}
        tensors = [(f"core.weight_ih_l0", (gates * h, INPUT)), (f"core.weight_hh_l0", (gates * h, h)),
                   (f"core.bias_ih_l0", (gates * h,)), (f"core.bias_hh_l0", (gates * h,)),
                   ("head.weight", (81, h)), ("head.bias", (81,))]
        write("model", f"tiny_{cell}.bin", model_input(config, safetensors(tensors)))
    # A config whose weights are missing, and one for the slippi-ai family.
    write("model", "no_weights.bin", model_input({"name": "x", "cell": "gru", "hidden_sizes": [4]}, b""))
    small = safetensors([("head.bias", (81,))], "F32")
    write("model", "wrong_tensors.bin", model_input({"name": "x", "cell": "lstm", "hidden_sizes": [2]}, small))
    write("model", "slippi_family.bin", model_input({"family": "slippi-ai", "name": "s"}, small))


# ---- slp: a Slippi 3.8.0 file, as crates/fourstock-replay/tests/synthetic.rs
# writes one. All of Slippi's numbers are big-endian.
GAME_START, PRE, POST, GAME_END, FRAME_START, FRAME_END = 0x36, 0x37, 0x38, 0x39, 0x3A, 0x3C
SIZES = [(GAME_START, 420), (PRE, 63), (POST, 76), (GAME_END, 2), (FRAME_START, 8), (FRAME_END, 8)]


def slp_file(stage, players, frames, end=None):
    raw = bytearray([0x35, 1 + 3 * len(SIZES)])
    for code, size in SIZES:
        raw += bytes([code]) + struct.pack(">H", size)
    start = bytearray([3, 8, 0, 0, 50, 1, 142, 76, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0, 0])
    start += struct.pack(">HI", stage, 480) + bytes(15) + b"\xff" * 5 + bytes(8)
    start += struct.pack(">f", 1.0) + bytes(44)
    assert len(start) == 100
    for slot in range(6):
        p = bytearray(36)
        ext = dict(players).get(slot)
        if ext is None:
            p[1] = 3
        else:
            p[0], p[1], p[2] = ext, 0, 4
        start += p
    start += bytes(4 + 32 + 64) + bytes([0, 0, 2, 2])
    assert len(start) == 420
    raw += bytes([GAME_START]) + start

    def event(code, body):
        assert len(body) == dict(SIZES)[code], hex(code)
        raw.extend(bytes([code]) + body)

    for fid, chars in frames:
        event(FRAME_START, struct.pack(">i", fid) + bytes(4))
        for port, follower, internal, x, stocks in chars:
            b = struct.pack(">iBB", fid, port, follower) + bytes(4) + struct.pack(">H", 14)
            b += struct.pack(">8f", x, 0, 1, 1.0, -1.0, 0, 0, 0)
            b += struct.pack(">IHff", 0, 0x0108, 0.5, 0.25) + b"\0" + struct.pack(">f", 0)
            event(PRE, b)
        for port, follower, internal, x, stocks in chars:
            b = struct.pack(">iBBBH", fid, port, follower, internal, 14)
            b += struct.pack(">5f", x, 5.0, -1.0, 12.5, 60.0) + bytes([0, 0, 0, stocks])
            b += struct.pack(">f", 7.0) + bytes(5) + struct.pack(">f", 3.0)
            b += b"\0" + struct.pack(">H", 0) + bytes([1, 0, 1])
            b += struct.pack(">6f", 1.5, 2.5, 3.5, 4.5, 5.5, 2.0)
            event(POST, b)
        event(FRAME_END, struct.pack(">ii", fid, fid))
    if end is not None:
        event(GAME_END, bytes([end, 0xFF]))
    out = b"{U\x03raw[$U#l" + struct.pack(">I", len(raw)) + bytes(raw)
    return out + b"U\x08metadata{U\x09lastFramel\0\0\0\x02}" + b"}"


def slps():
    fox, popo, nana = 1, 10, 11  # internal ids
    frames = []
    for fid, x, stocks, with_nana in [(-123, 0.0, 4, True), (-122, 1.0, 4, True), (-121, 2.0, 4, True),
                                      (-122, 11.0, 4, True), (-121, 12.0, 4, True), (-120, 13.0, 3, False)]:
        chars = [(0, 0, fox, x, stocks), (1, 0, popo, x, stocks)]
        if with_nana:
            chars.append((1, 1, nana, x, 4))
        frames.append((fid, chars))
    # Fox against Ice Climbers, four frames with a rollback, as the test has it.
    whole = slp_file(32, [(0, 2), (1, 14)], frames, end=2)
    write("slp", "sample.slp", whole)
    write("slp", "no_game_end.slp", slp_file(32, [(0, 2), (1, 14)], frames[:3]))
    # Yoshi's Story (8), where Randall moves; and a cut through the frames.
    write("slp", "yoshis.slp", slp_file(8, [(0, 2), (1, 14)], frames[:2], end=2))
    write("slp", "truncated.slp", whole[: len(whole) // 2])


if __name__ == "__main__":
    proto()
    umi()
    pickles()
    models()
    slps()
