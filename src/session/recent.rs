//! A session's last few of something, searched in no particular order and
//! replaced oldest first: what the guard's decision memo and the shared
//! statement facts both keep.
//!
//! A handful of entries, searched by a linear scan: fewer comparisons than
//! a hash would cost for keys compared by identity, and nothing allocated
//! until the first entry (most sessions of a pool never get one).

/// Up to `N` entries.
pub(crate) struct Recent<T, const N: usize> {
    slots: Vec<T>,
    /// The slot the next entry replaces once all are taken.
    next: usize,
}

impl<T, const N: usize> Default for Recent<T, N> {
    fn default() -> Self {
        Recent {
            slots: Vec::new(),
            next: 0,
        }
    }
}

impl<T, const N: usize> Recent<T, N> {
    /// The first entry `is` accepts.
    pub fn find(&self, is: impl FnMut(&&T) -> bool) -> Option<&T> {
        self.slots.iter().find(is)
    }

    /// Keeps `entry`, in place of the oldest when all slots are taken.
    pub fn push(&mut self, entry: T) {
        if self.slots.len() < N {
            self.slots.push(entry);
        } else if let Some(slot) = self.slots.get_mut(self.next) {
            *slot = entry;
            self.next = (self.next + 1) % N;
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Forgets every entry, and the room they took.
    pub fn clear(&mut self) {
        self.slots = Vec::new();
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entry_goes_first() {
        let mut r: Recent<u32, 3> = Recent::default();
        for i in 0..5 {
            r.push(i);
        }
        let kept: Vec<u32> = (0..5).filter(|i| r.find(|&&e| e == *i).is_some()).collect();
        assert_eq!(kept, vec![2, 3, 4]);
        r.push(5);
        assert!(r.find(|&&e| e == 2).is_none());
        assert!(r.find(|&&e| e == 5).is_some());
        assert_eq!(r.len(), 3);
        r.clear();
        assert!(r.find(|_| true).is_none());
        assert_eq!(r.len(), 0);
    }
}
