//! Bounded polling on server state that has no event to wait for (a backend
//! going away, a log line appearing). The bound is a failure limit, not a
//! synchronisation delay.

use std::time::{Duration, Instant};

use super::cluster::PgCluster;

/// How long polled conditions may take before the test fails.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// Polls (50 ms apart) until `f` holds; fails the test after [`POLL_TIMEOUT`].
pub async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + POLL_TIMEOUT;
    loop {
        if f() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still not true after {POLL_TIMEOUT:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Server sessions whose application_name is `app`.
pub fn server_sessions(pg: &PgCluster, app: &str) -> u32 {
    pg.admin_sql(
        "postgres",
        &format!("select count(*) from pg_stat_activity where application_name = '{app}'"),
    )
    .parse()
    .expect("count")
}

/// Waits until the server has no session left for application `app`.
pub async fn assert_no_server_session(pg: &PgCluster, app: &str) {
    wait_until(&format!("no server session for application {app}"), || {
        server_sessions(pg, app) == 0
    })
    .await;
}
