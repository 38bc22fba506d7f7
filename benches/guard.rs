//! Cost of the statement guard per request: analysing SQL with PostgreSQL's
//! own parser (a cache miss), finding it in the analysis cache (a hit), and
//! the policy decision that follows, and stamping the attribution comment.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use pgward::policy::{decide, DecisionContext, Policy};
use pgward::session::stamping::{Attribution, DEFAULT_BRANCH};
use pgward::sql::{analyze, AnalysisCache};

const STATEMENTS: &[(&str, &str)] = &[
    ("pgbench_select", "SELECT abalance FROM pgbench_accounts WHERE aid = $1"),
    (
        "pgbench_update",
        "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
    ),
    (
        "join_cte",
        "WITH recent AS (SELECT customer_id, sum(amount) AS total FROM shop.orders \
         WHERE placed_at > now() - interval '30 days' GROUP BY customer_id) \
         SELECT c.full_name, c.email, r.total FROM shop.customers c JOIN recent r ON r.customer_id = c.id \
         ORDER BY r.total DESC LIMIT 20",
    ),
];

const POLICY: &str = r#"
version: 1
default_profile: read_only
profiles:
  read_only:
    inherits: read_only
    deny:
      - name: hr
        objects: ["hr.*"]
      - functions: ["dblink*"]
"#;

fn bench(c: &mut Criterion) {
    let policy = Policy::from_yaml(POLICY, "bench.yaml").expect("policy");
    let profile = policy.profile("read_only").expect("profile");
    let mut group = c.benchmark_group("guard");
    for (name, sql) in STATEMENTS {
        group.bench_with_input(BenchmarkId::new("analyze_miss", name), sql, |b, sql| {
            b.iter(|| analyze(sql).map(|a| a.statements.len()))
        });
        let cache = AnalysisCache::new(1000);
        let _ = cache.get_or_analyze(sql);
        group.bench_with_input(BenchmarkId::new("cache_hit", name), sql, |b, sql| {
            b.iter(|| cache.get_or_analyze(sql))
        });
        // What a simple Query pays for attribution: one merged or appended
        // comment, one new String (a Parse pays it once per prepared name).
        let attribution = Attribution::new(
            "alice@example.com",
            "read_only",
            DEFAULT_BRANCH,
            "00112233445566ff",
            "pgbench",
        );
        group.bench_with_input(BenchmarkId::new("stamp", name), sql, |b, sql| {
            b.iter(|| {
                pgward::attribution::scanned(sql)
                    .and_then(|s| attribution.apply(&s, None))
                    .map(|s| s.len())
            })
        });
        group.bench_with_input(
            BenchmarkId::new("cache_hit_and_decide", name),
            sql,
            |b, sql| {
                b.iter(|| {
                    let a = cache.get_or_analyze(sql);
                    decide(&profile, &a, DecisionContext::default())
                })
            },
        );
    }
    // A simple-protocol client sends every execution with its own literal
    // values: the text misses, the scanner's shape key hits.
    for (name, template) in [
        (
            "pgbench_select",
            "SELECT abalance FROM pgbench_accounts WHERE aid = {};",
        ),
        (
            "pgbench_update",
            "UPDATE pgbench_accounts SET abalance = abalance + -{} WHERE aid = {};",
        ),
    ] {
        let texts: Vec<String> = (0..1024u32)
            .map(|i| template.replace("{}", &(i * 7919 + 1).to_string()))
            .collect();
        let cache = AnalysisCache::new(1000);
        let _ = cache.get_or_analyze(&texts[0]);
        let mut i = 0usize;
        group.bench_function(BenchmarkId::new("shape_hit_literals_vary", name), |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                cache.get_or_analyze(&texts[i])
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
