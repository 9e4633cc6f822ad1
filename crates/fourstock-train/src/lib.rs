//! Imitation learning (in progress).
