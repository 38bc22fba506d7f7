//! The decisions of a session's recent requests, taken again without
//! deciding when nothing they were decided from has changed.
//!
//! A statement that differs from an earlier one only in its constants gets
//! the earlier one's analysis from the cache (the same `Arc`): its policy
//! decision and masking evaluation read that analysis, the profile, the
//! schemas its names resolve in and the catalog snapshot with the
//! profile's mask index, and nothing else, when the request
//! - changes no setting (so the session's path is the one it is decided
//!   under), runs no SQL-level EXECUTE (which reads the session's prepared
//!   statements), and has no DDL, CREATE of a table or PREPARE (which
//!   change session state the next decision reads);
//! - names only relations the snapshot places, with no table the session
//!   created in its open transaction and no name its own connection
//!   placed (those answer for relations the snapshot lacks);
//! - is allowed (a denial goes its own way: questions, probes);
//! - if its profile marks calls of volatile functions, reads their
//!   volatility from the shared catalog snapshot (not from a list the
//!   session loaded): the marked analysis is then remembered too.
//!
//! Only such requests are remembered, keyed by all of the inputs: the
//! analysis, the profile and policy generation, the lookup and creation
//! paths, the snapshot and the mask index, each compared by identity (held
//! here, so an address cannot be reused by another value while an entry
//! lives) or, for the paths, by value. A change of any of them misses.

use std::sync::Arc;

use super::Shared;
use crate::catalog::Snapshot;
use crate::mask::index::MaskIndex;
use crate::mask::statement::StatementMasking;
use crate::policy::compile::Profile;
use crate::policy::Decision;
use crate::session::recent::Recent;

/// Requests remembered per session: the statements of a typical
/// transaction, each in a few shapes (pgbench's TPC-B script makes nine
/// of its five: a negative constant adds a token).
const SLOTS: usize = 16;

/// What a decision was taken from.
pub(super) struct Inputs<'a> {
    pub analysis: &'a Shared,
    pub profile: &'a Arc<Profile>,
    pub generation: u64,
    /// The schemas unqualified names are looked up in, and created in.
    pub lookup: Option<&'a Arc<[String]>>,
    pub create: Option<&'a Arc<[String]>>,
    /// The catalog snapshot masking and volatility read, when they do.
    pub snapshot: Option<&'a Arc<Snapshot>>,
    /// The profile's mask index, for a profile with masks.
    pub index: Option<&'a Arc<MaskIndex>>,
}

/// What a decision came to.
pub(super) struct Taken {
    pub decision: Decision,
    pub masking: Option<Arc<StatementMasking>>,
    /// The analysis decided: the input's, or a copy with calls of volatile
    /// functions marked.
    pub analysis: Shared,
}

struct Entry {
    analysis: Shared,
    profile: Arc<Profile>,
    generation: u64,
    lookup: Option<Arc<[String]>>,
    create: Option<Arc<[String]>>,
    snapshot: Option<Arc<Snapshot>>,
    index: Option<Arc<MaskIndex>>,
    decision: Decision,
    masking: Option<Arc<StatementMasking>>,
    decided: Shared,
}

impl Entry {
    fn is_for(&self, k: &Inputs<'_>) -> bool {
        Arc::ptr_eq(&self.analysis, k.analysis)
            && Arc::ptr_eq(&self.profile, k.profile)
            && self.generation == k.generation
            && same_path(&self.lookup, k.lookup)
            && same_path(&self.create, k.create)
            && same(&self.snapshot, k.snapshot)
            && same(&self.index, k.index)
    }
}

fn same<T>(a: &Option<Arc<T>>, b: Option<&Arc<T>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

fn same_path(a: &Option<Arc<[String]>>, b: Option<&Arc<[String]>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a[..] == b[..],
        _ => false,
    }
}

#[derive(Default)]
pub(super) struct Memo {
    slots: Recent<Entry, SLOTS>,
}

impl Memo {
    /// The decision and masking taken from exactly these inputs before.
    pub fn get(&self, k: &Inputs<'_>) -> Option<Taken> {
        self.slots.find(|e| e.is_for(k)).map(|e| Taken {
            decision: e.decision.clone(),
            masking: e.masking.clone(),
            analysis: Arc::clone(&e.decided),
        })
    }

    /// Remembers a decision; the caller has checked that the request is
    /// one whose decision depends on the inputs alone (module doc).
    pub fn put(&mut self, k: &Inputs<'_>, taken: Taken) {
        let entry = Entry {
            analysis: Arc::clone(k.analysis),
            profile: Arc::clone(k.profile),
            generation: k.generation,
            lookup: k.lookup.cloned(),
            create: k.create.cloned(),
            snapshot: k.snapshot.cloned(),
            index: k.index.cloned(),
            decision: taken.decision,
            masking: taken.masking,
            decided: taken.analysis,
        };
        self.slots.push(entry);
    }

    /// Forgets everything (a policy reload, or anything else that makes
    /// all entries useless).
    pub fn clear(&mut self) {
        self.slots.clear();
    }
}
