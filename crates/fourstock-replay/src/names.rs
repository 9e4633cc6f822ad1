//! Melee's ids and their names: characters (external ids, and the internal
//! ids post-frame events carry), stages, and how a game ended.

/// Character names by external (character select screen) id, 0 to 32.
const CHARACTERS: [&str; 33] = [
    "Captain Falcon",
    "Donkey Kong",
    "Fox",
    "Mr. Game & Watch",
    "Kirby",
    "Bowser",
    "Link",
    "Luigi",
    "Mario",
    "Marth",
    "Mewtwo",
    "Ness",
    "Peach",
    "Pikachu",
    "Ice Climbers",
    "Jigglypuff",
    "Samus",
    "Yoshi",
    "Zelda",
    "Sheik",
    "Falco",
    "Young Link",
    "Dr. Mario",
    "Roy",
    "Pichu",
    "Ganondorf",
    "Master Hand",
    "Wireframe (male)",
    "Wireframe (female)",
    "Giga Bowser",
    "Crazy Hand",
    "Sandbag",
    "Popo",
];

/// External id by internal id (0 to 32). Popo (10) and Nana (11) are both
/// Ice Climbers.
const EXTERNAL_BY_INTERNAL: [u8; 33] = [
    8,  // Mario
    2,  // Fox
    0,  // Captain Falcon
    1,  // Donkey Kong
    4,  // Kirby
    5,  // Bowser
    6,  // Link
    19, // Sheik
    11, // Ness
    12, // Peach
    14, // Popo
    14, // Nana
    13, // Pikachu
    16, // Samus
    17, // Yoshi
    15, // Jigglypuff
    10, // Mewtwo
    7,  // Luigi
    9,  // Marth
    18, // Zelda
    21, // Young Link
    22, // Dr. Mario
    20, // Falco
    24, // Pichu
    3,  // Mr. Game & Watch
    25, // Ganondorf
    23, // Roy
    26, // Master Hand
    30, // Crazy Hand
    27, // Wireframe (male)
    28, // Wireframe (female)
    29, // Giga Bowser
    31, // Sandbag
];

/// The six stages of the competitive ruleset.
pub(crate) const LEGAL_STAGES: [u16; 6] = [2, 3, 8, 28, 31, 32];

/// The name of an external character id.
pub(crate) fn character(id: u8) -> &'static str {
    CHARACTERS
        .get(id as usize)
        .copied()
        .unwrap_or("unknown character")
}

/// The external id of an internal character id.
pub(crate) fn external_character(internal: u8) -> Option<u8> {
    EXTERNAL_BY_INTERNAL.get(internal as usize).copied()
}

/// The name of a stage id.
pub(crate) fn stage(id: u16) -> &'static str {
    match id {
        2 => "Fountain of Dreams",
        3 => "Pokemon Stadium",
        4 => "Princess Peach's Castle",
        5 => "Kongo Jungle",
        6 => "Brinstar",
        7 => "Corneria",
        8 => "Yoshi's Story",
        9 => "Onett",
        10 => "Mute City",
        11 => "Rainbow Cruise",
        12 => "Jungle Japes",
        13 => "Great Bay",
        14 => "Hyrule Temple",
        15 => "Brinstar Depths",
        16 => "Yoshi's Island",
        17 => "Green Greens",
        18 => "Fourside",
        19 => "Mushroom Kingdom I",
        20 => "Mushroom Kingdom II",
        22 => "Venom",
        23 => "Poke Floats",
        24 => "Big Blue",
        25 => "Icicle Mountain",
        26 => "Icetop",
        27 => "Flat Zone",
        28 => "Dream Land N64",
        29 => "Yoshi's Island N64",
        30 => "Kongo Jungle N64",
        31 => "Battlefield",
        32 => "Final Destination",
        _ => "unknown stage",
    }
}

/// The name of a game-end method, as in Slippi's game-end event.
pub(crate) fn end_method(method: u8) -> &'static str {
    match method {
        0 => "unresolved",
        1 => "time",
        2 => "game",
        3 => "resolved",
        7 => "no contest",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ids_map_to_the_same_character() {
        // Spot checks against Melee's two id tables.
        assert_eq!(character(external_character(1).unwrap()), "Fox");
        assert_eq!(character(external_character(22).unwrap()), "Falco");
        assert_eq!(character(external_character(7).unwrap()), "Sheik");
        assert_eq!(character(external_character(11).unwrap()), "Ice Climbers");
        assert_eq!(
            character(external_character(24).unwrap()),
            "Mr. Game & Watch"
        );
        assert_eq!(character(external_character(32).unwrap()), "Sandbag");
        assert_eq!(external_character(33), None);
    }
}
