//! The SCRAM-SHA-256 server exchange and the stored-verifier parser.
//!
//! Properties: arbitrary client messages never panic and never
//! authenticate; an honest client (rust-postgres' implementation) with any
//! password authenticates and accepts the server's signature; any change to
//! its final message fails; a mock exchange (unknown user) never
//! authenticates; a verifier that parses prints back to one that parses to
//! the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgward::auth::scram::{MockSecret, ScramServer, ScramVerifier, SCRAM_SHA_256};
use pgward_fuzz::Src;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

#[derive(Debug)]
enum Input {
    Honest {
        password: String,
        iterations: u8,
        mock: bool,
        /// Position and new value of one byte changed in the final message.
        tamper: Option<(u16, u8)>,
    },
    Raw {
        mechanism: String,
        first: Vec<u8>,
        last: Vec<u8>,
    },
    Verifier(String),
}

/// Format: a selector; an honest exchange takes iterations, flags (1:
/// mock, 2: tamper with position and byte) and the password; a raw one the
/// mechanism and client-first as NUL-terminated fields and client-final;
/// a verifier its text.
fn input(data: &[u8]) -> Input {
    let mut s = Src::new(data);
    match s.u8() % 3 {
        0 => {
            let iterations = s.u8();
            let flags = s.u8();
            let tamper = (flags & 2 != 0).then(|| (s.u16(), s.u8()));
            Input::Honest {
                password: String::from_utf8_lossy(s.rest()).into_owned(),
                iterations,
                mock: flags & 1 != 0,
                tamper,
            }
        }
        1 => Input::Raw {
            mechanism: s.text(),
            first: s.field().to_vec(),
            last: s.rest().to_vec(),
        },
        _ => Input::Verifier(String::from_utf8_lossy(s.rest()).into_owned()),
    }
}

fuzz_target!(|data: &[u8]| {
    match input(data) {
        Input::Honest {
            password,
            iterations,
            mock,
            tamper,
        } => {
            let iterations = u32::from(iterations % 4) + 1;
            let mut server = if mock {
                ScramServer::mock("nobody", &MockSecret::from_bytes([7; 32], iterations))
            } else {
                match ScramVerifier::generate(&password, iterations) {
                    Ok(v) => ScramServer::new(v),
                    Err(e) => panic!("verifier for a string password: {e}"),
                }
            };
            let mut client = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
            let first = server
                .client_first(SCRAM_SHA_256, client.message())
                .expect("honest client-first refused");
            client.update(&first).expect("client refused server-first");
            let mut last = client.message().to_vec();
            let mut changed = false;
            if let Some((at, b)) = tamper {
                let i = usize::from(at) % last.len();
                changed = last[i] != b;
                last[i] = b;
            }
            let r = server.client_final(&last);
            if mock || changed {
                assert!(
                    r.is_err(),
                    "accepted a {} exchange",
                    if mock { "mock" } else { "tampered" }
                );
                assert!(!server.is_authenticated());
            } else {
                let v = r.expect("honest client-final refused");
                assert!(server.is_authenticated());
                client
                    .finish(&v)
                    .expect("client rejected the server signature");
            }
            // Nothing more is accepted after the exchange ended.
            assert!(server.client_final(&last).is_err());
        }
        Input::Raw {
            mechanism,
            first,
            last,
        } => {
            let v = ScramVerifier::generate("pw", 1).expect("verifier");
            let mut server = ScramServer::new(v);
            let _ = server.client_first(&mechanism, &first);
            let _ = server.client_final(&last);
            assert!(!server.is_authenticated(), "arbitrary bytes authenticated");
        }
        Input::Verifier(s) => {
            if let Ok(v) = ScramVerifier::parse(&s) {
                let printed = v.to_string();
                let again =
                    ScramVerifier::parse(&printed).expect("printed verifier does not parse");
                assert_eq!(again.to_string(), printed);
                assert_eq!(again.iterations(), v.iterations());
                assert_eq!(again.salt(), v.salt());
            }
        }
    }
});
