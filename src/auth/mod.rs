//! Client authentication. Today: passthrough, where the upstream server runs
//! its own exchange (SCRAM-SHA-256, md5, cleartext, trust) and pgward relays
//! it, so the server is the one that verifies the client.

pub mod passthrough;
