//! The shape key's scanner against PostgreSQL's.
//!
//! Property: wherever pgward's own scanner answers for a text (it declines
//! what it is not certain of), PostgreSQL's scanner accepts the text and
//! returns the same tokens — same boundaries, comments where it has
//! comments, constants of the same kind where it has constants — and the
//! literal-free audit text is the same from both. Equal tokens make equal
//! keys: two texts share a key from one scanner exactly when they do from
//! the other, so a cached analysis is reused for the same texts either way.
//! And the comments the stamp takes from those tokens are where the
//! stamp's own scan finds them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(why) = pgward::sql::lexkey::disagreement(sql) {
        panic!("{why}: {sql:?}");
    }
});
