//! Client authentication, in one of three modes per listener:
//! - passthrough: the upstream server runs its own exchange (SCRAM-SHA-256,
//!   md5, cleartext, trust) and pgward relays it;
//! - scram: pgward verifies SCRAM-SHA-256 against verifiers in a users file;
//! - jwt: the password is a bearer token pgward validates against a JWKS.
//!
//! In the last two pgward logs in to the upstream itself with a service
//! credential (`client_login`).

pub mod client_login;
pub mod jwt;
pub mod local;
pub mod passthrough;
pub mod scram;
pub mod users;
