"""The fourstock wire protocol in plain Python: ``struct`` and ``socket`` only.

This module speaks protocol version 3 as described, byte by byte, in
``proto/PROTOCOL.md``. It has no dependencies beyond the standard library, so
an emulator-side bridge (for example one driving Slippi Dolphin through
libmelee) can copy it as is.

What is here:

* dataclasses for every message and nested struct, with the same field names
  and order as the Rust types in ``crates/fourstock-proto/src/message.rs``;
* ``encode_client`` / ``decode_server`` -- what a client needs -- and, for
  tests and fake servers, ``encode_server`` / ``decode_client``;
* ``validate_client`` -- the checks the daemon applies to every client
  message, so a bridge can catch a bad value before the daemon closes the
  connection over it;
* ``read_message`` / ``split_messages`` -- the length-prefixed framing;
* ``Client`` -- a small blocking TCP client: ``hello`` -> ``Welcome``,
  ``send_frame`` -> ``FrameReply``, ``match_start``, ``match_end``; an
  ``Error`` from the daemon is raised as ``ServerError``.

Wire summary: every message is ``<I`` payload length, then the payload. The
payload starts with a ``<I`` variant tag (client: Hello 0, MatchStart 1,
Frame 2, MatchEnd 3; server: Welcome 0, Reply 1, Error 2) followed by the
fields in order, little-endian, unpadded: u8/bool 1 byte, u16 2, u32/i32/f32
4, strings and lists a ``<Q`` length then the UTF-8 bytes or the items,
options a ``B`` tag (0 None, 1 Some) then the value.

Floats travel as IEEE-754 single precision. A Python float is rounded to the
nearest ``f32`` when encoded, so a decoded value can differ from the one you
encoded (0.1 comes back as 0.10000000149011612); values such as 0.5 or 0.125
are exact.

Example::

    from fourstock_wire import Client, PortRequest, Frame

    with Client.connect("127.0.0.1", 4848) as client:
        welcome = client.hello([PortRequest(port=1, character=2)])
        reply = client.send_frame(frame)        # a Frame built from the game
        for out in reply.outputs:
            press(out.port, out.controller)     # your emulator binding
"""

from __future__ import annotations

import enum
import math
import socket
import struct
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple, Union

__all__ = [
    "PROTOCOL_VERSION", "MAGIC", "MAX_MESSAGE_BYTES", "MAX_TOKEN_BYTES", "read_token_file",
    "FIRST_FRAME",
    "DEFAULT_HOST", "DEFAULT_PORT",
    "Buttons", "ErrorCode",
    "EXTERNAL_CHARACTER_BY_INTERNAL", "SLIPPI_STAGE_BY_LIBMELEE", "external_character",
    "ControllerState", "neutral", "PortRequest", "Hello", "PlayerInfo", "MatchStart",
    "StageState", "PlayerFrame", "Frame", "MatchEnd",
    "PortAssignment", "Welcome", "PortOutput", "FrameReply", "ErrorMessage",
    "encode_client", "encode_server", "decode_client", "decode_server",
    "encode_payload_client", "encode_payload_server",
    "validate_client", "read_message", "split_messages",
    "WireError", "MalformedMessage", "InvalidMessage", "MessageTooLarge",
    "ConnectionClosed", "ServerError", "ProtocolError", "Client",
]

# --------------------------------------------------------------- constants

#: The protocol version this module speaks; ``Hello.version`` must carry it.
PROTOCOL_VERSION = 3
#: The four bytes every Hello starts with.
MAGIC = b"4STK"
#: The largest payload either side accepts (the length prefix excluded).
MAX_MESSAGE_BYTES = 64 * 1024
#: The longest token a Hello may carry, in bytes.
MAX_TOKEN_BYTES = 256


def read_token_file(path: str) -> str:
    """The token in a token file, as the daemon reads it: one line of text of
    at most ``MAX_TOKEN_BYTES`` bytes, surrounding whitespace removed."""
    with open(path, "rb") as f:
        data = f.read(4097)
    if len(data) > 4096:
        raise ValueError(f"the token file {path} is over 4096 bytes")
    token = data.decode("utf-8").strip()
    if not token:
        raise ValueError(f"the token file {path} holds no token")
    if len(token.encode("utf-8")) > MAX_TOKEN_BYTES:
        raise ValueError(f"the token in {path} is over {MAX_TOKEN_BYTES} bytes")
    return token
#: Melee's first frame number: the countdown starts at -123.
FIRST_FRAME = -123
#: Where ``fourstock serve`` listens by default.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4848

# Variant tags.
_HELLO, _MATCH_START, _FRAME, _MATCH_END = 0, 1, 2, 3
_WELCOME, _REPLY, _ERROR = 0, 1, 2

# Fixed-size struct formats, as in PROTOCOL.md.
_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_CONTROLLER = struct.Struct("<Hffffff")              # 26 bytes
_STAGE_STATE = struct.Struct("<ffff")                # 16 bytes: randall x, y; fod left, right
_PLAYER_FRAME = struct.Struct("<BBBHfffBfBfBBBfffffff")  # 58 bytes, then a controller
_PORT_OUTPUT_TAIL = struct.Struct("<BBI")            # fallback, reset, server_us


class Buttons:
    """Bits of ``ControllerState.buttons`` (a u16). Bits 12-15 must be 0."""

    A = 1 << 0
    B = 1 << 1
    X = 1 << 2
    Y = 1 << 3
    Z = 1 << 4
    L = 1 << 5
    R = 1 << 6
    START = 1 << 7
    D_UP = 1 << 8
    D_DOWN = 1 << 9
    D_LEFT = 1 << 10
    D_RIGHT = 1 << 11
    #: Every defined bit.
    ALL = (1 << 12) - 1

    #: Name -> bit, in bit order (libmelee's Button names, without "BUTTON_").
    NAMES = {
        "A": A, "B": B, "X": X, "Y": Y, "Z": Z, "L": L, "R": R, "START": START,
        "D_UP": D_UP, "D_DOWN": D_DOWN, "D_LEFT": D_LEFT, "D_RIGHT": D_RIGHT,
    }

    @classmethod
    def names(cls, bits: int) -> List[str]:
        """The names of the buttons set in ``bits``."""
        return [name for name, bit in cls.NAMES.items() if bits & bit]

    @classmethod
    def from_names(cls, names) -> int:
        """The bit set for an iterable of names such as ``["A", "Z"]``."""
        bits = 0
        for name in names:
            bits |= cls.NAMES[name]
        return bits


class ErrorCode(enum.IntEnum):
    """The codes an ``ErrorMessage`` carries (``crates/fourstock-proto/src/error.rs``)."""

    MALFORMED = 1            # the payload is not a valid message
    TOO_LARGE = 2            # the length prefix is over 64 KiB
    UNSUPPORTED_VERSION = 3  # Hello with another version or a wrong magic
    OUT_OF_ORDER = 4         # no Hello first, a second Hello, or no Hello in time
    UNKNOWN_PORT = 5         # port outside 1..=4, duplicated, or a controlled port missing
    INVALID_VALUE = 6        # NaN/inf float, or analog value outside 0..=1
    OUT_OF_RANGE = 7         # character/stage id, player count, or unknown button bits
    UNKNOWN_MODEL = 8        # the Hello names a model the daemon does not have
    TRUNCATED = 9            # the stream ended inside a message (or a read/write failed)
    BUSY = 10                # the daemon is at its connection limit
    SHUTTING_DOWN = 11       # the daemon is shutting down
    INTERNAL = 12            # a bug or resource failure inside the daemon
    BAD_HANDSHAKE = 13       # the Hello asks for something impossible (budget_us = 0,
                             # a player name the model does not offer)
    UNAUTHORIZED = 14        # the daemon asks for a token; the Hello has none, or another
    IDLE = 15                # no message for the daemon's idle timeout


# ----------------------------------------------------------- id helpers
#
# The protocol carries Melee's *external* character ids (the ones Slippi's
# game-start event uses: Captain Falcon 0, Donkey Kong 1, Fox 2, ...) and
# Slippi's stage ids (Battlefield 31, Final Destination 32, ...). libmelee's
# ``Character`` enum holds *internal* ids and its ``Stage`` enum other stage
# numbers, and libmelee's own ``enums.from_internal`` returns yet another
# order (character-select-screen position), so convert with these tables.

#: External character id by internal id (libmelee ``Character.value``), 0..=32.
#: Popo (10) and Nana (11) are both Ice Climbers (14).
EXTERNAL_CHARACTER_BY_INTERNAL = (
    8, 2, 0, 1, 4, 5, 6, 19, 11, 12, 14, 14, 13, 16, 17, 15, 10,
    7, 9, 18, 21, 22, 20, 24, 3, 25, 23, 26, 30, 27, 28, 29, 31,
)

#: Slippi stage id by libmelee ``Stage.value``, for the six tournament stages.
SLIPPI_STAGE_BY_LIBMELEE = {
    0x12: 3,   # POKEMON_STADIUM
    0x06: 8,   # YOSHIS_STORY
    0x08: 2,   # FOUNTAIN_OF_DREAMS
    0x18: 31,  # BATTLEFIELD
    0x19: 32,  # FINAL_DESTINATION
    0x1A: 28,  # DREAMLAND
}


def external_character(internal: int) -> int:
    """The protocol's character id for an internal id (``Character.X.value``)."""
    return EXTERNAL_CHARACTER_BY_INTERNAL[internal]


# ---------------------------------------------------------------- messages
#
# Field order is wire order. Do not reorder.


@dataclass
class ControllerState:
    """One GameCube controller. 26 bytes: ``<Hffffff``.

    Sticks run 0.0..1.0 with 0.5 neutral, y up (libmelee's convention);
    triggers 0.0 (released) .. 1.0 (fully pressed).
    """

    buttons: int = 0
    main_x: float = 0.5
    main_y: float = 0.5
    c_x: float = 0.5
    c_y: float = 0.5
    l_trigger: float = 0.0
    r_trigger: float = 0.0

    def analog(self) -> Tuple[float, float, float, float, float, float]:
        """The six analog values in wire order."""
        return (self.main_x, self.main_y, self.c_x, self.c_y, self.l_trigger, self.r_trigger)

    def pressed(self, bit: int) -> bool:
        return bool(self.buttons & bit)


def neutral() -> ControllerState:
    """Nothing pressed, sticks centred, triggers released."""
    return ControllerState()


@dataclass
class PortRequest:
    """A port the client wants the daemon to play."""

    port: int                          # u8, 1..=4
    character: int                     # u8, Melee external character id 0..=32
    model: Optional[str] = None        # a model by name; None lets the server choose
    player_name: Optional[str] = None  # a slippi-ai player to imitate; None: the model's default


@dataclass
class Hello:
    """The handshake (client tag 0). Must be the first message, exactly once.

    Build it with keywords: ``Hello(ports=[PortRequest(1, 2)], budget_us=3000)``;
    ``magic`` and ``version`` default to the right values. ``token`` is the
    daemon's shared secret when it asks for one (``read_token_file``); on
    the wire it follows ``version``.
    """

    magic: bytes = MAGIC
    version: int = PROTOCOL_VERSION
    ports: List[PortRequest] = field(default_factory=list)
    budget_us: Optional[int] = None  # a stricter latency budget, microseconds
    token: Optional[str] = None      # the daemon's shared secret, at most 256 bytes


@dataclass
class PlayerInfo:
    """Who plays a port. 2 bytes: ``<BB``."""

    port: int
    character: int


@dataclass
class MatchStart:
    """A new match begins (client tag 1). No reply."""

    stage: int
    players: List[PlayerInfo]


@dataclass
class StageState:
    """What moves on the stage. 16 bytes: ``<ffff``. Zeros on other stages."""

    randall: Tuple[float, float] = (0.0, 0.0)        # Randall's midpoint (x, y), Yoshi's Story
    fod_platforms: Tuple[float, float] = (0.0, 0.0)  # Fountain of Dreams' (left, right) heights


@dataclass
class PlayerFrame:
    """One player's state on one frame. 84 bytes: the 58-byte
    ``<BBBHfffBfBfBBBfffffff`` then a ``ControllerState``."""

    port: int
    follower: bool
    character: int
    action_state: int
    action_frame: float
    x: float
    y: float
    facing_right: bool
    percent: float
    stocks: int
    shield: float
    jumps_left: int
    on_ground: bool
    invulnerable: bool
    hitlag_left: float
    hitstun_left: float
    speed_air_x_self: float
    speed_ground_x_self: float
    speed_y_self: float
    speed_x_attack: float
    speed_y_attack: float
    controller: ControllerState = field(default_factory=ControllerState)


@dataclass
class Frame:
    """One frame of game state (client tag 2). Answered by exactly one ``FrameReply``."""

    frame: int  # i32; a match's first frame is -123
    stage: int  # u16
    stage_state: StageState
    players: List[PlayerFrame]

    def player(self, port: int) -> Optional[PlayerFrame]:
        """The leading (non-follower) player on ``port``."""
        for p in self.players:
            if p.port == port and not p.follower:
                return p
        return None


@dataclass
class MatchEnd:
    """The match is over (client tag 3). No reply."""

    frame: int       # i32, the last frame of the match
    method: int = 0  # u8: 1 time, 2 game, 7 no contest, 0 unknown


@dataclass
class PortAssignment:
    """The model that plays one port (inside ``Welcome``)."""

    port: int
    model: str
    cell: str               # "lstm", "gru", or another family's core ("tx_like")
    input_size: int
    hidden_sizes: List[int]
    delay: int              # reply to frame t carries the action computed at t - delay
    reason: str
    reset_on_stock_loss: bool = True   # the port's state resets when any leader loses a stock
    reset_on_new_match: bool = True    # ... and when a new match begins
    player_name: Optional[str] = None  # the player imitated; None for models without names


@dataclass
class Welcome:
    """The answer to Hello (server tag 0)."""

    version: int
    budget_us: int
    ports: List[PortAssignment]


@dataclass
class PortOutput:
    """What one controlled port should press. 33 bytes."""

    port: int
    controller: ControllerState
    fallback: bool   # inference missed the budget; this is the fallback output
    reset: bool      # this port's recurrent state was reset on this frame
    server_us: int   # microseconds from reading the frame to sending the reply


@dataclass
class FrameReply:
    """The answer to one Frame (server tag 1)."""

    frame: int
    outputs: List[PortOutput]

    def output(self, port: int) -> Optional[PortOutput]:
        for out in self.outputs:
            if out.port == port:
                return out
        return None


@dataclass
class ErrorMessage:
    """Something went wrong (server tag 2); the daemon closes the connection after it."""

    code: int
    message: str


ClientMessage = Union[Hello, MatchStart, Frame, MatchEnd]
ServerMessage = Union[Welcome, FrameReply, ErrorMessage]


# -------------------------------------------------------------- exceptions


class WireError(Exception):
    """Base class of everything this module raises about the protocol."""


class MalformedMessage(WireError):
    """Bytes that are not a valid message (the daemon's ``Malformed``)."""


class MessageTooLarge(WireError):
    """A length prefix over ``MAX_MESSAGE_BYTES``."""


class InvalidMessage(WireError):
    """A well-formed client message the daemon would refuse; ``code`` says how."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class ConnectionClosed(WireError):
    """The peer closed the connection (cleanly between messages, or inside one)."""


class ProtocolError(WireError):
    """The daemon sent something the conversation does not allow here."""


class ServerError(WireError):
    """The daemon sent an ``Error`` message and is closing the connection.

    ``code`` is an ``ErrorCode`` (or the raw int for a code this module does
    not know); ``message`` is the daemon's readable text.
    """

    def __init__(self, code: int, message: str):
        try:
            code = ErrorCode(code)
            name = code.name
        except ValueError:
            name = f"code {code}"
        super().__init__(f"{name}: {message}")
        self.code = code
        self.message = message


# ---------------------------------------------------------------- encoding


class _Writer:
    def __init__(self) -> None:
        self.parts: List[bytes] = []

    def pack(self, st: struct.Struct, *values) -> None:
        self.parts.append(st.pack(*values))

    def u8(self, v: int) -> None:
        self.pack(_U8, v)

    def u16(self, v: int) -> None:
        self.pack(_U16, v)

    def u32(self, v: int) -> None:
        self.pack(_U32, v)

    def i32(self, v: int) -> None:
        self.pack(_I32, v)

    def length(self, n: int) -> None:
        self.pack(_U64, n)

    def string(self, s: str) -> None:
        data = s.encode("utf-8")
        self.length(len(data))
        self.parts.append(data)

    def optional_string(self, s: Optional[str]) -> None:
        if s is None:
            self.u8(0)
        else:
            self.u8(1)
            self.string(s)

    def controller(self, c: ControllerState) -> None:
        self.pack(_CONTROLLER, c.buttons, *c.analog())

    def payload(self) -> bytes:
        return b"".join(self.parts)


def _frame_payload(payload: bytes) -> bytes:
    return _U32.pack(len(payload)) + payload


def encode_payload_client(message: ClientMessage) -> bytes:
    """A client message's payload, without the length prefix."""
    w = _Writer()
    if isinstance(message, Hello):
        w.u32(_HELLO)
        if len(message.magic) != 4:
            raise ValueError("magic must be 4 bytes")
        w.parts.append(bytes(message.magic))
        w.u16(message.version)
        w.optional_string(message.token)
        w.length(len(message.ports))
        for r in message.ports:
            w.u8(r.port)
            w.u8(r.character)
            w.optional_string(r.model)
            w.optional_string(r.player_name)
        if message.budget_us is None:
            w.u8(0)
        else:
            w.u8(1)
            w.u32(message.budget_us)
    elif isinstance(message, MatchStart):
        w.u32(_MATCH_START)
        w.u16(message.stage)
        w.length(len(message.players))
        for p in message.players:
            w.u8(p.port)
            w.u8(p.character)
    elif isinstance(message, Frame):
        w.u32(_FRAME)
        w.i32(message.frame)
        w.u16(message.stage)
        w.pack(_STAGE_STATE, *message.stage_state.randall, *message.stage_state.fod_platforms)
        w.length(len(message.players))
        for p in message.players:
            w.pack(
                _PLAYER_FRAME,
                p.port, int(bool(p.follower)), p.character, p.action_state,
                p.action_frame, p.x, p.y, int(bool(p.facing_right)), p.percent,
                p.stocks, p.shield, p.jumps_left, int(bool(p.on_ground)),
                int(bool(p.invulnerable)), p.hitlag_left, p.hitstun_left,
                p.speed_air_x_self, p.speed_ground_x_self, p.speed_y_self,
                p.speed_x_attack, p.speed_y_attack,
            )
            w.controller(p.controller)
    elif isinstance(message, MatchEnd):
        w.u32(_MATCH_END)
        w.i32(message.frame)
        w.u8(message.method)
    else:
        raise TypeError(f"not a client message: {message!r}")
    return w.payload()


def encode_payload_server(message: ServerMessage) -> bytes:
    """A server message's payload, without the length prefix (for tests and fakes)."""
    w = _Writer()
    if isinstance(message, Welcome):
        w.u32(_WELCOME)
        w.u16(message.version)
        w.u32(message.budget_us)
        w.length(len(message.ports))
        for a in message.ports:
            w.u8(a.port)
            w.string(a.model)
            w.string(a.cell)
            w.u32(a.input_size)
            w.length(len(a.hidden_sizes))
            for h in a.hidden_sizes:
                w.u32(h)
            w.u32(a.delay)
            w.string(a.reason)
            w.u8(int(bool(a.reset_on_stock_loss)))
            w.u8(int(bool(a.reset_on_new_match)))
            w.optional_string(a.player_name)
    elif isinstance(message, FrameReply):
        w.u32(_REPLY)
        w.i32(message.frame)
        w.length(len(message.outputs))
        for o in message.outputs:
            w.u8(o.port)
            w.controller(o.controller)
            w.pack(_PORT_OUTPUT_TAIL, int(bool(o.fallback)), int(bool(o.reset)), o.server_us)
    elif isinstance(message, ErrorMessage):
        w.u32(_ERROR)
        w.u16(int(message.code))
        w.string(message.message)
    else:
        raise TypeError(f"not a server message: {message!r}")
    return w.payload()


def encode_client(message: ClientMessage) -> bytes:
    """A client message as it goes on the wire: ``<I`` length, then the payload.

    Raises ``struct.error`` for an integer that does not fit its field and
    ``OverflowError`` for a float too large for ``f32``. Does not validate;
    see ``validate_client``.
    """
    return _frame_payload(encode_payload_client(message))


def encode_server(message: ServerMessage) -> bytes:
    """A server message as it goes on the wire (for tests and fake servers)."""
    return _frame_payload(encode_payload_server(message))


# ---------------------------------------------------------------- decoding


class _Reader:
    """Reads a payload strictly, as the daemon's bincode decoder does."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.at = 0

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.at:
            raise MalformedMessage(
                f"needs {n} bytes at offset {self.at}, only {len(self.data) - self.at} left"
            )
        out = bytes(self.data[self.at:self.at + n])
        self.at += n
        return out

    def unpack(self, st: struct.Struct) -> tuple:
        return st.unpack(self.take(st.size))

    def u8(self) -> int:
        return self.unpack(_U8)[0]

    def u16(self) -> int:
        return self.unpack(_U16)[0]

    def u32(self) -> int:
        return self.unpack(_U32)[0]

    def i32(self) -> int:
        return self.unpack(_I32)[0]

    def boolean(self, v: Optional[int] = None) -> bool:
        if v is None:
            v = self.u8()
        if v > 1:
            raise MalformedMessage(f"bool byte {v} is neither 0 nor 1")
        return v == 1

    def option(self) -> bool:
        tag = self.u8()
        if tag > 1:
            raise MalformedMessage(f"option tag {tag} is neither 0 nor 1")
        return tag == 1

    def length(self, item_size: int) -> int:
        n = self.unpack(_U64)[0]
        # Every item takes at least item_size bytes: a claim past the end of
        # the payload is refused before anything is built.
        if n * item_size > len(self.data) - self.at:
            raise MalformedMessage(f"a length of {n} does not fit in the payload")
        return n

    def string(self) -> str:
        n = self.length(1)
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedMessage(f"string is not UTF-8: {e}") from None

    def optional_string(self) -> Optional[str]:
        return self.string() if self.option() else None

    def controller(self) -> ControllerState:
        return ControllerState(*self.unpack(_CONTROLLER))

    def finish(self) -> None:
        left = len(self.data) - self.at
        if left:
            raise MalformedMessage(f"{left} unexpected bytes after the message")


def decode_client(payload: bytes) -> ClientMessage:
    """Decodes one client payload (without the length prefix). For tests and
    fake servers. Raises ``MalformedMessage``; does not validate values."""
    r = _Reader(payload)
    tag = r.u32()
    if tag == _HELLO:
        magic = r.take(4)
        version = r.u16()
        token = r.optional_string()
        ports = []
        for _ in range(r.length(4)):
            port, character = r.u8(), r.u8()
            model = r.optional_string()
            player_name = r.optional_string()
            ports.append(PortRequest(port, character, model, player_name))
        budget = r.u32() if r.option() else None
        message: ClientMessage = Hello(magic, version, ports, budget, token)
    elif tag == _MATCH_START:
        stage = r.u16()
        players = [PlayerInfo(r.u8(), r.u8()) for _ in range(r.length(2))]
        message = MatchStart(stage, players)
    elif tag == _FRAME:
        frame = r.i32()
        stage = r.u16()
        x, y, left, right = r.unpack(_STAGE_STATE)
        stage_state = StageState(randall=(x, y), fod_platforms=(left, right))
        players = []
        for _ in range(r.length(_PLAYER_FRAME.size + _CONTROLLER.size)):
            v = list(r.unpack(_PLAYER_FRAME))
            for i in (1, 7, 12, 13):  # follower, facing_right, on_ground, invulnerable
                v[i] = r.boolean(v[i])
            players.append(PlayerFrame(*v, controller=r.controller()))
        message = Frame(frame, stage, stage_state, players)
    elif tag == _MATCH_END:
        message = MatchEnd(r.i32(), r.u8())
    else:
        raise MalformedMessage(f"unknown client message tag {tag}")
    r.finish()
    return message


def decode_server(payload: bytes) -> ServerMessage:
    """Decodes one server payload (without the length prefix).

    Raises ``MalformedMessage`` for anything the daemon would not have sent.
    """
    r = _Reader(payload)
    tag = r.u32()
    if tag == _WELCOME:
        version = r.u16()
        budget = r.u32()
        ports = []
        for _ in range(r.length(1 + 8 + 8 + 4 + 8 + 4 + 8 + 1 + 1 + 1)):
            port = r.u8()
            model = r.string()
            cell = r.string()
            input_size = r.u32()
            hidden = [r.u32() for _ in range(r.length(4))]
            delay = r.u32()
            reason = r.string()
            on_stock_loss = r.boolean()
            on_new_match = r.boolean()
            player_name = r.optional_string()
            ports.append(PortAssignment(port, model, cell, input_size, hidden, delay, reason,
                                        on_stock_loss, on_new_match, player_name))
        message: ServerMessage = Welcome(version, budget, ports)
    elif tag == _REPLY:
        frame = r.i32()
        outputs = []
        for _ in range(r.length(1 + _CONTROLLER.size + _PORT_OUTPUT_TAIL.size)):
            port = r.u8()
            controller = r.controller()
            fallback, reset, server_us = r.unpack(_PORT_OUTPUT_TAIL)
            outputs.append(
                PortOutput(port, controller, r.boolean(fallback), r.boolean(reset), server_us)
            )
        message = FrameReply(frame, outputs)
    elif tag == _ERROR:
        message = ErrorMessage(r.u16(), r.string())
    else:
        raise MalformedMessage(f"unknown server message tag {tag}")
    r.finish()
    return message


# -------------------------------------------------------------- validation


def _check_port(port: int) -> None:
    if not 1 <= port <= 4:
        raise InvalidMessage(ErrorCode.UNKNOWN_PORT, f"port {port} is not one of 1..=4")


def _check_character(character: int) -> None:
    if not 0 <= character < 33:
        raise InvalidMessage(ErrorCode.OUT_OF_RANGE, f"character id {character} is outside 0..=32")


def _check_stage(stage: int) -> None:
    if not 0 <= stage < 64:
        raise InvalidMessage(ErrorCode.OUT_OF_RANGE, f"stage id {stage} is outside 0..=63")


def _check_count(n: int) -> None:
    if n > 8:
        raise InvalidMessage(ErrorCode.OUT_OF_RANGE, f"player count {n} is outside 0..=8")


def _check_controller(port: int, c: ControllerState) -> None:
    if c.buttons & ~Buttons.ALL:
        raise InvalidMessage(
            ErrorCode.OUT_OF_RANGE, f"port {port} button bits {c.buttons:#06x} name no button"
        )
    names = ("main_x", "main_y", "c_x", "c_y", "l_trigger", "r_trigger")
    for name, value in zip(names, c.analog()):
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise InvalidMessage(
                ErrorCode.INVALID_VALUE, f"port {port} controller {name} is {value} (must be 0..=1)"
            )


_PLAYER_FLOATS = (
    "action_frame", "x", "y", "percent", "shield", "hitlag_left", "hitstun_left",
    "speed_air_x_self", "speed_ground_x_self", "speed_y_self", "speed_x_attack",
    "speed_y_attack",
)


def validate_client(message: ClientMessage) -> None:
    """Applies the daemon's checks (``validate.rs``) to a client message.

    Raises ``InvalidMessage`` with the ``ErrorCode`` the daemon would send.
    (Values are checked as Python floats; one that only rounds into 0..=1 as
    an f32 may pass here and fail there.)
    """
    if isinstance(message, Hello):
        if bytes(message.magic) != MAGIC:
            raise InvalidMessage(ErrorCode.UNSUPPORTED_VERSION, f"bad magic {message.magic!r}")
        if message.version != PROTOCOL_VERSION:
            raise InvalidMessage(
                ErrorCode.UNSUPPORTED_VERSION,
                f"protocol version {message.version} is not {PROTOCOL_VERSION}"
            )
        if message.token is not None and len(message.token.encode("utf-8")) > MAX_TOKEN_BYTES:
            raise InvalidMessage(ErrorCode.OUT_OF_RANGE, "the Hello's token is over 256 bytes")
        if not message.ports:
            raise InvalidMessage(ErrorCode.UNKNOWN_PORT, "the handshake names no port")
        seen = set()
        for r in message.ports:
            _check_port(r.port)
            _check_character(r.character)
            if r.port in seen:
                raise InvalidMessage(ErrorCode.UNKNOWN_PORT, f"port {r.port} is requested twice")
            seen.add(r.port)
    elif isinstance(message, MatchStart):
        _check_stage(message.stage)
        _check_count(len(message.players))
        seen = set()
        for p in message.players:
            _check_port(p.port)
            _check_character(p.character)
            if p.port in seen:
                raise InvalidMessage(ErrorCode.UNKNOWN_PORT, f"port {p.port} appears twice")
            seen.add(p.port)
    elif isinstance(message, Frame):
        _check_stage(message.stage)
        s = message.stage_state
        names = ("randall x", "randall y", "fod_platforms left", "fod_platforms right")
        for name, value in zip(names, (*s.randall, *s.fod_platforms)):
            if not math.isfinite(value):
                raise InvalidMessage(
                    ErrorCode.INVALID_VALUE, f"frame {message.frame} stage_state {name} is {value}"
                )
        _check_count(len(message.players))
        seen = set()
        for p in message.players:
            _check_port(p.port)
            _check_character(p.character)
            for name in _PLAYER_FLOATS:
                value = getattr(p, name)
                if not math.isfinite(value):
                    raise InvalidMessage(
                        ErrorCode.INVALID_VALUE, f"port {p.port} {name} is {value}"
                    )
            _check_controller(p.port, p.controller)
            key = (p.port, bool(p.follower))
            if key in seen:
                raise InvalidMessage(
                    ErrorCode.UNKNOWN_PORT, f"port {p.port} appears twice in frame {message.frame}"
                )
            seen.add(key)
    elif isinstance(message, MatchEnd):
        pass
    else:
        raise TypeError(f"not a client message: {message!r}")


# ----------------------------------------------------------------- framing


def _recv_exactly(sock: socket.socket, n: int, started: bool) -> bytes:
    chunks = []
    got = 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            if got == 0 and not started:
                raise ConnectionClosed("the peer closed the connection")
            raise ConnectionClosed(
                f"the peer closed the connection inside a message ({got} of {n} bytes)"
            )
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_message(sock: socket.socket) -> bytes:
    """Reads one length-prefixed message from ``sock`` and returns its payload.

    The prefix is checked against ``MAX_MESSAGE_BYTES`` before the payload is
    read. Raises ``ConnectionClosed`` at the end of the stream and
    ``MessageTooLarge`` for an oversized prefix.
    """
    (length,) = _U32.unpack(_recv_exactly(sock, 4, started=False))
    if length > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            f"message of {length} bytes is over the {MAX_MESSAGE_BYTES}-byte limit"
        )
    return _recv_exactly(sock, length, started=True)


def split_messages(buffer: bytearray) -> Iterator[bytes]:
    """Yields every whole payload at the front of ``buffer``, removing each
    from it; a partial message stays in ``buffer`` for the next call."""
    while len(buffer) >= 4:
        (length,) = _U32.unpack_from(buffer, 0)
        if length > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(
            f"message of {length} bytes is over the {MAX_MESSAGE_BYTES}-byte limit"
        )
        if len(buffer) < 4 + length:
            return
        payload = bytes(buffer[4:4 + length])
        del buffer[:4 + length]
        yield payload


# ------------------------------------------------------------------ client


class Client:
    """A blocking client for one session with the daemon.

    Use ``Client.connect(host, port)``, then ``hello`` once, then any mix of
    ``match_start``, ``send_frame`` and ``match_end``. Every ``send_frame``
    waits for its ``FrameReply``. To keep several frames in flight, use
    ``send_frame_nowait`` and ``read_reply``: replies come back one per
    frame, in order.

    If the daemon sends an ``Error``, the call raises ``ServerError`` (with
    ``.code`` an ``ErrorCode``) and the connection is closed.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.welcome: Optional[Welcome] = None
        self.validate = True
        self._in_flight: List[int] = []

    @classmethod
    def connect(cls, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                timeout: Optional[float] = 10.0) -> "Client":
        """Opens a TCP connection (with ``TCP_NODELAY``: replies are latency-bound)."""
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock)

    # -- context manager

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection; the daemon answers every frame already sent first."""
        try:
            self.sock.close()
        except OSError:
            pass

    # -- sending and receiving

    def send(self, message: ClientMessage) -> None:
        """Sends one client message (validated first unless ``self.validate`` is False)."""
        if self.validate:
            validate_client(message)
        self.sock.sendall(encode_client(message))

    def receive(self) -> ServerMessage:
        """The next server message; an ``Error`` is raised as ``ServerError``."""
        message = decode_server(read_message(self.sock))
        if isinstance(message, ErrorMessage):
            self.close()
            raise ServerError(message.code, message.message)
        return message

    def hello(self, ports: List[PortRequest], budget_us: Optional[int] = None,
              token: Optional[str] = None) -> Welcome:
        """The handshake: asks the daemon to play ``ports``; returns its ``Welcome``.

        ``token`` is the daemon's shared secret, if it asks for one: a wrong
        or missing token raises ``ServerError`` with ``ErrorCode.UNAUTHORIZED``.
        """
        self.send(Hello(ports=list(ports), budget_us=budget_us, token=token))
        message = self.receive()
        if not isinstance(message, Welcome):
            raise ProtocolError(f"expected Welcome, got {type(message).__name__}")
        self.welcome = message
        return message

    def match_start(self, stage: int, players: List[PlayerInfo]) -> None:
        """Announces a new match: every controlled port's state is reset. No reply."""
        self.send(MatchStart(stage, list(players)))

    def match_end(self, frame: int, method: int = 0) -> None:
        """Announces the end of the match. No reply."""
        self.send(MatchEnd(frame, method))

    def send_frame_nowait(self, frame: Frame) -> None:
        """Sends a frame without waiting; collect its reply with ``read_reply``."""
        self.send(frame)
        self._in_flight.append(frame.frame)

    def read_reply(self) -> FrameReply:
        """The reply to the oldest frame sent with ``send_frame_nowait``."""
        message = self.receive()
        if not isinstance(message, FrameReply):
            raise ProtocolError(f"expected Reply, got {type(message).__name__}")
        if self._in_flight:
            expected = self._in_flight.pop(0)
            if message.frame != expected:
                raise ProtocolError(f"reply for frame {message.frame}, expected {expected}")
        return message

    def send_frame(self, frame: Frame) -> FrameReply:
        """Sends one frame and returns its reply."""
        self.send_frame_nowait(frame)
        return self.read_reply()

