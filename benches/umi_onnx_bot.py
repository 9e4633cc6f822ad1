#!/usr/bin/env python3
"""The Python/ONNX Runtime anchor bot for UMI v1: what a Computer Melee
Championship entrant would write to serve fourstock's default model.

It owns one thing: a `umi.Bot` that plays models/generic-lstm (2-layer LSTM
128x128, no speeds, 1 opponent, delay 6, argmax) through ONNX Runtime, with a
numpy featurizer vectorised over the batch. The ONNX graph is built from the
same safetensors by benches/onnx_side_by_side.py (gate reorder included).
The features follow crates/fourstock-recurrent/src/featurizer.rs (same
width, 1039; UMI frames carry internal character and stage ids, mapped to the
external ids the model reads) and the logits are decoded per group by
argmax as crates/fourstock-recurrent/src/head.rs does. It is a timing anchor:
it does not reset memory on a lost stock, so its outputs need not match
`fourstock umi` exactly, but its cost per batch is the same shape.

ONNX Runtime runs with intra_op_num_threads = $UMI_CORES (the arena sets it
to the bot's core count; default 1 here), one inter-op thread, sequential
execution, all graph optimisations.

Run it under an arena (it connects to $UMI_SOCKET), from the repository root:

    .venv-bench/bin/umi-conform --cmd ".venv-bench/bin/python benches/umi_onnx_bot.py" --realtime
    .venv-bench/bin/python benches/umi_load.py --cmd ".venv-bench/bin/python benches/umi_onnx_bot.py"

`--model DIR` serves another model with the same feature config.
"""

import argparse
import json
import os

import numpy as np
import onnxruntime as ort
import umi
from umi.frame import unpack_buttons
from onnx_side_by_side import HEAD, onnx_model, read_safetensors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join(ROOT, "models", "generic-lstm")

# Feature layout (featurizer.rs): stage one-hot, self block, opponent block, controller block.
STAGES, ACTIONS, CHARACTERS, JUMPS, SCALARS = 64, 400, 33, 7, 7
BLOCK = ACTIONS + CHARACTERS + JUMPS + SCALARS
BUTTONS, STICK_CLASSES, STICK_AXES, SHOULDER_CLASSES = 8, 17, 4, 5
STICKS_AT = BUTTONS
SHOULDER_AT = STICKS_AT + STICK_AXES * STICK_CLASSES
CONTROLLER_AT = STAGES + 2 * BLOCK
WIDTH = CONTROLLER_AT + SHOULDER_AT + SHOULDER_CLASSES
assert SHOULDER_AT + SHOULDER_CLASSES == HEAD

# Internal character id -> external id (melee.rs CHARACTER_TABLE; Nana 0x0B plays as Ice Climbers 14).
INTERNAL_BY_EXTERNAL = [0x02, 0x03, 0x01, 0x18, 0x04, 0x05, 0x06, 0x11, 0x00, 0x12, 0x10, 0x08, 0x09,
                        0x0C, 0x0A, 0x0F, 0x0D, 0x0E, 0x13, 0x07, 0x16, 0x14, 0x15, 0x1A, 0x17, 0x19,
                        0x1B, 0x1D, 0x1E, 0x1F, 0x1C, 0x20]   # external 0..31; 32 (Popo) shares 0x0A
# Internal stage id -> external id (melee.rs internal_stage), for the six legal stages.
EXTERNAL_STAGE = {0x08: 2, 0x12: 3, 0x06: 8, 0x1A: 28, 0x18: 31, 0x19: 32}


def lookup(pairs: dict, missing: int) -> np.ndarray:
    """A 256-entry u8 -> int64 table; ids it doesn't name map to `missing`."""
    table = np.full(256, missing, np.int64)
    table[list(pairs)] = list(pairs.values())
    return table


CHARACTER_EXTERNAL = lookup({**{i: e for e, i in enumerate(INTERNAL_BY_EXTERNAL)}, 0x0B: 14}, -1)
STAGE_EXTERNAL = lookup(EXTERNAL_STAGE, -1)


class Featurizer:
    """Frame[N] -> f32[N, WIDTH], both player blocks at once, one numpy pass per field; the output
    buffer and the one-hots' row offsets are kept per batch size."""

    def __init__(self):
        self.cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _buffers(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(x [n, WIDTH], rows [n, 1]: each row's flat offset in x)."""
        if n not in self.cache:
            self.cache[n] = np.empty((n, WIDTH), np.float32), np.arange(n, dtype=np.int64)[:, None] * WIDTH
        return self.cache[n]

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        n = len(frames)
        x, rows = self._buffers(n)
        x.fill(0.0)
        players = frames["players"]                                  # [n, 2]: self, opponent
        blocks = x[:, STAGES:CONTROLLER_AT].reshape(n, 2, BLOCK)     # a view of both player blocks
        hot = [_valid(rows[:, 0], STAGE_EXTERNAL[frames["stage"]]),
               *self._players(blocks, rows + STAGES + np.arange(2) * BLOCK, players),
               *self._controller(x, rows, players[:, 0]["controller"])]
        x.reshape(-1)[np.concatenate(hot)] = 1.0
        return x

    @staticmethod
    def _players(blocks: np.ndarray, at: np.ndarray, p: np.ndarray) -> list[np.ndarray]:
        """Writes the scalars; returns the one-hots' flat indices (at: [n, 2] block offsets)."""
        scalars = blocks[..., ACTIONS + CHARACTERS + JUMPS:]
        np.clip(p["x"] * 0.05, -10, 10, out=scalars[..., 0])
        np.clip(p["y"] * 0.05, -10, 10, out=scalars[..., 1])
        np.multiply(p["percent"], 0.01, out=scalars[..., 2], casting="unsafe")
        np.multiply(p["shield_strength"], 0.01, out=scalars[..., 3])
        scalars[..., 4] = np.where(p["facing"] != 0, 1.0, -1.0)
        scalars[..., 5] = p["on_ground"]
        scalars[..., 6] = p["invulnerable"]
        action = np.minimum(p["action"], ACTIONS - 1)
        jumps = np.minimum(p["jumps_left"], JUMPS - 1)
        return [(at + action).reshape(-1),
                _valid((at + ACTIONS).reshape(-1), CHARACTER_EXTERNAL[p["character"]].reshape(-1)),
                (at + ACTIONS + CHARACTERS + jumps).reshape(-1)]

    @staticmethod
    def _controller(x: np.ndarray, rows: np.ndarray, c: np.ndarray) -> list[np.ndarray]:
        """Writes the buttons; returns the stick and shoulder one-hots' flat indices."""
        x[:, CONTROLLER_AT:CONTROLLER_AT + BUTTONS] = unpack_buttons(c["buttons"])
        sticks = np.stack([c["main_x"], c["main_y"], c["c_x"], c["c_y"]], axis=1)
        offsets = CONTROLLER_AT + STICKS_AT + np.arange(STICK_AXES) * STICK_CLASSES
        return [(rows + offsets + _classes(sticks, STICK_CLASSES)).reshape(-1),
                rows[:, 0] + CONTROLLER_AT + SHOULDER_AT + _classes(c["shoulder"], SHOULDER_CLASSES)]


def _valid(at: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Flat indices of one-hot `column`s, dropping those whose id is unknown (-1)."""
    keep = column >= 0
    return at[keep] + column[keep]


def _classes(values: np.ndarray, classes: int) -> np.ndarray:
    """action.rs class(): round(clamp(v, 0, 1) * (classes - 1)), NaN -> 0 (fmax drops the NaN)."""
    return np.rint(np.fmin(np.fmax(values, 0.0), 1.0) * (classes - 1)).astype(np.int64)


def decode(logits: np.ndarray) -> np.ndarray:
    """Logits [N, 81] -> controller rows f32[N, 13] by argmax per group (head.rs)."""
    n = len(logits)
    ctrl = np.empty((n, len(umi.CTRL_FIELDS)), np.float32)
    sticks = logits[:, STICKS_AT:SHOULDER_AT].reshape(n, STICK_AXES, STICK_CLASSES)
    ctrl[:, 0:4] = sticks.argmax(-1) / (STICK_CLASSES - 1)
    ctrl[:, 4] = logits[:, SHOULDER_AT:].argmax(-1) / (SHOULDER_CLASSES - 1)
    ctrl[:, 5:] = logits[:, :BUTTONS] > 0
    return ctrl


def session_options() -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(os.environ.get("UMI_CORES", "1"))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return opts


def load_model(folder: str) -> tuple[ort.InferenceSession, list[int]]:
    """The ORT session for a fourstock LSTM model folder, and its hidden sizes."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    features = config["features"]
    if config["cell"] != "lstm" or features["speeds"] or features["opponents"] != 1:
        raise ValueError(f"{folder}: this bot featurizes LSTM models without speeds, 1 opponent")
    weights = read_safetensors(os.path.join(folder, "model.safetensors"))
    if weights["core.weight_ih_l0"].shape[1] != WIDTH:
        raise ValueError(f"{folder}: input width {weights['core.weight_ih_l0'].shape[1]}, expected {WIDTH}")
    model = onnx_model(weights, "lstm", config["hidden_sizes"], WIDTH)
    session = ort.InferenceSession(model.SerializeToString(), session_options(),
                                   providers=["CPUExecutionProvider"])
    return session, config["hidden_sizes"]


class FourstockOrt(umi.Bot):
    name = "fourstock-ort"
    characters = "ALL"
    delay = 6
    deterministic = True
    pad = True

    def __init__(self, model_dir: str = DEFAULT_MODEL):
        self.model_dir = model_dir

    def setup(self, session: umi.Session) -> None:
        self.ort, self.hidden = load_model(self.model_dir)
        self.outputs = [o.name for o in self.ort.get_outputs()]   # logits, h0_out, c0_out, h1_out, c1_out
        self.featurize = Featurizer()

    def initial_state(self, n: int) -> tuple[np.ndarray, ...]:
        """(h0, c0, h1, c1), each [n, hidden]."""
        return tuple(np.zeros((n, h), np.float32) for h in self.hidden for _ in ("h", "c"))

    def act(self, batch: umi.Batch, state: tuple[np.ndarray, ...]):
        feed = {"x": self.featurize(batch.frames)[None]}
        for k in range(len(self.hidden)):
            feed[f"h{k}"], feed[f"c{k}"] = state[2 * k][None], state[2 * k + 1][None]
        logits, *new_state = self.ort.run(self.outputs, feed)
        return umi.Actions(ctrl=decode(logits)), tuple(s[0] for s in new_state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="fourstock model folder (default: generic-lstm)")
    args, rest = parser.parse_known_args()
    umi.serve(FourstockOrt(args.model), rest)


if __name__ == "__main__":
    main()
