//! A read-only session stays read-only on the server whatever the startup
//! packet says: a client's own `default_transaction_read_only=off` startup
//! parameter (which PostgreSQL applies after `options`) is dropped.

mod common;

use common::raw::{query, RawConn};
use common::*;

const POLICY: &str = "version: 1\ndefault_profile: read_only\n";

fn show_read_only(port: u16, extra: &[(&str, &str)]) -> String {
    let mut params = vec![("user", TRUST_USER), ("database", APP_DB)];
    params.extend_from_slice(extra);
    let mut c = RawConn::connect(port);
    let msgs = c.startup(&params, None);
    assert_eq!(msgs.last().map(|m| m.0), Some(b'Z'), "startup: {msgs:?}");
    c.send(&query("SHOW default_transaction_read_only"));
    let reply = c.read_until(b'Z');
    let row = reply
        .iter()
        .find(|m| m.0 == b'D')
        .unwrap_or_else(|| panic!("no row: {reply:?}"));
    // DataRow: field count (2), length (4), value.
    String::from_utf8_lossy(&row.1[6..]).into_owned()
}

#[test]
fn a_startup_parameter_cannot_turn_read_only_off() {
    let pg = PgCluster::start();
    let b = Pgward::builder().upstream_port(pg.port());
    let policy = b.write_file("policy.yaml", POLICY);
    let pgward = b.arg("--policy").arg(policy.display().to_string()).start();
    assert_eq!(show_read_only(pgward.port(), &[]), "on");
    assert_eq!(
        show_read_only(pgward.port(), &[("default_transaction_read_only", "off")]),
        "on"
    );
    assert_eq!(
        show_read_only(pgward.port(), &[("DEFAULT_TRANSACTION_READ_ONLY", "off")]),
        "on"
    );
}
