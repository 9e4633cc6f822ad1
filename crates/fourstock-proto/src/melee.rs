//! Melee's ids: characters, stages and the action states fourstock names.
//!
//! Every crate reads them from here, so each table is written once. Melee
//! numbers characters and stages twice. The *external* ids (the character
//! select screen's order) are what Slippi's game-start event and the wire
//! protocol carry; the *internal* ids are what the post-frame event reports
//! and what libmelee's enums (`melee.Character`, `melee.Stage`), and so
//! slippi-ai, use. A name here is an external id unless it starts with
//! `INTERNAL_`.

/// External character ids, 0 to 32: Captain Falcon 0 to Sandbag 31, then
/// Popo. The internal ids run 0 to 32 too.
pub const CHARACTERS: u8 = 33;

/// Stage ids the protocol accepts and the featurizers' one-hots cover, 0 to
/// 63.
pub const STAGES: u16 = 64;

/// External ids 0 to 25 are the characters on the select screen.
const PLAYABLE: usize = 26;

/// Characters other crates name. Zelda and Sheik turn into each other
/// mid-match.
pub const ZELDA: u8 = 18;
pub const SHEIK: u8 = 19;
pub const ICE_CLIMBERS: u8 = 14;

/// The internal ids of the Ice Climbers: Popo leads, Nana follows. Nana has
/// no external id of her own.
pub const INTERNAL_POPO: u8 = CHARACTER_TABLE[ICE_CLIMBERS as usize].internal;
pub const INTERNAL_NANA: u8 = 0x0B;

/// A row of the character table.
struct Character {
    name: &'static str,
    /// libmelee's internal id.
    internal: u8,
}

/// Every character, by external id.
#[rustfmt::skip]
const CHARACTER_TABLE: [Character; CHARACTERS as usize] = [
    Character { name: "Captain Falcon",     internal: 0x02 }, // 0
    Character { name: "Donkey Kong",        internal: 0x03 }, // 1
    Character { name: "Fox",                internal: 0x01 }, // 2
    Character { name: "Mr. Game & Watch",   internal: 0x18 }, // 3
    Character { name: "Kirby",              internal: 0x04 }, // 4
    Character { name: "Bowser",             internal: 0x05 }, // 5
    Character { name: "Link",               internal: 0x06 }, // 6
    Character { name: "Luigi",              internal: 0x11 }, // 7
    Character { name: "Mario",              internal: 0x00 }, // 8
    Character { name: "Marth",              internal: 0x12 }, // 9
    Character { name: "Mewtwo",             internal: 0x10 }, // 10
    Character { name: "Ness",               internal: 0x08 }, // 11
    Character { name: "Peach",              internal: 0x09 }, // 12
    Character { name: "Pikachu",            internal: 0x0C }, // 13
    Character { name: "Ice Climbers",       internal: 0x0A }, // 14
    Character { name: "Jigglypuff",         internal: 0x0F }, // 15
    Character { name: "Samus",              internal: 0x0D }, // 16
    Character { name: "Yoshi",              internal: 0x0E }, // 17
    Character { name: "Zelda",              internal: 0x13 }, // 18
    Character { name: "Sheik",              internal: 0x07 }, // 19
    Character { name: "Falco",              internal: 0x16 }, // 20
    Character { name: "Young Link",         internal: 0x14 }, // 21
    Character { name: "Dr. Mario",          internal: 0x15 }, // 22
    Character { name: "Roy",                internal: 0x1A }, // 23
    Character { name: "Pichu",              internal: 0x17 }, // 24
    Character { name: "Ganondorf",          internal: 0x19 }, // 25
    Character { name: "Master Hand",        internal: 0x1B }, // 26
    Character { name: "Wireframe (male)",   internal: 0x1D }, // 27
    Character { name: "Wireframe (female)", internal: 0x1E }, // 28
    Character { name: "Giga Bowser",        internal: 0x1F }, // 29
    Character { name: "Crazy Hand",         internal: 0x1C }, // 30
    Character { name: "Sandbag",            internal: 0x20 }, // 31
    Character { name: "Popo",               internal: 0x0A }, // 32
];

/// Nicknames players type, with the name each stands for.
const NICKNAMES: [(&str, &str); 12] = [
    ("falcon", "captain falcon"),
    ("cf", "captain falcon"),
    ("dk", "donkey kong"),
    ("gnw", "mr. game & watch"),
    ("game & watch", "mr. game & watch"),
    ("ics", "ice climbers"),
    ("icies", "ice climbers"),
    ("puff", "jigglypuff"),
    ("jiggs", "jigglypuff"),
    ("doc", "dr. mario"),
    ("ganon", "ganondorf"),
    ("yl", "young link"),
];

/// The name of an external character id; `None` past 32.
pub fn character_name(external: u8) -> Option<&'static str> {
    CHARACTER_TABLE.get(external as usize).map(|c| c.name)
}

/// The internal id of an external character id; `None` past 32.
pub fn internal_character(external: u8) -> Option<u8> {
    CHARACTER_TABLE.get(external as usize).map(|c| c.internal)
}

/// The external id of an internal character id: Popo and Nana are both Ice
/// Climbers; `None` past 32.
pub fn external_character(internal: u8) -> Option<u8> {
    if internal == INTERNAL_NANA {
        return Some(ICE_CLIMBERS);
    }
    CHARACTER_TABLE
        .iter()
        .position(|c| c.internal == internal)
        .map(|i| i as u8)
}

/// The external id of a character on the select screen, from its name or a
/// nickname (`falcon`, `dk`, `gnw`, `ics`, `puff`, `doc`, `ganon`, ...), in
/// any case.
pub fn character_by_name(name: &str) -> Option<u8> {
    let name = name.to_lowercase();
    let name = match NICKNAMES.iter().find(|(nickname, _)| *nickname == name) {
        Some((_, full)) => full,
        None => name.as_str(),
    };
    CHARACTER_TABLE[..PLAYABLE]
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case(name))
        .map(|i| i as u8)
}

/// The character whose place in the roster `external` holds: Sheik's is
/// Zelda's, as a transformation is not a change of character.
pub fn roster_character(external: u8) -> u8 {
    if external == SHEIK {
        ZELDA
    } else {
        external
    }
}

/// The stages of the competitive ruleset; Fountain of Dreams and Yoshi's
/// Story have moving parts.
pub const FOUNTAIN_OF_DREAMS: u16 = 2;
pub const POKEMON_STADIUM: u16 = 3;
pub const YOSHIS_STORY: u16 = 8;
pub const DREAM_LAND: u16 = 28;
pub const BATTLEFIELD: u16 = 31;
pub const FINAL_DESTINATION: u16 = 32;

/// The competitive ruleset's six stages.
pub const LEGAL_STAGES: [u16; 6] = [
    FOUNTAIN_OF_DREAMS,
    POKEMON_STADIUM,
    YOSHIS_STORY,
    DREAM_LAND,
    BATTLEFIELD,
    FINAL_DESTINATION,
];

/// libmelee's internal ids of the two stages with moving parts slippi-ai
/// reads: Randall on Yoshi's Story, the side platforms on Fountain of Dreams.
pub const INTERNAL_YOSHIS_STORY: u8 = 0x06;
pub const INTERNAL_FOUNTAIN_OF_DREAMS: u8 = 0x08;

/// The name of an external stage id; `None` for an id that names no stage.
pub fn stage_name(external: u16) -> Option<&'static str> {
    Some(match external {
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
        _ => return None,
    })
}

/// libmelee's `to_internal_stage`: the six tournament stages by their
/// external ids; every other stage is `NO_STAGE` (0).
pub fn internal_stage(external: u16) -> u8 {
    match external {
        FOUNTAIN_OF_DREAMS => INTERNAL_FOUNTAIN_OF_DREAMS,
        POKEMON_STADIUM => 0x12,
        YOSHIS_STORY => INTERNAL_YOSHIS_STORY,
        DREAM_LAND => 0x1A,
        BATTLEFIELD => 0x18,
        FINAL_DESTINATION => 0x19,
        _ => 0,
    }
}

/// The external id of a libmelee internal stage id: the inverse of
/// [`internal_stage`] for the six tournament stages; `None` for any other.
pub fn external_stage(internal: u8) -> Option<u16> {
    LEGAL_STAGES
        .into_iter()
        .find(|&external| internal_stage(external) == internal)
}

/// libmelee's names for the characters a player picks (`melee.Character`),
/// with their internal ids: the names UMI's `new_games` and a bot's
/// `hello` carry. Ice Climbers are `POPO`.
#[rustfmt::skip]
const LIBMELEE_NAMES: [(&str, u8); 26] = [
    ("MARIO", 0x00), ("FOX", 0x01), ("CPTFALCON", 0x02), ("DK", 0x03),
    ("KIRBY", 0x04), ("BOWSER", 0x05), ("LINK", 0x06), ("SHEIK", 0x07),
    ("NESS", 0x08), ("PEACH", 0x09), ("POPO", 0x0A), ("PIKACHU", 0x0C),
    ("SAMUS", 0x0D), ("YOSHI", 0x0E), ("JIGGLYPUFF", 0x0F), ("MEWTWO", 0x10),
    ("LUIGI", 0x11), ("MARTH", 0x12), ("ZELDA", 0x13), ("YLINK", 0x14),
    ("DOC", 0x15), ("FALCO", 0x16), ("PICHU", 0x17), ("GAMEANDWATCH", 0x18),
    ("GANONDORF", 0x19), ("ROY", 0x1A),
];

/// The number of characters libmelee names as playable.
pub const LIBMELEE_CHARACTERS: usize = LIBMELEE_NAMES.len();

/// The internal id of a libmelee character name (`"FOX"`, `"CPTFALCON"`).
pub fn internal_by_libmelee_name(name: &str) -> Option<u8> {
    LIBMELEE_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, internal)| internal)
}

/// libmelee's name of an internal character id, if a player can pick it.
pub fn libmelee_name(internal: u8) -> Option<&'static str> {
    LIBMELEE_NAMES
        .iter()
        .find(|&&(_, i)| i == internal)
        .map(|&(name, _)| name)
}

/// Tech action states, which slippi-ai's observation filter masks.
pub const NEUTRAL_TECH: u16 = 0xC7;
pub const FORWARD_TECH: u16 = 0xC8;
pub const BACKWARD_TECH: u16 = 0xC9;

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of_internal(internal: u8) -> &'static str {
        character_name(external_character(internal).unwrap()).unwrap()
    }

    #[test]
    fn internal_ids_map_to_the_same_character() {
        // Spot checks against Melee's two id tables.
        assert_eq!(name_of_internal(1), "Fox");
        assert_eq!(name_of_internal(22), "Falco");
        assert_eq!(name_of_internal(7), "Sheik");
        assert_eq!(name_of_internal(INTERNAL_POPO), "Ice Climbers");
        assert_eq!(name_of_internal(INTERNAL_NANA), "Ice Climbers");
        assert_eq!(name_of_internal(24), "Mr. Game & Watch");
        assert_eq!(name_of_internal(32), "Sandbag");
        assert_eq!(external_character(33), None);
        assert_eq!(character_name(CHARACTERS), None);
    }

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
        let mut seen: Vec<u8> = CHARACTER_TABLE.iter().map(|c| c.internal).collect();
        seen.sort();
        seen.dedup();
        // Popo appears twice (Ice Climbers and Popo); Nana never does.
        assert_eq!(seen.len(), 32);
        assert!(!seen.contains(&INTERNAL_NANA));
        assert_eq!(*seen.last().unwrap(), 0x20);
        // Each internal id leads back to the external id it came from, the
        // first one for Popo.
        for external in 0..CHARACTERS {
            let back = external_character(internal_character(external).unwrap());
            let expected = if external == 32 {
                ICE_CLIMBERS
            } else {
                external
            };
            assert_eq!(back, Some(expected), "external {external}");
        }
    }

    #[test]
    fn characters_by_name_and_nickname_in_any_case() {
        assert_eq!(character_by_name("Captain Falcon"), Some(0));
        assert_eq!(character_by_name("FALCO"), Some(20));
        assert_eq!(character_by_name("mr. game & watch"), Some(3));
        assert_eq!(character_by_name("Ganondorf"), Some(25));
        assert_eq!(character_by_name("puff"), Some(15));
        assert_eq!(character_by_name("ICS"), Some(ICE_CLIMBERS));
        assert_eq!(character_by_name("doc"), Some(22));
        // Only the select screen's characters.
        assert_eq!(character_by_name("Sandbag"), None);
        assert_eq!(character_by_name("popo"), None);
        assert_eq!(character_by_name("nobody"), None);
    }

    #[test]
    fn stages_go_both_ways() {
        for stage in LEGAL_STAGES {
            assert_eq!(external_stage(internal_stage(stage)), Some(stage));
        }
        assert_eq!(external_stage(0), None);
        assert_eq!(external_stage(0x30), None);
    }

    #[test]
    fn libmelee_names_are_the_playable_characters() {
        assert_eq!(internal_by_libmelee_name("CPTFALCON"), Some(0x02));
        assert_eq!(internal_by_libmelee_name("Fox"), None);
        assert_eq!(libmelee_name(0x0A), Some("POPO"));
        assert_eq!(libmelee_name(INTERNAL_NANA), None);
        // Every name leads to a select-screen character and back.
        for (name, internal) in LIBMELEE_NAMES {
            let external = external_character(internal).unwrap();
            assert!(external < PLAYABLE as u8, "{name}");
            assert_eq!(libmelee_name(internal), Some(name));
        }
    }

    #[test]
    fn sheik_holds_zeldas_place() {
        assert_eq!(roster_character(SHEIK), ZELDA);
        assert_eq!(roster_character(ZELDA), ZELDA);
        assert_eq!(roster_character(20), 20);
    }

    #[test]
    fn legal_stages_have_names_and_internal_ids() {
        for stage in LEGAL_STAGES {
            assert!(stage_name(stage).is_some(), "stage {stage}");
            assert_ne!(internal_stage(stage), 0, "stage {stage}");
        }
        assert_eq!(stage_name(21), None);
        assert_eq!(stage_name(STAGES), None);
    }
}
