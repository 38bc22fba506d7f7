//! The users file loader (pgward-held SCRAM logins) on arbitrary text.
//!
//! Properties: loading never panics; a refused file gets at least one
//! problem located inside the text; every user of an accepted file can be
//! looked up by its name and has a verifier that prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgward::auth::scram::ScramVerifier;
use pgward::auth::users::UsersFile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match UsersFile::from_yaml(text, "users.yaml") {
        Err(e) => {
            assert!(!e.issues.is_empty(), "an error without a problem");
            let lines = pgward_fuzz::yaml_lines(text);
            for i in &e.issues {
                assert!(
                    i.line >= 1 && i.line <= lines.max(1),
                    "line {} of {lines}",
                    i.line
                );
                assert!(i.column >= 1, "column {}", i.column);
            }
        }
        Ok(users) => {
            for name in ["alice", "bob", "", "postgres"] {
                if let Some(u) = users.lookup(name) {
                    assert_eq!(u.name, name);
                    let printed = u.verifier.to_string();
                    let again = ScramVerifier::parse(&printed).expect("printed verifier parses");
                    assert_eq!(again.to_string(), printed);
                }
            }
        }
    }
});
