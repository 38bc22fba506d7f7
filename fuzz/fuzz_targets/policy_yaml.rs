//! The policy file loader on arbitrary text.
//!
//! Properties: loading never panics; a refused file gets at least one
//! problem, each located at a line and column inside the text; an accepted
//! policy resolves any identity to one of its profiles and decides
//! statements under every profile without panicking, and loading the same
//! text twice gives the same decisions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgward::policy::{decide, DecisionContext, Identity, Policy};
use pgward::sql::analyze;

const STATEMENTS: [&str; 6] = [
    "SELECT * FROM customers",
    "DELETE FROM t",
    "UPDATE hr.salaries SET amount = 0 WHERE id = 1",
    "CREATE TABLE x (a int)",
    "SELECT pg_read_file('/etc/passwd')",
    "SET ROLE postgres",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_yaml(text, "fuzz.yaml") {
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
        Ok(p) => {
            let again = Policy::from_yaml(text, "fuzz.yaml").expect("loads once, loads twice");
            for user in ["alice", "postgres", "analyst-1", "ci-x", "agent-7", ""] {
                let id = Identity::for_user(user);
                let r = p.resolve(&id);
                let r2 = again.resolve(&id);
                assert_eq!(r.profile.name, r2.profile.name);
                assert!(
                    p.profile(&r.profile.name).is_some(),
                    "resolved to a profile it does not have"
                );
                for sql in STATEMENTS {
                    let a = analyze(sql);
                    let d = decide(&r.profile, &a, DecisionContext::default());
                    let d2 = decide(&r2.profile, &a, DecisionContext::default());
                    assert_eq!(d, d2);
                }
            }
        }
    }
});
