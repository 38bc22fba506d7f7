//! Prepared statements and portals by name, with the unnamed one apart:
//! the one table kind the result masker, the statement tracker and the
//! guard's portal follower each keep their facts in.
//!
//! Most drivers bind every execution to the unnamed portal (libpq, JDBC
//! and pgbench's prepared mode among them) and many parse into the unnamed
//! statement. Keeping that entry in its own slot spares every Bind,
//! Describe and Execute a hash of the name, and the end of every
//! transaction a walk over the whole table to clear it.

use bytes::Bytes;
// Keys are names a client chooses: foldhash, seeded per process, instead
// of SipHash — a fraction of the cost on short keys, and still not
// predictable from outside.
use foldhash::HashMap;

/// The empty name, shared by every lookup of the unnamed entry.
static UNNAMED: Bytes = Bytes::new();

pub(crate) struct ByName<V> {
    unnamed: Option<V>,
    named: HashMap<Bytes, V>,
}

impl<V> Default for ByName<V> {
    fn default() -> Self {
        ByName {
            unnamed: None,
            named: HashMap::default(),
        }
    }
}

impl<V> ByName<V> {
    pub(crate) fn get(&self, name: &[u8]) -> Option<&V> {
        if name.is_empty() {
            self.unnamed.as_ref()
        } else {
            self.named.get(name)
        }
    }

    /// The entry with the name it is kept under, so a caller can share the
    /// name instead of copying it.
    pub(crate) fn get_key_value(&self, name: &[u8]) -> Option<(&Bytes, &V)> {
        if name.is_empty() {
            self.unnamed.as_ref().map(|v| (&UNNAMED, v))
        } else {
            self.named.get_key_value(name)
        }
    }

    pub(crate) fn get_mut(&mut self, name: &[u8]) -> Option<&mut V> {
        if name.is_empty() {
            self.unnamed.as_mut()
        } else {
            self.named.get_mut(name)
        }
    }

    pub(crate) fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    pub(crate) fn insert(&mut self, name: Bytes, value: V) {
        if name.is_empty() {
            self.unnamed = Some(value);
        } else {
            self.named.insert(name, value);
        }
    }

    pub(crate) fn remove(&mut self, name: &[u8]) {
        if name.is_empty() {
            self.unnamed = None;
        } else {
            self.named.remove(name);
        }
    }

    /// Entries, the unnamed one included.
    pub(crate) fn len(&self) -> usize {
        self.named.len() + usize::from(self.unnamed.is_some())
    }

    pub(crate) fn clear(&mut self) {
        self.unnamed = None;
        if !self.named.is_empty() {
            self.named.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unnamed_entry_is_an_entry_like_any_other() {
        let mut m: ByName<u32> = ByName::default();
        for name in [&b""[..], b"s1", b"s2"] {
            assert!(m.get(name).is_none());
            m.insert(Bytes::copy_from_slice(name), 1);
            assert_eq!(m.get(name), Some(&1));
            assert!(m.contains(name));
            if let Some(v) = m.get_mut(name) {
                *v = 2;
            }
            let (k, v) = m.get_key_value(name).expect("present");
            assert_eq!((&k[..], *v), (name, 2));
        }
        assert_eq!(m.len(), 3);
        m.remove(b"");
        assert_eq!(m.len(), 2);
        assert!(!m.contains(b""));
        assert!(m.contains(b"s1"), "removing the unnamed one keeps others");
        m.remove(b"s1");
        assert!(!m.contains(b"s1") && m.contains(b"s2"));
        m.insert(Bytes::new(), 3);
        assert_eq!(m.len(), 2);
        m.clear();
        assert_eq!(m.len(), 0);
        for name in [&b""[..], b"s1", b"s2"] {
            assert!(m.get(name).is_none(), "{name:?} cleared");
        }
    }
}
