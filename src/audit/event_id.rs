//! Event ids and timestamps, minted once per statement.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Per-process random bits of the id. Drawn once, so minting an id on the
/// statement path costs no system call; if the OS generator fails, clock and
/// pid stand in, which still separates processes in practice.
fn process_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let mut b = [0u8; 8];
        match getrandom::fill(&mut b) {
            Ok(()) => u64::from_le_bytes(b),
            Err(_) => unix_nanos() ^ (u64::from(std::process::id()) << 32),
        }
    })
}

/// An event's id. A minted one is kept as its 36 characters, inline: one
/// is minted per statement, and a heap copy of each was an allocation on
/// the statement's path and a free on the writer's. One read back from the
/// spool is kept as it was written, whatever it is.
#[derive(Clone, Debug)]
pub struct EventId(Repr);

#[derive(Clone, Debug)]
enum Repr {
    /// Hex digits and dashes.
    Minted([u8; 36]),
    Read(Box<str>),
}

impl EventId {
    /// The id's UTF-8 text, unchecked: what the encoders write (checking
    /// a minted id's 36 ASCII bytes for each of them cost more than
    /// writing it).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Minted(b) => b,
            Repr::Read(s) => s.as_bytes(),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Minted(b) => std::str::from_utf8(b).unwrap_or_default(),
            Repr::Read(s) => s,
        }
    }
}

impl From<&str> for EventId {
    fn from(s: &str) -> EventId {
        EventId(Repr::Read(s.into()))
    }
}

impl From<String> for EventId {
    fn from(s: String) -> EventId {
        EventId(Repr::Read(s.into_boxed_str()))
    }
}

/// The same id however it is kept.
impl PartialEq for EventId {
    fn eq(&self, other: &EventId) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for EventId {}

impl std::hash::Hash for EventId {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h);
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EventId, D::Error> {
        String::deserialize(d).map(EventId::from)
    }
}

/// A UUIDv7-shaped id: 48 bits of unix milliseconds (so ids sort by time),
/// then 42 bits fixed per process and a 32-bit per-process counter. Two ids
/// collide only if two processes drew the same 42 random bits and minted the
/// same counter value in the same millisecond.
pub fn new_event_id() -> String {
    event_id_at(unix_nanos()).as_str().to_owned()
}

/// [`new_event_id`] for an event stamped `nanos` (one clock read for both).
pub fn event_id_at(nanos: u64) -> EventId {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let ms = nanos / 1_000_000;
    let seed = process_seed();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6] = 0x70 | ((seed >> 8) as u8 & 0x0f);
    b[7] = seed as u8;
    b[8] = 0x80 | ((seed >> 16) as u8 & 0x3f);
    b[9..12].copy_from_slice(&seed.to_be_bytes()[2..5]);
    b[12..].copy_from_slice(&n.to_be_bytes());
    // Written into a fixed array, each byte's two digits at a position
    // known in advance: an id is minted per statement.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    /// Where byte `i`'s digits go: two digits each, a dash after bytes 3,
    /// 5, 7 and 9.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut out = *b"00000000-0000-0000-0000-000000000000";
    for (x, at) in b.iter().zip(AT) {
        out[at] = HEX[usize::from(x >> 4)];
        out[at + 1] = HEX[usize::from(x & 0x0f)];
    }
    EventId(Repr::Minted(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_lead_with_their_millisecond_and_end_with_the_counter() {
        let nanos = 0x0123_4567_89ab_u64 * 1_000_000 + 999_999;
        let (a, b) = (event_id_at(nanos), event_id_at(nanos));
        let (a, b) = (a.as_str(), b.as_str());
        assert!(a.starts_with("01234567-89ab-7"), "{a}");
        assert_eq!(a[..23], b[..23], "the same millisecond and process");
        let count = |id: &str| u32::from_str_radix(&id[28..], 16).expect("hex");
        assert!(
            count(b).wrapping_sub(count(a)) as i32 > 0,
            "the counter goes up: {a} then {b}"
        );
    }

    #[test]
    fn ids_are_unique_and_uuid_shaped() {
        let ids: HashSet<String> = (0..10_000).map(|_| new_event_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(10) {
            assert_eq!(id.len(), 36);
            assert_eq!(id.as_bytes()[14], b'7');
            for (i, c) in id.chars().enumerate() {
                if matches!(i, 8 | 13 | 18 | 23) {
                    assert_eq!(c, '-', "{id}");
                } else {
                    assert!(matches!(c, '0'..='9' | 'a'..='f'), "{id}");
                }
            }
        }
    }
}
