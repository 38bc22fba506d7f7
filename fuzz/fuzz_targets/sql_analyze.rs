//! SQL analysis and lineage on arbitrary text, under both readings of
//! `standard_conforming_strings`, then the policy decision and the masking
//! evaluation on the result.
//!
//! Properties: analysis never panics (a panic would be turned into a
//! refusal in production, which hides it; here it aborts); it is
//! deterministic and the cache returns what a fresh analysis returns; each
//! statement's text range lies inside the text on character boundaries, in
//! order; text without a backslash reads the same under both settings;
//! every denial names a statement that exists, and a statement denied for
//! an effect does have that effect.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgward::mask::statement::Evaluation;
use pgward::policy::{decide, Decision, DecisionContext};
use pgward::sql::{analyze_with, AnalysisCache, ParseOptions};
use pgward_fuzz::env::env;
use std::sync::OnceLock;

fn cache() -> &'static AnalysisCache {
    static C: OnceLock<AnalysisCache> = OnceLock::new();
    C.get_or_init(|| AnalysisCache::new(64))
}

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let env = env();
    let mut results = Vec::new();
    for conforming in [true, false] {
        let options = ParseOptions {
            standard_conforming_strings: conforming,
        };
        let a = analyze_with(sql, options);
        assert_eq!(
            a,
            analyze_with(sql, options),
            "analysis is not deterministic"
        );
        assert_eq!(
            *cache().get_or_analyze_with(sql, options),
            a,
            "the cache disagrees with a fresh analysis"
        );
        if let Ok(an) = &a {
            let profiles = ["read_only", "analyst", "developer", "admin"]
                .iter()
                .filter_map(|p| env.policy.profile(p))
                .chain(env.guarded.profile("guarded"));
            let path = vec!["pg_catalog".to_string(), "public".to_string()];
            for profile in profiles {
                for sp in [None, Some(&path[..])] {
                    let ctx = DecisionContext {
                        search_path: sp,
                        create_path: sp,
                    };
                    if let Decision::Deny(d) | Decision::Observe(d) = decide(&profile, &a, ctx) {
                        let st = an
                            .statements
                            .get(d.statement)
                            .unwrap_or_else(|| panic!("denial names statement {}", d.statement));
                        // The statement itself, or the inner statement
                        // that carried what was refused.
                        let known = d.command == st.command_tag
                            || st.sources.iter().any(|src| src.command == d.command)
                            || st.dml_without_where_command == Some(d.command.as_str());
                        assert!(known, "denial names {} in {st:?}", d.command);
                        if d.rule == "allow" {
                            // An effect refused by the allow-list is one the
                            // statement has, carried by the command named.
                            if let Some(src) =
                                st.sources.iter().find(|src| src.command == d.command)
                            {
                                assert!(st.effects.contains(&src.effect));
                            }
                        }
                    }
                }
            }
            let analyst = &env.analyst;
            let e = Evaluation {
                snapshot: &env.snapshot,
                index: &env.index,
                masks: &analyst.masks,
                profile: "analyst",
                search_path: Some(&path),
                new_tables: &[],
                clear_names: None,
            };
            if let Err(d) = e.evaluate(an, &|_| None) {
                assert!(d.statement < an.statements.len(), "masking denial index");
            }
        }
        results.push(a);
    }
    if !sql.contains('\\') {
        assert_eq!(
            results[0], results[1],
            "backslash-free text read differently"
        );
    }
    let _ = pgward::sql::fingerprint(sql);
    let _ = pgward::sql::normalize(sql);
    let _ = pgward::sql::view_lineage(sql);
});
