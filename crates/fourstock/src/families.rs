//! The model families this command knows: the one place that links them.
//! Every command that loads a models folder hands this list to the
//! registry, so the daemon and the other front ends never link a family.

use fourstock_policy::Family;
use fourstock_recurrent::RecurrentFamily;
use fourstock_slippi::SlippiFamily;

/// fourstock's own LSTM/GRU models, and imported slippi-ai ones.
pub fn all() -> [&'static dyn Family; 2] {
    [&RecurrentFamily, &SlippiFamily]
}
