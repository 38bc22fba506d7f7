//! The admin listener against a real server: usage metrics per branch,
//! profile and tool (and user when asked), the tool cap, and the health
//! endpoints' codes as the upstream comes and goes.

mod common;

use common::polling::wait_until;
use common::*;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PW: &str = "admin-pw";

const POLICY: &str = r#"
version: 1
default_profile: analyst
profiles:
  analyst:
    inherits: analyst
    deny:
      - name: hr-is-private
        objects: ["hr.*"]
"#;

fn cluster() -> PgCluster {
    let pg = PgCluster::start();
    pg.admin_sql(
        APP_DB,
        &format!(
            "create role ann login superuser password '{PW}';
             create role bob login superuser password '{PW}';
             create schema hr; create table hr.salaries(id int);
             create table t(id int); insert into t select generate_series(1, 10);"
        ),
    );
    pg
}

fn start(pg: &PgCluster, metrics: &str) -> (Pgward, SocketAddr) {
    let builder = Pgward::builder().upstream_port(pg.port());
    let policy = builder.write_file("policy.yaml", POLICY);
    let pgward = builder
        .config_yaml(&format!(
            "policy: {}\nadmin:\n  listen: 127.0.0.1:0\n  upstream_check_interval: 100ms\n{metrics}",
            policy.display()
        ))
        .start();
    // The line follows the listening line; the harness reads it a moment
    // later (bounded polling, as for any output).
    let deadline = std::time::Instant::now() + common::polling::POLL_TIMEOUT;
    let line = loop {
        let out = pgward.stdout_contents();
        if let Some(l) = out
            .lines()
            .find_map(|l| l.strip_prefix("pgward admin listening on "))
        {
            break l.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no admin line in {out:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let addr = line.trim().parse().expect("admin address");
    (pgward, addr)
}

/// Status code and body of `GET path`.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect admin");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

/// The value of the sample `name{labels}` in a Prometheus text page.
fn sample(page: &str, name: &str, labels: &str) -> Option<f64> {
    let key = format!("{name}{{{labels}}} ");
    page.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
}

async fn client(p: &Pgward, user: &str, app: &str) -> tokio_postgres::Client {
    connect_with(&format!(
        "host=127.0.0.1 port={} user={user} password={PW} dbname={APP_DB} application_name='{app}'",
        p.port()
    ))
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_statements_per_tool_with_their_labels() {
    let pg = cluster();
    let (pgward, admin) = start(&pg, "");
    let a = client(&pgward, "ann", "agent-a").await;
    let b = client(&pgward, "ann", "Agent B/1.0").await;
    for _ in 0..2 {
        a.simple_query("select id from t").await.expect("select");
    }
    a.simple_query("select * from hr.salaries")
        .await
        .expect_err("denied");
    b.simple_query("insert into t values (11)")
        .await
        .expect_err("analyst cannot write");
    b.simple_query("select nope from t")
        .await
        .expect_err("undefined column");
    let stmt = b
        .prepare("select id from t where id < $1")
        .await
        .expect("prepare");
    b.query(&stmt, &[&4i32]).await.expect("execute");

    let (code, page) = get(admin, "/metrics").await;
    assert_eq!(code, 200);
    let l = |tool: &str| format!("branch=\"default\",profile=\"analyst\",tool=\"{tool}\"");
    assert_eq!(
        sample(&page, "pgward_statements_total", &l("agent-a")),
        Some(3.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "pgward_statements_denied_total", &l("agent-a")),
        Some(1.0)
    );
    assert_eq!(
        sample(&page, "pgward_statement_errors_total", &l("agent-a")),
        Some(0.0)
    );
    assert_eq!(
        sample(&page, "pgward_rows_total", &l("agent-a")),
        Some(20.0)
    );
    let tool_b = l("agent_b_1.0");
    assert_eq!(
        sample(&page, "pgward_statements_total", &tool_b),
        Some(3.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "pgward_statements_denied_total", &tool_b),
        Some(1.0)
    );
    assert_eq!(
        sample(&page, "pgward_statement_errors_total", &tool_b),
        Some(1.0)
    );
    assert_eq!(sample(&page, "pgward_rows_total", &tool_b), Some(3.0));
    assert!(sample(&page, "pgward_server_busy_seconds_total", &tool_b).is_some_and(|v| v > 0.0));
    assert!(sample(&page, "pgward_response_bytes_total", &tool_b).is_some_and(|v| v > 0.0));
    let sessions = "branch=\"default\",profile=\"analyst\"";
    assert_eq!(sample(&page, "pgward_sessions_open", sessions), Some(2.0));
    assert_eq!(sample(&page, "pgward_sessions_total", sessions), Some(2.0));
    assert!(!page.contains("user=\""), "no user label unless asked");

    drop(a);
    drop(b);
    wait_until("sessions closed in the metrics", || {
        let page = std::thread::scope(|s| {
            s.spawn(|| {
                tokio::runtime::Runtime::new()
                    .expect("runtime")
                    .block_on(get(admin, "/metrics"))
                    .1
            })
            .join()
            .unwrap_or_default()
        });
        sample(&page, "pgward_sessions_open", sessions) == Some(0.0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_labels_only_when_asked_and_tools_are_capped() {
    let pg = cluster();
    let (pgward, admin) = start(&pg, "metrics:\n  per_user: true\n  max_tools: 2\n");
    for (user, app) in [
        ("ann", "one"),
        ("bob", "two"),
        ("ann", "three"),
        ("bob", "four"),
    ] {
        let c = client(&pgward, user, app).await;
        c.simple_query("select 1").await.expect("select");
    }
    let (_, page) = get(admin, "/metrics").await;
    let l = |tool: &str, user: &str| {
        format!("branch=\"default\",profile=\"analyst\",tool=\"{tool}\",user=\"{user}\"")
    };
    assert_eq!(
        sample(&page, "pgward_statements_total", &l("one", "ann")),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "pgward_statements_total", &l("two", "bob")),
        Some(1.0)
    );
    assert_eq!(
        sample(&page, "pgward_statements_total", &l("other", "ann")),
        Some(1.0)
    );
    assert_eq!(
        sample(&page, "pgward_statements_total", &l("other", "bob")),
        Some(1.0)
    );
    assert!(!page.contains("tool=\"three\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_follow_the_upstream() {
    let mut pg = cluster();
    let (_pgward, admin) = start(&pg, "");
    assert_eq!(get(admin, "/healthz").await.0, 200);
    assert_eq!(get(admin, "/nope").await.0, 404);
    wait_until("ready", || blocking_get(admin, "/readyz") == 200).await;
    pg.stop_fast();
    wait_until("not ready without the upstream", || {
        blocking_get(admin, "/readyz") == 503
    })
    .await;
    assert_eq!(get(admin, "/healthz").await.0, 200, "alive all the same");
    pg.restart();
    wait_until("ready again", || blocking_get(admin, "/readyz") == 200).await;
}

/// `get` from a synchronous polling closure.
fn blocking_get(addr: SocketAddr, path: &str) -> u16 {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(get(addr, path))
                .0
        })
        .join()
        .unwrap_or(0)
    })
}

/// The value of `metric` for `tool` in an export, if present.
fn pushed(
    req: &opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
    metric: &str,
    tool: &str,
) -> Option<i64> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point::Value as N};
    let attr = |kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue], k: &str| {
        kvs.iter().find(|kv| kv.key == k).and_then(|kv| {
            match kv.value.as_ref()?.value.as_ref()? {
                V::StringValue(s) => Some(s.clone()),
                _ => None,
            }
        })
    };
    req.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == metric)
        .filter_map(|m| match &m.data {
            Some(Data::Sum(s)) => Some(&s.data_points),
            _ => None,
        })
        .flatten()
        .filter(|p| {
            attr(&p.attributes, "pgward.tool").as_deref() == Some(tool)
                && attr(&p.attributes, "pgward.branch").as_deref() == Some("default")
                && attr(&p.attributes, "pgward.profile").as_deref() == Some("analyst")
        })
        .find_map(|p| match p.value {
            Some(N::AsInt(v)) => Some(v),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_metrics_are_pushed_as_otlp_metrics_over_grpc_and_http() {
    let pg = cluster();
    let receiver = common::otlp_receiver::OtlpReceiver::start().await;
    for (protocol, endpoint) in [
        ("grpc", receiver.grpc_endpoint()),
        ("http", receiver.http_endpoint()),
    ] {
        let builder = Pgward::builder().upstream_port(pg.port());
        let policy = builder.write_file("policy.yaml", POLICY);
        let pgward = builder
            .config_yaml(&format!(
                "policy: {}\nmetrics:\n  otlp:\n    endpoint: \"{endpoint}\"\n    protocol: {protocol}\n    interval: 100ms\n",
                policy.display()
            ))
            .start();
        let tool = format!("otlp-{protocol}");
        let c = client(&pgward, "ann", &tool).await;
        for _ in 0..3 {
            c.simple_query("select id from t").await.expect("select");
        }
        c.simple_query("select * from hr.salaries")
            .await
            .expect_err("denied");
        let want = |exports: &[(common::otlp_receiver::Via, _)]| {
            exports.iter().any(|(_, r)| {
                pushed(r, "pgward.statements", &tool) == Some(4)
                    && pushed(r, "pgward.statements.denied", &tool) == Some(1)
                    && pushed(r, "pgward.rows", &tool) == Some(30)
            })
        };
        assert!(
            receiver
                .wait_for_metrics(want, std::time::Duration::from_secs(30))
                .await,
            "{protocol}: no export with the expected counters"
        );
    }
}
