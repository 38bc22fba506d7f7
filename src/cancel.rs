//! Cancel keys. pgward hands each client a key of its own and keeps the map to
//! the server's key, so a client never learns the server's secret and a
//! CancelRequest can only reach the session it was issued for.

use bytes::Bytes;
use dashmap::DashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

use crate::upstream::Upstream;
use crate::wire::startup::CancelKey;

struct Entry {
    secret: Bytes,
    server_key: CancelKey,
    upstream: Arc<Upstream>,
}

/// Where a valid CancelRequest must be sent.
pub struct CancelTarget {
    pub server_key: CancelKey,
    pub upstream: Arc<Upstream>,
}

#[derive(Default)]
pub struct CancelRegistry {
    entries: DashMap<i32, Entry>,
}

/// Removes the session's key when the session ends.
pub struct Registration {
    registry: Arc<CancelRegistry>,
    pid: i32,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.entries.remove(&self.pid);
    }
}

/// The operating system's random generator failed: no cancel key can be
/// issued (a predictable one would let others cancel this session's queries).
#[derive(Debug, thiserror::Error)]
#[error("cannot issue a cancel key: the operating system's random generator failed ({0})")]
pub struct CancelKeyError(getrandom::Error);

fn random_bytes(n: usize) -> Result<Bytes, CancelKeyError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(CancelKeyError)?;
    Ok(Bytes::from(b))
}

impl CancelRegistry {
    pub fn new() -> Arc<Self> {
        Arc::new(CancelRegistry::default())
    }

    /// Issues the client-facing key for a session whose server key is
    /// `server_key`. The secret has the server's length, so protocol 3.0
    /// clients get the 4 bytes they expect and 3.2 clients a longer one.
    pub fn register(
        self: &Arc<Self>,
        server_key: CancelKey,
        upstream: Arc<Upstream>,
    ) -> Result<(CancelKey, Registration), CancelKeyError> {
        let secret = random_bytes(server_key.secret.len().max(4))?;
        let mut entry = Some(Entry {
            secret: secret.clone(),
            server_key,
            upstream,
        });
        loop {
            let r = random_bytes(4)?;
            let pid = i32::from_be_bytes([r[0] & 0x7f, r[1], r[2], r[3]]);
            if pid == 0 {
                continue;
            }
            if let dashmap::Entry::Vacant(v) = self.entries.entry(pid) {
                if let Some(e) = entry.take() {
                    v.insert(e);
                }
                return Ok((
                    CancelKey { pid, secret },
                    Registration {
                        registry: Arc::clone(self),
                        pid,
                    },
                ));
            }
        }
    }

    /// Resolves a client's CancelRequest; the secret is compared in constant time.
    pub fn lookup(&self, key: &CancelKey) -> Option<CancelTarget> {
        let e = self.entries.get(&key.pid)?;
        if e.secret.len() == key.secret.len()
            && bool::from(e.secret.as_ref().ct_eq(key.secret.as_ref()))
        {
            Some(CancelTarget {
                server_key: e.server_key.clone(),
                upstream: Arc::clone(&e.upstream),
            })
        } else {
            None
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn keys_map_back_only_with_the_right_secret() {
        let reg = CancelRegistry::new();
        let up = Upstream::from_config(&Config::default().upstream).expect("upstream");
        let server = CancelKey {
            pid: 1234,
            secret: Bytes::from_static(&[1, 2, 3, 4]),
        };
        let (mine, guard) = reg.register(server.clone(), up).expect("random generator");
        assert_eq!(mine.secret.len(), 4);
        assert_ne!(mine.secret, server.secret);
        let found = reg.lookup(&mine).expect("found");
        assert_eq!(found.server_key, server);
        let mut wrong = mine.clone();
        wrong.secret = Bytes::from_static(&[0, 0, 0, 0]);
        assert!(reg.lookup(&wrong).is_none());
        let mut short = mine.clone();
        short.secret = mine.secret.slice(..2);
        assert!(reg.lookup(&short).is_none());
        drop(guard);
        assert!(reg.lookup(&mine).is_none());
        assert!(reg.is_empty());
    }
}
