//! Every message of the protocol. Field order is wire order: do not reorder
//! fields or variants without bumping [`crate::PROTOCOL_VERSION`] and
//! regenerating the golden vectors.

use serde::{Deserialize, Serialize};

use crate::controller::ControllerState;

/// What a client sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// The handshake; must come first, exactly once.
    Hello(Hello),
    /// A new match begins: every controlled port's state is reset.
    MatchStart(MatchStart),
    /// One frame of game state; answered by exactly one [`FrameReply`].
    Frame(Frame),
    /// The match is over; the next frame starts a new one.
    MatchEnd(MatchEnd),
}

impl ClientMessage {
    /// The message's name, for errors and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Hello(_) => "Hello",
            ClientMessage::MatchStart(_) => "MatchStart",
            ClientMessage::Frame(_) => "Frame",
            ClientMessage::MatchEnd(_) => "MatchEnd",
        }
    }
}

/// What the daemon sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// The answer to [`Hello`].
    Welcome(Welcome),
    /// The answer to a [`Frame`].
    Reply(FrameReply),
    /// Something went wrong; the daemon closes the connection after it.
    Error(ErrorMessage),
}

/// The client's handshake.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// Must be [`crate::MAGIC`].
    pub magic: [u8; 4],
    /// Must be [`crate::PROTOCOL_VERSION`].
    pub version: u16,
    /// The daemon's shared secret, as its operator handed it out; `None`
    /// for a daemon that asks for none (one listening on loopback). At
    /// most [`crate::MAX_TOKEN_BYTES`] bytes.
    pub token: Option<String>,
    /// The ports the daemon plays, one entry each.
    pub ports: Vec<PortRequest>,
    /// A stricter latency budget in microseconds; `None` takes the server's.
    pub budget_us: Option<u32>,
}

/// One port the client wants the daemon to control.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortRequest {
    /// Controller port, 1 to 4 (as printed on the console).
    pub port: u8,
    /// Melee's external character id, 0 to 32.
    pub character: u8,
    /// A model by name; `None` lets the server choose.
    pub model: Option<String>,
    /// The player whose style the model imitates: a key of a slippi-ai
    /// checkpoint's name map. `None` keeps the model's default. A model
    /// without player names refuses any name.
    pub player_name: Option<String>,
}

/// The server's answer to [`Hello`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    pub version: u16,
    /// The latency budget in force for this session, in microseconds.
    pub budget_us: u32,
    /// One entry per requested port, in request order.
    pub ports: Vec<PortAssignment>,
}

/// The model that plays one port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortAssignment {
    pub port: u8,
    /// Model name, as in `models/NAME/`.
    pub model: String,
    /// Recurrent cell: `"lstm"` or `"gru"`, or `"tx_like"` for a slippi-ai model.
    pub cell: String,
    /// Width of the feature vector the model reads.
    pub input_size: u32,
    /// Hidden size of each recurrent layer, bottom first.
    pub hidden_sizes: Vec<u32>,
    /// Reaction delay: the reply to frame t carries the action computed at t - delay.
    pub delay: u32,
    /// Why this model was chosen, for people reading logs.
    pub reason: String,
    /// The port's state is reset when any player (a leader) loses a stock.
    pub reset_on_stock_loss: bool,
    /// The port's state is reset when a new match begins.
    pub reset_on_new_match: bool,
    /// The player whose style the model imitates on this port; `None` for
    /// models without player names.
    pub player_name: Option<String>,
}

/// A new match begins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchStart {
    /// Melee's stage id.
    pub stage: u16,
    /// Every player in the match.
    pub players: Vec<PlayerInfo>,
}

/// Who plays a port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlayerInfo {
    pub port: u8,
    pub character: u8,
}

/// The match is over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchEnd {
    /// The last frame of the match.
    pub frame: i32,
    /// How it ended, as in Slippi's game-end event (1 time, 2 game, 7 no contest; 0 unknown).
    pub method: u8,
}

/// One frame of game state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// Melee's frame number; the first frame of a match is -123.
    pub frame: i32,
    /// Melee's stage id.
    pub stage: u16,
    /// What moves on the stage itself.
    pub stage_state: StageState,
    /// Every player in the game, Ice Climbers' Nana as a player of her own
    /// with `follower` set.
    pub players: Vec<PlayerFrame>,
}

impl Frame {
    /// The leading (non-follower) player on `port`.
    pub fn player(&self, port: u8) -> Option<&PlayerFrame> {
        self.players.iter().find(|p| p.port == port && !p.follower)
    }

    /// The opponent of the player on `port` in a one-on-one view: the
    /// leader on the lowest other port.
    pub fn opponent(&self, port: u8) -> Option<&PlayerFrame> {
        self.players
            .iter()
            .filter(|p| !p.follower && p.port != port)
            .min_by_key(|p| p.port)
    }
}

/// The moving parts of a stage on one frame, as slippi-ai's games record
/// them. Zeros on every other stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageState {
    /// Randall's midpoint (x, y) on Yoshi's Story.
    pub randall: [f32; 2],
    /// Fountain of Dreams' side platform heights (left, right).
    pub fod_platforms: [f32; 2],
}

impl StageState {
    /// A stage without moving parts: every value 0.
    pub const NONE: StageState = StageState {
        randall: [0.0; 2],
        fod_platforms: [0.0; 2],
    };
}

/// One player's state on one frame: what libmelee's PlayerState and the
/// .slp pre-frame and post-frame events carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlayerFrame {
    /// Controller port, 1 to 4.
    pub port: u8,
    /// Set for Nana, the Ice Climbers' follower; she shares Popo's port.
    pub follower: bool,
    /// Melee's external character id, 0 to 32.
    pub character: u8,
    /// Action state id.
    pub action_state: u16,
    /// Frames into the current action state.
    pub action_frame: f32,
    pub x: f32,
    pub y: f32,
    /// True when facing right.
    pub facing_right: bool,
    pub percent: f32,
    pub stocks: u8,
    /// Shield strength, 0 to 60.
    pub shield: f32,
    pub jumps_left: u8,
    pub on_ground: bool,
    pub invulnerable: bool,
    pub hitlag_left: f32,
    pub hitstun_left: f32,
    pub speed_air_x_self: f32,
    pub speed_ground_x_self: f32,
    pub speed_y_self: f32,
    pub speed_x_attack: f32,
    pub speed_y_attack: f32,
    /// The controller input the player held on this frame.
    pub controller: ControllerState,
}

impl PlayerFrame {
    /// A player on `port` standing at the centre of the stage: four stocks,
    /// 0%, full shield, two jumps, nothing held. A starting point for
    /// clients and tests that set the fields they care about.
    pub fn new(port: u8, character: u8) -> PlayerFrame {
        PlayerFrame {
            port,
            follower: false,
            character,
            action_state: 14, // Wait
            action_frame: 0.0,
            x: 0.0,
            y: 0.0,
            facing_right: true,
            percent: 0.0,
            stocks: 4,
            shield: 60.0,
            jumps_left: 2,
            on_ground: true,
            invulnerable: false,
            hitlag_left: 0.0,
            hitstun_left: 0.0,
            speed_air_x_self: 0.0,
            speed_ground_x_self: 0.0,
            speed_y_self: 0.0,
            speed_x_attack: 0.0,
            speed_y_attack: 0.0,
            controller: ControllerState::NEUTRAL,
        }
    }
}

/// The answer to one [`Frame`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameReply {
    /// The frame number this answers.
    pub frame: i32,
    /// One entry per controlled port, in handshake order.
    pub outputs: Vec<PortOutput>,
}

/// What one controlled port should press.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortOutput {
    pub port: u8,
    pub controller: ControllerState,
    /// True when inference missed the budget and this is the fallback.
    pub fallback: bool,
    /// True when this port's recurrent state was reset on this frame.
    pub reset: bool,
    /// Microseconds from reading the frame to sending this reply.
    pub server_us: u32,
}

/// A readable error. The daemon closes the connection after sending it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorMessage {
    /// An [`crate::ErrorCode`] as a number.
    pub code: u16,
    pub message: String,
}
