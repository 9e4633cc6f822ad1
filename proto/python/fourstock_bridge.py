#!/usr/bin/env python3
"""The libmelee bridge: fourstock plays Melee through Slippi Dolphin.

Each frame the bridge

1. takes libmelee's ``GameState`` from a ``melee.Console``;
2. sends it to the fourstock daemon as a ``Frame`` (``fourstock_wire``);
3. applies the daemon's reply through a ``melee.Controller`` (Dolphin's
   controller pipe).

Two modes::

    # Play: Dolphin runs the game, the daemon plays PORT.
    python3 proto/python/fourstock_bridge.py play \\
        --dolphin /path/to/slippi-dolphin --iso /path/to/melee.iso \\
        --port 1 --character FOX --stage BATTLEFIELD [--opponent-port 2] \\
        [--daemon 127.0.0.1:4848] [--model NAME] [--player-name NAME]

    # Replay: libmelee reads a .slp file as its console; every in-game frame
    # goes to the daemon, and optionally the exact bytes sent are written as
    # JSON lines ({"frame": N, "payload": HEX}) for cross-checks.
    python3 proto/python/fourstock_bridge.py replay FILE.slp --port 1 \\
        [--daemon 127.0.0.1:4848] [--dump frames.jsonl]

``--player-name`` asks a slippi-ai model to imitate that player (a name of
its checkpoint's name map); the daemon refuses a name the model does not
offer.

Needs libmelee (``pip install melee==0.47.6``); the wire codec itself needs
nothing but the standard library.

Where libmelee and the .slp events (read by fourstock through peppi) differ:

- Rollback: a netplay .slp holds re-sent frames. The bridge sends every
  copy, as a live console would; the last copy of a frame number is the
  true one, and is what fourstock's replay reader keeps.
- ``action_frame``: libmelee re-indexes the animation frame (it counts from
  1, and -1 before a state's first frame); peppi gives Slippi's raw
  ``state_age``. The bridge sends libmelee's value.
- ``invulnerable``: libmelee derives it from the hurtbox state like peppi,
  and agrees; ``hitstun_left`` is libmelee's ``hitstun_frames_left``.
- Characters and stages: libmelee's enums hold internal ids; the bridge
  converts to the protocol's external character ids and Slippi stage ids.
  Stages off the competitive list have no conversion table here and are
  sent as stage 0.
- Stage state: Randall's midpoint on Yoshi's Story comes from libmelee's
  ``melee.stages.randall_position(gamestate.frame)``, the formula fourstock's
  replay reader ports; Fountain of Dreams' heights from
  ``gamestate.fod_platforms``, which libmelee updates from the same platform
  events peppi reads (Slippi 3.18 and later; zeros before, when libmelee
  has none). Zeros on every other stage, as slippi-ai records them.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fourstock_wire as wire  # noqa: E402

try:
    import melee
except ImportError:  # pragma: no cover - reported at run time
    melee = None

#: Exit code when libmelee cannot read a replay (as opposed to a daemon error).
EXIT_UNREADABLE = 3


def _unit(value) -> float:
    """A libmelee analog value clamped into the protocol's 0..1."""
    value = float(value)
    if value != value:  # NaN
        return 0.5
    return min(1.0, max(0.0, value))


_BUTTONS = None


def _button_table():
    global _BUTTONS
    if _BUTTONS is None:
        b = melee.Button
        _BUTTONS = [
            (b.BUTTON_A, wire.Buttons.A), (b.BUTTON_B, wire.Buttons.B),
            (b.BUTTON_X, wire.Buttons.X), (b.BUTTON_Y, wire.Buttons.Y),
            (b.BUTTON_Z, wire.Buttons.Z), (b.BUTTON_L, wire.Buttons.L),
            (b.BUTTON_R, wire.Buttons.R), (b.BUTTON_START, wire.Buttons.START),
            (b.BUTTON_D_UP, wire.Buttons.D_UP), (b.BUTTON_D_DOWN, wire.Buttons.D_DOWN),
            (b.BUTTON_D_LEFT, wire.Buttons.D_LEFT), (b.BUTTON_D_RIGHT, wire.Buttons.D_RIGHT),
        ]
    return _BUTTONS


def controller_from_libmelee(state) -> wire.ControllerState:
    """libmelee's ``ControllerState`` as the protocol's."""
    buttons = 0
    for melee_button, bit in _button_table():
        if state.button.get(melee_button, False):
            buttons |= bit
    main_x, main_y = state.main_stick
    c_x, c_y = state.c_stick
    return wire.ControllerState(
        buttons=buttons,
        main_x=_unit(main_x), main_y=_unit(main_y),
        c_x=_unit(c_x), c_y=_unit(c_y),
        l_trigger=_unit(state.l_shoulder), r_trigger=_unit(state.r_shoulder),
    )


def player_from_libmelee(port: int, p, follower: bool) -> wire.PlayerFrame:
    """libmelee's ``PlayerState`` as a protocol ``PlayerFrame``."""
    return wire.PlayerFrame(
        port=port,
        follower=follower,
        character=wire.external_character(p.character.value),
        action_state=int(p.action.value),
        action_frame=float(p.action_frame),
        x=float(p.position.x),
        y=float(p.position.y),
        facing_right=bool(p.facing),
        percent=float(p.percent),
        stocks=int(p.stock),
        shield=float(p.shield_strength),
        jumps_left=int(p.jumps_left),
        on_ground=bool(p.on_ground),
        invulnerable=bool(p.invulnerable),
        hitlag_left=float(p.hitlag_left),
        hitstun_left=float(p.hitstun_frames_left),
        speed_air_x_self=float(p.speed_air_x_self),
        speed_ground_x_self=float(p.speed_ground_x_self),
        speed_y_self=float(p.speed_y_self),
        speed_x_attack=float(p.speed_x_attack),
        speed_y_attack=float(p.speed_y_attack),
        controller=controller_from_libmelee(p.controller_state),
    )


def stage_from_libmelee(stage) -> int:
    return wire.SLIPPI_STAGE_BY_LIBMELEE.get(stage.value, 0) if stage is not None else 0


def stage_state_from_gamestate(gamestate) -> wire.StageState:
    """Randall on Yoshi's Story, the platform heights on Fountain of Dreams,
    zeros elsewhere (and on Fountain of Dreams before Slippi 3.18)."""
    if gamestate.stage is melee.Stage.YOSHIS_STORY:
        height, left, right = melee.stages.randall_position(int(gamestate.frame))
        return wire.StageState(randall=((left + right) / 2, height))
    fod = gamestate.fod_platforms
    if gamestate.stage is melee.Stage.FOUNTAIN_OF_DREAMS and fod is not None:
        return wire.StageState(fod_platforms=(float(fod.left), float(fod.right)))
    return wire.StageState()


def frame_from_gamestate(gamestate) -> wire.Frame:
    """A libmelee ``GameState`` as a protocol ``Frame``, Nana included."""
    players = []
    for port in sorted(gamestate.players):
        p = gamestate.players[port]
        players.append(player_from_libmelee(port, p, follower=False))
        if p.nana is not None:
            players.append(player_from_libmelee(port, p.nana, follower=True))
    return wire.Frame(frame=int(gamestate.frame), stage=stage_from_libmelee(gamestate.stage),
                      stage_state=stage_state_from_gamestate(gamestate), players=players)


def apply_output(controller, output: wire.ControllerState) -> None:
    """Presses what the daemon said on a libmelee ``Controller``."""
    for melee_button, bit in _button_table():
        if melee_button in (melee.Button.BUTTON_START,):
            continue  # never pause the game
        if output.buttons & bit:
            controller.press_button(melee_button)
        else:
            controller.release_button(melee_button)
    controller.tilt_analog(melee.Button.BUTTON_MAIN, output.main_x, output.main_y)
    controller.tilt_analog(melee.Button.BUTTON_C, output.c_x, output.c_y)
    controller.press_shoulder(melee.Button.BUTTON_L, output.l_trigger)
    controller.press_shoulder(melee.Button.BUTTON_R, output.r_trigger)
    controller.flush()


def _connect(address: str) -> wire.Client:
    host, _, port = address.rpartition(":")
    return wire.Client.connect(host or "127.0.0.1", int(port))


def _match_start(gamestate) -> wire.MatchStart:
    frame = frame_from_gamestate(gamestate)
    return wire.MatchStart(stage=frame.stage, players=[
        wire.PlayerInfo(p.port, p.character) for p in frame.players if not p.follower])


def replay(args) -> int:
    """Streams a .slp read by libmelee to the daemon; returns an exit code."""
    try:
        # Keep rollback re-sends: the daemon answers them again without
        # stepping, as it would live. (libmelee's default keeps only the
        # first copy of a frame; the .slp's last copy is the true one.)
        console = melee.Console(is_dolphin=False, allow_old_version=True, path=args.file,
                                skip_rollback_frames=False)
        console.connect()
    except Exception as e:  # libmelee raises many kinds on bad files
        print(f"{args.file}: libmelee cannot read it: {e}", file=sys.stderr)
        return EXIT_UNREADABLE
    client = None
    dump = open(args.dump, "w") if args.dump else None
    sent = 0
    try:
        while True:
            try:
                gamestate = console.step()
            except Exception as e:  # libmelee's parser gives up on some files
                print(f"{args.file}: libmelee cannot read it (after {sent} frames): {e!r}",
                      file=sys.stderr)
                return EXIT_UNREADABLE
            if gamestate is None:
                break
            if gamestate.menu_state not in (melee.Menu.IN_GAME, melee.Menu.SUDDEN_DEATH):
                continue
            frame = frame_from_gamestate(gamestate)
            if client is None:
                client = _connect(args.daemon)
                requests = [wire.PortRequest(p.port, p.character, args.model, args.player_name)
                            for p in frame.players if p.port in args.port and not p.follower]
                client.hello(requests, token=_token(args))
                client.match_start(*_match_start(gamestate).__dict__.values())
            if dump:
                payload = wire.encode_client(frame)[4:]
                dump.write(json.dumps({"frame": frame.frame, "payload": payload.hex()}) + "\n")
            reply = client.send_frame(frame)
            if reply.frame != frame.frame:
                raise wire.ProtocolError(f"reply for {reply.frame}, sent {frame.frame}")
            sent += 1
    finally:
        if dump:
            dump.close()
        if client is not None:
            client.close()
    if sent == 0:
        print(f"{args.file}: libmelee found no in-game frames", file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"{args.file}: {sent} frames sent and answered")
    return 0


def play(args) -> int:  # pragma: no cover - needs Slippi Dolphin and an ISO
    """Runs Dolphin and lets the daemon play ``args.port``."""
    console = melee.Console(path=args.dolphin)
    controller = melee.Controller(console=console, port=args.port[0],
                                  type=melee.ControllerType.STANDARD)
    console.run(iso_path=args.iso)
    if not console.connect() or not controller.connect():
        print("could not connect to Dolphin", file=sys.stderr)
        return 1
    character = melee.Character[args.character]
    stage = melee.Stage[args.stage]
    client = None
    in_match = False
    said_at = time.monotonic()
    while True:
        gamestate = console.step()
        if gamestate is None:
            continue
        if gamestate.menu_state in (melee.Menu.IN_GAME, melee.Menu.SUDDEN_DEATH):
            frame = frame_from_gamestate(gamestate)
            if client is None:
                client = _connect(args.daemon)
                me = frame.player(args.port[0])
                client.hello([wire.PortRequest(args.port[0], me.character, args.model,
                                               args.player_name)], token=_token(args))
            if not in_match:
                client.match_start(*_match_start(gamestate).__dict__.values())
                in_match = True
            reply = client.send_frame(frame)
            apply_output(controller, reply.output(args.port[0]).controller)
            said_at = time.monotonic()
        else:
            # A MatchEnd at the end of a game, and one a minute in long
            # menus: the daemon ends a session silent for its idle timeout.
            if client is not None and (in_match or time.monotonic() - said_at > 60):
                client.match_end(int(gamestate.frame))
                in_match = False
                said_at = time.monotonic()
            melee.MenuHelper.menu_helper_simple(gamestate, controller, character, stage,
                                                autostart=True, swag=False)


def _token(args):
    """The token to send, from ``--token-file``; None without one."""
    return wire.read_token_file(args.token_file) if args.token_file else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--daemon", default="127.0.0.1:4848", help="the daemon's HOST:PORT")
    common.add_argument("--port", type=int, action="append", required=True,
                        help="a port the daemon plays (1..4); repeat for more")
    common.add_argument("--model", default=None, help="ask the daemon for this model")
    common.add_argument("--token-file", default=os.environ.get("FOURSTOCK_TOKEN_FILE"),
                        help="the daemon's shared secret, for a daemon beyond loopback "
                             "(default: $FOURSTOCK_TOKEN_FILE)")
    common.add_argument("--player-name", default=None,
                        help="the player a slippi-ai model imitates (a name of its name map)")
    r = sub.add_parser("replay", parents=[common], help="stream a .slp read by libmelee")
    r.add_argument("file")
    r.add_argument("--dump", help="write the bytes of every frame sent as JSON lines")
    p = sub.add_parser("play", parents=[common], help="play through Slippi Dolphin")
    p.add_argument("--dolphin", required=True, help="path to the Slippi Dolphin folder or binary")
    p.add_argument("--iso", required=True, help="path to the Melee 1.02 ISO")
    p.add_argument("--character", default="FOX", help="libmelee Character name")
    p.add_argument("--stage", default="BATTLEFIELD", help="libmelee Stage name")
    args = parser.parse_args(argv)
    if melee is None:
        print("libmelee is not installed: pip install melee==0.47.6", file=sys.stderr)
        return 2
    return replay(args) if args.mode == "replay" else play(args)


if __name__ == "__main__":
    sys.exit(main())
