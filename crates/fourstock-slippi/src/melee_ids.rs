//! Melee's two numberings of characters and stages, and the action ids
//! slippi-ai's observation filter names.
//!
//! Slippi's game-start event and the wire protocol use *external* ids (the
//! character select screen's order, 0 to 32); slippi-ai's parsed games and
//! libmelee's enums (`melee.Character`, `melee.Stage`) use Melee's
//! *internal* ids, as the post-frame event reports them.

/// libmelee's internal id for each external character id 0..=32.
const INTERNAL_CHARACTER: [u8; 33] = [
    0x02, // 0 Captain Falcon
    0x03, // 1 Donkey Kong
    0x01, // 2 Fox
    0x18, // 3 Mr. Game & Watch
    0x04, // 4 Kirby
    0x05, // 5 Bowser
    0x06, // 6 Link
    0x11, // 7 Luigi
    0x00, // 8 Mario
    0x12, // 9 Marth
    0x10, // 10 Mewtwo
    0x08, // 11 Ness
    0x09, // 12 Peach
    0x0C, // 13 Pikachu
    0x0A, // 14 Ice Climbers (Popo)
    0x0F, // 15 Jigglypuff
    0x0D, // 16 Samus
    0x0E, // 17 Yoshi
    0x13, // 18 Zelda
    0x07, // 19 Sheik
    0x16, // 20 Falco
    0x14, // 21 Young Link
    0x15, // 22 Dr. Mario
    0x1A, // 23 Roy
    0x17, // 24 Pichu
    0x19, // 25 Ganondorf
    0x1B, // 26 Master Hand
    0x1D, // 27 Wireframe (male)
    0x1E, // 28 Wireframe (female)
    0x1F, // 29 Giga Bowser
    0x1C, // 30 Crazy Hand
    0x20, // 31 Sandbag
    0x0A, // 32 Popo
];

/// libmelee's internal id of Nana, the Ice Climbers' follower.
pub const NANA: u8 = 0x0B;

/// The internal character id of an external one; `None` past 32.
pub fn internal_character(external: u8) -> Option<u8> {
    INTERNAL_CHARACTER.get(external as usize).copied()
}

/// libmelee's internal ids of the two stages with moving parts slippi-ai
/// reads: Randall on Yoshi's Story, the side platforms on Fountain of Dreams.
pub const YOSHIS_STORY: u8 = 0x06;
pub const FOUNTAIN_OF_DREAMS: u8 = 0x08;

/// libmelee's `to_internal_stage`: the six tournament stages by their
/// external (Slippi) ids; every other stage is `NO_STAGE` (0).
pub fn internal_stage(external: u16) -> u8 {
    match external {
        0x02 => FOUNTAIN_OF_DREAMS,
        0x03 => 0x12, // Pokémon Stadium
        0x08 => YOSHIS_STORY,
        0x1C => 0x1A, // Dreamland
        0x1F => 0x18, // Battlefield
        0x20 => 0x19, // Final Destination
        _ => 0,
    }
}

/// Action states slippi-ai's observation filter masks.
pub const NEUTRAL_TECH: u16 = 0xC7;
pub const FORWARD_TECH: u16 = 0xC8;
pub const BACKWARD_TECH: u16 = 0xC9;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parity_game_characters_and_stage() {
        // Sheik (external 19) vs Mewtwo (external 10) on Battlefield (31).
        assert_eq!(internal_character(19), Some(7));
        assert_eq!(internal_character(10), Some(16));
        assert_eq!(internal_stage(31), 24);
        assert_eq!(internal_character(33), None);
        assert_eq!(internal_stage(40), 0);
    }

    #[test]
    fn every_internal_id_but_nana_has_an_external_one() {
        let mut seen = INTERNAL_CHARACTER.to_vec();
        seen.sort();
        seen.dedup();
        // Popo appears twice (Ice Climbers and Popo); Nana never does.
        assert_eq!(seen.len(), 32);
        assert!(!seen.contains(&NANA));
        assert_eq!(*seen.last().unwrap(), 0x20);
    }
}
