"""Checks fourstock_wire against the golden vectors in proto/golden/.

Run from the repository root, with nothing installed:

    python3 -m unittest discover -s proto/python -v

The samples below are the same values as
crates/fourstock-proto/tests/common/mod.rs, which the Rust golden test
encodes; every float is exactly representable as an f32.
"""

import os
import socket
import struct
import threading
import unittest

import fourstock_wire as w
from fourstock_wire import (
    Buttons, ControllerState, ErrorCode, ErrorMessage, Frame, FrameReply, Hello,
    MatchEnd, MatchStart, PlayerFrame, PlayerInfo, PortAssignment, PortOutput,
    PortRequest, StageState, Welcome,
)

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")

FOX = 2
ICE_CLIMBERS = 14
BATTLEFIELD = 31
YOSHIS_STORY = 8
PLAYER_NAME = "Diamond Player"


def hello():
    return Hello(
        ports=[
            PortRequest(port=1, character=FOX, model="phillip", player_name=PLAYER_NAME),
            PortRequest(port=2, character=ICE_CLIMBERS, model=None),
        ],
        budget_us=3500,
        token="ladder-secret",
    )


def welcome():
    return Welcome(
        version=3,
        budget_us=3500,
        ports=[
            PortAssignment(1, "phillip", "tx_like", 1009, [512, 512], 18,
                           "requested by the client", reset_on_stock_loss=False,
                           reset_on_new_match=True, player_name=PLAYER_NAME),
            PortAssignment(2, "ics-gru", "gru", 1049, [256], 2,
                           "ics-gru is made for character 14", reset_on_stock_loss=True,
                           reset_on_new_match=True, player_name=None),
        ],
    )


def match_start():
    return MatchStart(BATTLEFIELD, [PlayerInfo(1, FOX), PlayerInfo(2, ICE_CLIMBERS)])


def frame():
    return Frame(
        frame=1234,
        stage=YOSHIS_STORY,
        stage_state=StageState(randall=(-39.5, -33.25), fod_platforms=(0.0, 0.0)),
        players=[
            PlayerFrame(
                port=1, follower=False, character=FOX, action_state=20, action_frame=3.0,
                x=-42.5, y=0.0, facing_right=True, percent=37.0, stocks=4, shield=60.0,
                jumps_left=2, on_ground=True, invulnerable=False, hitlag_left=0.0,
                hitstun_left=0.0, speed_air_x_self=0.0, speed_ground_x_self=2.125,
                speed_y_self=0.0, speed_x_attack=0.0, speed_y_attack=0.0,
                controller=ControllerState(Buttons.B, 1.0, 0.5, 0.5, 0.5, 0.0, 0.0),
            ),
            PlayerFrame(
                port=2, follower=False, character=ICE_CLIMBERS, action_state=29,
                action_frame=11.0, x=18.75, y=24.5, facing_right=False, percent=112.5,
                stocks=3, shield=47.25, jumps_left=1, on_ground=False, invulnerable=False,
                hitlag_left=0.0, hitstun_left=6.0, speed_air_x_self=-0.75,
                speed_ground_x_self=0.0, speed_y_self=-1.5, speed_x_attack=1.25,
                speed_y_attack=-0.5,
                controller=ControllerState(
                    Buttons.L | Buttons.D_LEFT, 0.125, 0.5, 0.5, 0.875, 1.0, 0.3125
                ),
            ),
            PlayerFrame(
                port=2, follower=True, character=ICE_CLIMBERS, action_state=14,
                action_frame=1.0, x=26.0, y=0.0, facing_right=False, percent=64.0, stocks=3,
                shield=60.0, jumps_left=2, on_ground=True, invulnerable=True,
                hitlag_left=4.0, hitstun_left=0.0, speed_air_x_self=0.0,
                speed_ground_x_self=0.0, speed_y_self=0.0, speed_x_attack=0.0,
                speed_y_attack=0.0, controller=ControllerState(),
            ),
        ],
    )


def match_end():
    return MatchEnd(frame=7382, method=2)


def reply():
    return FrameReply(
        frame=1234,
        outputs=[
            PortOutput(1, ControllerState(Buttons.A | Buttons.Z, 0.75, 0.25, 0.5, 0.5, 0.0, 0.5),
                       fallback=True, reset=False, server_us=1503),
            PortOutput(2, ControllerState(), fallback=True, reset=True, server_us=1503),
        ],
    )


def error():
    return ErrorMessage(int(ErrorCode.INVALID_VALUE), "port 2 x is NaN, not a usable number")


CLIENT = [
    ("hello.bin", hello),
    ("match_start.bin", match_start),
    ("frame.bin", frame),
    ("match_end.bin", match_end),
]
SERVER = [
    ("welcome.bin", welcome),
    ("reply.bin", reply),
    ("error.bin", error),
]


def read_spec():
    with open(os.path.join(GOLDEN, "..", "PROTOCOL.md"), encoding="utf-8") as f:
        return f.read()


def golden(name):
    with open(os.path.join(GOLDEN, name), "rb") as f:
        return f.read()


class GoldenVectors(unittest.TestCase):
    """Every encoder and decoder against every golden file, byte for byte."""

    def check_prefix(self, wire):
        (length,) = struct.unpack_from("<I", wire, 0)
        self.assertEqual(length, len(wire) - 4)
        return wire[4:]

    def test_client_messages(self):
        for name, sample in CLIENT:
            with self.subTest(name):
                wire = golden(name)
                self.assertEqual(w.encode_client(sample()).hex(" "), wire.hex(" "))
                payload = self.check_prefix(wire)
                self.assertEqual(w.decode_client(payload), sample())
                w.validate_client(sample())

    def test_server_messages(self):
        for name, sample in SERVER:
            with self.subTest(name):
                wire = golden(name)
                self.assertEqual(w.encode_server(sample()).hex(" "), wire.hex(" "))
                payload = self.check_prefix(wire)
                self.assertEqual(w.decode_server(payload), sample())

    def test_the_worked_examples_in_protocol_md(self):
        # The hex dumps in PROTOCOL.md, pasted here: the spec's worked
        # examples must be the golden bytes.
        spec = read_spec()
        for name, marker, size in (
            ("hello.bin", "<!-- hex hello.bin -->", None),
            ("reply.bin", "<!-- hex reply.bin -->", None),
            ("frame.bin", "<!-- hex frame.bin, first 38 bytes -->", 38),
        ):
            with self.subTest(name):
                self.assertIn(marker, spec)
                block = spec.split(marker, 1)[1].split("```", 2)[1]
                data = bytes.fromhex(
                    " ".join(line.split("|")[0].split(":", 1)[1] for line in
                             block.strip().splitlines() if ":" in line)
                )
                self.assertEqual(data, golden(name)[:size])

    def test_struct_sizes(self):
        self.assertEqual(struct.calcsize("<Hffffff"), 26)
        self.assertEqual(struct.calcsize("<BBBHfffBfBfBBBfffffff"), 58)
        self.assertEqual(struct.calcsize("<BBBHfffBfBfBBBfffffffHffffff"), 84)
        self.assertEqual(struct.calcsize("<BHffffffBBI"), 33)
        self.assertEqual(struct.calcsize("<IiHffffQ"), 34)  # a Frame's header


class Decoding(unittest.TestCase):
    """The Python decoders are as strict as the daemon's."""

    def payload(self, name):
        return bytearray(golden(name)[4:])

    def test_trailing_bytes(self):
        with self.assertRaises(w.MalformedMessage):
            w.decode_server(bytes(self.payload("reply.bin")) + b"\0")
        with self.assertRaises(w.MalformedMessage):
            w.decode_client(bytes(self.payload("hello.bin")) + b"\0")

    def test_every_truncation(self):
        for name, _ in SERVER:
            p = bytes(self.payload(name))
            for cut in range(len(p)):
                with self.assertRaises(w.MalformedMessage):
                    w.decode_server(p[:cut])
        for name, _ in CLIENT:
            p = bytes(self.payload(name))
            for cut in range(len(p)):
                with self.assertRaises(w.MalformedMessage):
                    w.decode_client(p[:cut])

    def test_unknown_tags(self):
        p = self.payload("error.bin")
        p[0] = 3
        with self.assertRaises(w.MalformedMessage):
            w.decode_server(bytes(p))
        p = self.payload("match_end.bin")
        p[0] = 4
        with self.assertRaises(w.MalformedMessage):
            w.decode_client(bytes(p))

    def test_bools_must_be_zero_or_one(self):
        p = self.payload("reply.bin")
        # tag 4, frame 4, len 8, port 1, controller 26: fallback at 43.
        self.assertEqual(p[43], 1)
        p[43] = 2
        with self.assertRaises(w.MalformedMessage):
            w.decode_server(bytes(p))
        # The first PortAssignment's reset_on_new_match, after its reason.
        p = self.payload("welcome.bin")
        at = 18 + 1 + (8 + 7) * 2 + 4 + 8 + 8 + 4 + 8 + len("requested by the client")
        self.assertEqual((p[at], p[at + 1], p[at + 2]), (0, 1, 1))
        p[at + 1] = 2
        with self.assertRaises(w.MalformedMessage):
            w.decode_server(bytes(p))

    def test_huge_length_claims(self):
        p = self.payload("welcome.bin")
        p[10:18] = struct.pack("<Q", 1 << 62)
        with self.assertRaises(w.MalformedMessage):
            w.decode_server(bytes(p))
        p = self.payload("error.bin")
        p[6:14] = struct.pack("<Q", 2 ** 64 - 1)
        with self.assertRaises(w.MalformedMessage):
            w.decode_server(bytes(p))

    def test_strings_must_be_utf8(self):
        p = self.payload("error.bin")
        p[14] = 0xFF
        with self.assertRaises(w.MalformedMessage):
            w.decode_server(bytes(p))

    def test_split_messages(self):
        stream = b"".join(golden(n) for n, _ in SERVER)
        buf = bytearray()
        got = []
        for byte in stream:
            buf.append(byte)
            got.extend(w.decode_server(p) for p in w.split_messages(buf))
        self.assertEqual(got, [s() for _, s in SERVER])
        self.assertEqual(buf, bytearray())
        with self.assertRaises(w.MessageTooLarge):
            list(w.split_messages(bytearray(struct.pack("<I", w.MAX_MESSAGE_BYTES + 1))))


class Validation(unittest.TestCase):
    """validate_client gives the code the daemon would send."""

    def code(self, message):
        with self.assertRaises(w.InvalidMessage) as caught:
            w.validate_client(message)
        return caught.exception.code

    def test_rules(self):
        h = hello()
        h.magic = b"4STL"
        self.assertEqual(self.code(h), ErrorCode.UNSUPPORTED_VERSION)
        for version in (1, 2, 4):
            h = hello()
            h.version = version
            self.assertEqual(self.code(h), ErrorCode.UNSUPPORTED_VERSION)
        h = hello()
        h.token = "k" * 257
        self.assertEqual(self.code(h), ErrorCode.OUT_OF_RANGE)
        h = hello()
        h.ports[1].port = 1
        self.assertEqual(self.code(h), ErrorCode.UNKNOWN_PORT)
        self.assertEqual(self.code(Hello(ports=[])), ErrorCode.UNKNOWN_PORT)
        for port in (0, 5):
            f = frame()
            f.players[0].port = port
            self.assertEqual(self.code(f), ErrorCode.UNKNOWN_PORT)
        f = frame()
        f.players[0].character = 33
        self.assertEqual(self.code(f), ErrorCode.OUT_OF_RANGE)
        f = frame()
        f.stage = 64
        self.assertEqual(self.code(f), ErrorCode.OUT_OF_RANGE)
        f = frame()
        f.players[2].follower = False
        self.assertEqual(self.code(f), ErrorCode.UNKNOWN_PORT)
        for bad in (float("nan"), float("inf")):
            f = frame()
            f.players[1].x = bad
            self.assertEqual(self.code(f), ErrorCode.INVALID_VALUE)
            for i in range(4):
                f = frame()
                values = [*f.stage_state.randall, *f.stage_state.fod_platforms]
                values[i] = bad
                f.stage_state = StageState(tuple(values[:2]), tuple(values[2:]))
                self.assertEqual(self.code(f), ErrorCode.INVALID_VALUE)
        f = frame()
        f.players[0].controller.main_x = 1.01
        self.assertEqual(self.code(f), ErrorCode.INVALID_VALUE)
        f = frame()
        f.players[0].controller.buttons = 1 << 12
        self.assertEqual(self.code(f), ErrorCode.OUT_OF_RANGE)
        s = match_start()
        s.players.append(PlayerInfo(1, 9))
        self.assertEqual(self.code(s), ErrorCode.UNKNOWN_PORT)
        f = frame()
        f.players = [f.players[0]] * 9
        self.assertEqual(self.code(f), ErrorCode.OUT_OF_RANGE)

    def test_buttons(self):
        self.assertEqual(Buttons.ALL, 0x0FFF)
        self.assertEqual(Buttons.names(Buttons.A | Buttons.D_RIGHT), ["A", "D_RIGHT"])
        self.assertEqual(Buttons.from_names(["L", "D_LEFT"]), 0x0420)


class Ids(unittest.TestCase):
    def test_character_table(self):
        table = w.EXTERNAL_CHARACTER_BY_INTERNAL
        self.assertEqual(len(table), 33)
        # libmelee Character values: FOX 0x01, FALCO 0x16, POPO 0x0a, NANA 0x0b,
        # MARTH 0x12, SANDBAG 0x20.
        self.assertEqual(w.external_character(0x01), FOX)
        self.assertEqual(w.external_character(0x16), 20)
        self.assertEqual(w.external_character(0x0A), ICE_CLIMBERS)
        self.assertEqual(w.external_character(0x0B), ICE_CLIMBERS)
        self.assertEqual(w.external_character(0x12), 9)
        self.assertEqual(w.external_character(0x20), 31)
        # PROTOCOL.md prints the same table.
        spec = read_spec()
        line = next(x for x in spec.splitlines() if x.strip().startswith("external:"))
        self.assertEqual(tuple(int(v) for v in line.split(":", 1)[1].split()), table)

    def test_stage_table(self):
        self.assertEqual(w.SLIPPI_STAGE_BY_LIBMELEE[0x18], BATTLEFIELD)
        self.assertEqual(sorted(w.SLIPPI_STAGE_BY_LIBMELEE.values()), [2, 3, 8, 28, 31, 32])


class FakeDaemon:
    """A one-connection server on an ephemeral loopback port, scripted by
    `handle(conn, read)` where `read()` returns the next client message."""

    def __init__(self, handle):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.received = []
        self.failure = None
        self.thread = threading.Thread(target=self.run, args=(handle,), daemon=True)
        self.thread.start()

    def run(self, handle):
        conn, _ = self.listener.accept()
        try:
            def read():
                message = w.decode_client(w.read_message(conn))
                self.received.append(message)
                return message
            handle(conn, read)
        except Exception as e:  # reported by join()
            self.failure = e
        finally:
            conn.close()
            self.listener.close()

    def join(self):
        self.thread.join(5)
        if self.failure:
            raise self.failure


class ClientConversation(unittest.TestCase):
    def test_hello_frames_and_match_messages(self):
        def handle(conn, read):
            assert isinstance(read(), Hello)
            conn.sendall(w.encode_server(welcome()))
            assert isinstance(read(), MatchStart)
            f = read()
            conn.sendall(w.encode_server(FrameReply(f.frame, reply().outputs)))
            assert isinstance(read(), MatchEnd)

        daemon = FakeDaemon(handle)
        with w.Client.connect("127.0.0.1", daemon.port, timeout=5) as client:
            self.assertEqual(client.hello(hello().ports, budget_us=3500, token="ladder-secret"),
                             welcome())
            client.match_start(BATTLEFIELD, match_start().players)
            got = client.send_frame(frame())
            self.assertEqual(got, reply())
            self.assertEqual(got.output(2).reset, True)
            client.match_end(7382, 2)
        daemon.join()
        self.assertEqual(daemon.received, [hello(), match_start(), frame(), match_end()])

    def test_an_error_is_raised_as_server_error(self):
        def handle(conn, read):
            read()
            conn.sendall(w.encode_server(ErrorMessage(8, "port 1 asks for model \"x\"")))

        daemon = FakeDaemon(handle)
        client = w.Client.connect("127.0.0.1", daemon.port, timeout=5)
        with self.assertRaises(w.ServerError) as caught:
            client.hello([PortRequest(1, FOX, "x")])
        self.assertIs(caught.exception.code, ErrorCode.UNKNOWN_MODEL)
        self.assertIn("asks for model", caught.exception.message)
        daemon.join()

    def test_invalid_messages_are_refused_before_sending(self):
        def handle(conn, read):
            read()
            conn.sendall(w.encode_server(welcome()))
            self.assertIsInstance(read(), Frame)  # only the valid frame arrives

        daemon = FakeDaemon(handle)
        with w.Client.connect("127.0.0.1", daemon.port, timeout=5) as client:
            client.hello(hello().ports)
            bad = frame()
            bad.players[0].controller.main_y = float("nan")
            with self.assertRaises(w.InvalidMessage):
                client.send_frame_nowait(bad)
            client.send_frame_nowait(frame())
        daemon.join()

    def test_end_of_stream(self):
        def handle(conn, read):
            read()
            conn.sendall(w.encode_server(welcome())[:10])

        daemon = FakeDaemon(handle)
        with w.Client.connect("127.0.0.1", daemon.port, timeout=5) as client:
            with self.assertRaises(w.ConnectionClosed):
                client.hello(hello().ports)
        daemon.join()


if __name__ == "__main__":
    unittest.main()
