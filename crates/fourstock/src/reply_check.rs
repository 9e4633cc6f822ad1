//! The soak's judge of one connection's replies: every frame sent (a
//! rollback re-send included) gets exactly one reply, in the order sent,
//! echoing its frame number with one output per controlled port; a re-sent
//! frame's reply is byte for byte the one first sent for that number
//! (PROTOCOL.md §10). It is fed what was sent and what came back, and
//! names each departure, so `fourstock soak` can count and show them.
//!
//! A reply is matched against the oldest frame still owed one. When it
//! does not match, the checker decides what most plausibly happened: the
//! same number as the reply just before it is a duplicate; a number owed
//! further on means the ones before it never came; anything else is a
//! wrong echo standing in for the oldest owed frame.

use std::collections::VecDeque;
use std::fmt;

use fourstock_proto::FrameReply;

/// How many first replies are kept to compare re-sends against; the
/// daemon keeps 256, and the soak re-sends only recent numbers.
const KEPT: usize = 256;

/// One departure from the protocol's promise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A reply echoed `got` where frame `expected` was owed one.
    WrongEcho { expected: i32, got: i32 },
    /// Frame `frame` never got its reply (a later one came first, or the
    /// connection ended, or the wait ran out).
    Missing { frame: i32 },
    /// A second reply for `frame`, or a reply when none was owed.
    Extra { frame: i32 },
    /// A reply for `frame` with `got` outputs for `ports` controlled ports.
    Outputs {
        frame: i32,
        got: usize,
        ports: usize,
    },
    /// A re-send of `frame` was not answered with the reply first sent.
    ResendDiffers { frame: i32 },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::WrongEcho { expected, got } => {
                write!(f, "frame {expected} answered as frame {got}")
            }
            Violation::Missing { frame } => write!(f, "frame {frame} got no reply"),
            Violation::Extra { frame } => write!(f, "an extra reply for frame {frame}"),
            Violation::Outputs { frame, got, ports } => {
                write!(f, "frame {frame}: {got} outputs for {ports} ports")
            }
            Violation::ResendDiffers { frame } => {
                write!(f, "re-sent frame {frame} answered unlike the first time")
            }
        }
    }
}

/// A frame owed a reply.
#[derive(Clone, Copy, Debug)]
struct Owed {
    frame: i32,
    resend: bool,
}

/// The replies owed on one connection and the first replies seen.
#[derive(Debug)]
pub struct ReplyChecker {
    ports: usize,
    owed: VecDeque<Owed>,
    /// The first reply to each recent frame number of this match.
    first: VecDeque<FrameReply>,
    /// The frame number of the last reply taken.
    last: Option<i32>,
}

impl ReplyChecker {
    /// A checker for a connection controlling `ports` ports.
    pub fn new(ports: usize) -> ReplyChecker {
        ReplyChecker {
            ports,
            owed: VecDeque::new(),
            first: VecDeque::new(),
            last: None,
        }
    }

    /// Frame `frame` was sent; `resend` when it repeats a number already
    /// answered in this match.
    pub fn sent(&mut self, frame: i32, resend: bool) {
        self.owed.push_back(Owed { frame, resend });
    }

    /// A new match began (a MatchStart or MatchEnd was sent): earlier
    /// replies are no model for re-sends any more.
    pub fn new_match(&mut self) {
        self.first.clear();
    }

    /// Judges one reply; returns what was wrong with it, in order.
    pub fn received(&mut self, reply: &FrameReply) -> Vec<Violation> {
        let mut found = Vec::new();
        if reply.outputs.len() != self.ports {
            found.push(Violation::Outputs {
                frame: reply.frame,
                got: reply.outputs.len(),
                ports: self.ports,
            });
        }
        let owed = match self.owed.front() {
            Some(front) if front.frame == reply.frame => self.owed.pop_front(),
            _ if self.last == Some(reply.frame) => {
                found.push(Violation::Extra { frame: reply.frame });
                return found;
            }
            None => {
                found.push(Violation::Extra { frame: reply.frame });
                return found;
            }
            Some(_) => match self.owed.iter().position(|o| o.frame == reply.frame) {
                Some(at) => {
                    for skipped in self.owed.drain(..at) {
                        found.push(Violation::Missing {
                            frame: skipped.frame,
                        });
                    }
                    self.owed.pop_front()
                }
                None => {
                    let front = self.owed.pop_front();
                    found.push(Violation::WrongEcho {
                        expected: front.map_or(0, |o| o.frame),
                        got: reply.frame,
                    });
                    self.last = Some(reply.frame);
                    return found;
                }
            },
        };
        self.last = Some(reply.frame);
        let Some(owed) = owed else { return found };
        let kept = self.first.iter().find(|r| r.frame == owed.frame);
        match (owed.resend, kept) {
            (true, Some(first)) if first != reply => {
                found.push(Violation::ResendDiffers { frame: owed.frame });
            }
            (false, _) => {
                if self.first.len() == KEPT {
                    self.first.pop_front();
                }
                self.first.push_back(reply.clone());
            }
            _ => {}
        }
        found
    }

    /// The connection ended: every frame still owed a reply is missing.
    pub fn close(&mut self) -> Vec<Violation> {
        self.owed
            .drain(..)
            .map(|o| Violation::Missing { frame: o.frame })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fourstock_proto::{Buttons, ControllerState, PortOutput};

    fn reply(frame: i32, buttons: u16) -> FrameReply {
        FrameReply {
            frame,
            outputs: vec![PortOutput {
                port: 1,
                controller: ControllerState {
                    buttons: Buttons(buttons),
                    ..ControllerState::NEUTRAL
                },
                fallback: false,
                reset: false,
                server_us: 100,
            }],
        }
    }

    /// Sends `frames` (re-sends marked), feeds `replies`, closes, and
    /// returns every violation seen.
    fn judge(frames: &[(i32, bool)], replies: &[FrameReply]) -> Vec<Violation> {
        let mut checker = ReplyChecker::new(1);
        for &(frame, resend) in frames {
            checker.sent(frame, resend);
        }
        let mut found: Vec<Violation> = replies.iter().flat_map(|r| checker.received(r)).collect();
        found.extend(checker.close());
        found
    }

    #[test]
    fn replies_in_order_with_resends_pass() {
        let sent = [
            (1, false),
            (2, false),
            (3, false),
            (2, true),
            (3, true),
            (5, false),
        ];
        let replies = [
            reply(1, 0),
            reply(2, 1),
            reply(3, 2),
            reply(2, 1),
            reply(3, 2),
            reply(5, 0),
        ];
        assert_eq!(judge(&sent, &replies), []);
    }

    #[test]
    fn a_wrong_echo_is_caught() {
        let sent = [(1, false), (2, false), (3, false)];
        let replies = [reply(1, 0), reply(7, 0), reply(3, 0)];
        assert_eq!(
            judge(&sent, &replies),
            [Violation::WrongEcho {
                expected: 2,
                got: 7
            }]
        );
    }

    #[test]
    fn a_missing_reply_is_caught_mid_stream_and_at_the_close() {
        let sent = [(1, false), (2, false), (3, false), (4, false)];
        let replies = [reply(1, 0), reply(3, 0)];
        assert_eq!(
            judge(&sent, &replies),
            [
                Violation::Missing { frame: 2 },
                Violation::Missing { frame: 4 }
            ]
        );
    }

    #[test]
    fn a_duplicate_reply_is_caught() {
        let sent = [(1, false), (2, false)];
        let replies = [reply(1, 0), reply(1, 0), reply(2, 0)];
        assert_eq!(judge(&sent, &replies), [Violation::Extra { frame: 1 }]);
        // And a reply after every frame was answered.
        let replies = [reply(1, 0), reply(2, 0), reply(9, 0)];
        assert_eq!(judge(&sent, &replies), [Violation::Extra { frame: 9 }]);
    }

    #[test]
    fn a_resend_answered_differently_is_caught() {
        let sent = [(1, false), (2, false), (1, true)];
        let replies = [reply(1, 0), reply(2, 0), reply(1, 4)];
        assert_eq!(
            judge(&sent, &replies),
            [Violation::ResendDiffers { frame: 1 }]
        );
    }

    #[test]
    fn a_reply_with_the_wrong_outputs_is_caught() {
        let mut two = reply(1, 0);
        two.outputs.push(two.outputs[0].clone());
        assert_eq!(
            judge(&[(1, false)], &[two]),
            [Violation::Outputs {
                frame: 1,
                got: 2,
                ports: 1
            }]
        );
    }
}
