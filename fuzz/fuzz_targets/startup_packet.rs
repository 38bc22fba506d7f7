//! Startup-phase packets and the `options` parameter.
//!
//! Properties:
//! * the bounded reader consumes exactly the packet's length word worth of
//!   bytes and agrees with `parse_packet` on them;
//! * a StartupMessage that parses re-encodes to exactly the bytes received;
//! * after pgward adds its settings (and, for pgward-held logins, replaces
//!   the user), the packet still parses, every other parameter is kept, and
//!   a model of how the server applies startup options (`pg_split_opts`,
//!   getopt, then the plain parameters in order) ends with pgward's value
//!   for every setting pgward added. A packet the server accepted before the
//!   rewrite is still accepted after it;
//! * the search_path pgward derives from the packet is either "unknown" or
//!   the one the server model ends with.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pgward::session::guard::startup_search_path;
use pgward::session::settings::Known;
use pgward::wire::startup::{
    build_startup, parse_packet, read_packet, ProtocolVersion, StartupPacket,
};
use pgward_fuzz::server_options::{server_settings, split_search_path};
use pgward_fuzz::Src;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

const KEYS: [&str; 6] = [
    "default_transaction_read_only",
    "search_path",
    "statement_timeout",
    "pgward.user",
    "DateStyle",
    "work_mem",
];

#[derive(Debug)]
struct Input {
    raw: Vec<u8>,
    /// When set, a StartupMessage is built from these parameters instead.
    params: Option<Vec<(String, String)>>,
    settings: Vec<(String, String)>,
    user: Option<String>,
}

/// Format: flags (1: build from parameters, 2: replace the user), the
/// number of settings and each as key choice + NUL-terminated value, the
/// new user, the parameters (count, then key kind + key/value fields),
/// and the raw packet.
fn input(data: &[u8]) -> Input {
    let mut s = Src::new(data);
    let flags = s.u8();
    let n = s.u8() % 4;
    let settings = (0..n)
        .map(|_| (s.pick(&KEYS).to_owned(), s.text()))
        .collect();
    let user = (flags & 2 != 0).then(|| s.text());
    let params = (flags & 1 != 0).then(|| {
        let n = s.u8() % 7;
        let mut p = vec![("user".to_owned(), s.text())];
        for _ in 0..n {
            let k = match s.u8() % 4 {
                0 => "options".to_owned(),
                1 => s.pick(&KEYS).to_owned(),
                2 => s.pick(&KEYS).to_ascii_uppercase(),
                _ => s.text(),
            };
            p.push((k, s.text()));
        }
        p
    });
    Input {
        raw: s.rest().to_vec(),
        params,
        settings,
        user,
    }
}

fn poll_once<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        // Reading from a slice never waits.
        Poll::Pending => panic!("read_packet waited on an in-memory reader"),
    }
}

fn clean(s: &str) -> String {
    s.replace('\0', "")
}

fuzz_target!(|data: &[u8]| {
    let input = input(data);
    let raw: Vec<u8> = match &input.params {
        Some(p) => {
            let p: Vec<(String, String)> = p
                .iter()
                .map(|(k, v)| (clean(k), clean(v)))
                .filter(|(k, _)| !k.is_empty())
                .collect();
            let b: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            build_startup(ProtocolVersion::V3_0, &b).to_vec()
        }
        None => input.raw.clone(),
    };

    // The bounded reader never reads past the packet.
    let mut reader: &[u8] = &raw;
    let read = poll_once(read_packet(&mut reader));
    let consumed = raw.len() - reader.len();
    if let Ok(p) = &read {
        let len = i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
        assert_eq!(consumed, len, "read_packet consumed a different length");
        match parse_packet(Bytes::copy_from_slice(&raw[..len])) {
            Ok(q) => assert_eq!(
                format!("{p:?}"),
                format!("{q:?}"),
                "reader and parser disagree"
            ),
            Err(e) => panic!("read_packet accepted what parse_packet refuses: {e}"),
        }
    } else {
        assert!(consumed <= raw.len());
    }

    let Ok(StartupPacket::Startup(m)) = parse_packet(Bytes::from(raw)) else {
        return;
    };
    let borrowed: Vec<(&str, &str)> = m
        .params()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        &build_startup(m.version, &borrowed),
        m.raw(),
        "a parsed startup packet re-encodes to other bytes"
    );

    // pgward's settings, as the policy would give them (no NUL: a policy
    // file cannot hold one, and the packet could not carry it).
    let settings: Vec<(String, String)> = input
        .settings
        .iter()
        .map(|(k, v)| (k.clone(), clean(v)))
        .collect();
    let user = input.user.as_deref().map(clean);
    let out = match m.rewrite(user.as_deref(), &settings) {
        Ok(out) => out,
        Err(e) => {
            // Only options ending in an empty argument (a lone backslash
            // after a space) are refused, and only with settings to add.
            let empty_last = m.params().iter().any(|(k, options)| {
                k == "options"
                    && options.ends_with('\\')
                    && !options.ends_with("\\\\")
                    && options[..options.len() - 1]
                        .chars()
                        .next_back()
                        .is_none_or(|c| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r'))
            });
            assert!(
                empty_last && !settings.is_empty(),
                "rewrite refused {:?}: {e}",
                m.params()
            );
            return;
        }
    };
    let Ok(StartupPacket::Startup(m2)) = parse_packet(out.clone()) else {
        panic!("rewritten startup packet does not parse: {out:?}");
    };
    // Every parameter survives, except the ones pgward's settings replace.
    for (k, v) in m.params() {
        if k == "options" || (k == "user" && user.is_some()) {
            continue;
        }
        if settings.iter().any(|(s, _)| s.eq_ignore_ascii_case(k)) {
            continue;
        }
        assert!(
            m2.params().iter().any(|(k2, v2)| k2 == k && v2 == v),
            "parameter {k:?} lost"
        );
    }
    if let Some(u) = &user {
        assert_eq!(m2.user(), Some(u.as_str()));
    }

    let before = server_settings(m.params());
    let after = server_settings(m2.params());
    if before.is_some() {
        assert!(
            after.is_some(),
            "the server would refuse the rewritten packet but not the client's: {:?} -> {:?}",
            m.params(),
            m2.params()
        );
    }
    if let Some(after) = &after {
        // The last value per name (names are case-insensitive) wins.
        let mut expect: Vec<(String, String)> = Vec::new();
        for (k, v) in &settings {
            let k = k.to_ascii_lowercase();
            expect.retain(|(e, _)| *e != k);
            expect.push((k, v.clone()));
        }
        for (k, v) in &expect {
            let got = after.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v);
            assert_eq!(
                got,
                Some(v),
                "setting {k} does not end with pgward's value in {:?}",
                m2.params()
            );
        }
    }

    // The search path pgward decides with is the server's, or unknown.
    let forced = settings
        .iter()
        .rev()
        .find(|(k, _)| k == "search_path")
        .map(|(_, v)| v.as_str());
    if let (Known::Value(list), Some(server)) = (startup_search_path(m.params(), forced), &after) {
        let value = server
            .iter()
            .rev()
            .find(|(n, _)| n == "search_path")
            .map(|(_, v)| v.as_str())
            .unwrap_or("\"$user\", public");
        if let Some(expected) = split_search_path(value) {
            assert_eq!(
                *list,
                expected,
                "search_path: pgward and the server disagree on {:?} (forced {forced:?})",
                m.params()
            );
        }
    }
});
