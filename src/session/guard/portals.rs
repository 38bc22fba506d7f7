//! Prepared statements whose execution changes followed settings (SET
//! search_path sent through the extended protocol, as JDBC sends it):
//! their changes apply when a portal of theirs is executed, not when they
//! are parsed, so for such sessions the guard also follows Bind, Execute
//! and Close.

use bytes::Bytes;
use std::sync::Arc;

use super::{Guard, GuardError};
// Looked up at every Bind and Execute once a session follows portals
// (pgbench's prepared mode does from its BEGIN on).
use crate::session::names::ByName;
use crate::session::settings::{Event, SessionSettings};
use crate::wire::extended;
use crate::wire::Frame;

#[derive(Default)]
pub(super) struct Portals {
    statements: ByName<Arc<[Event]>>,
    portals: ByName<Arc<[Event]>>,
    /// Set once a prepared statement carries changes: from then on every
    /// Bind is seen, so no portal of such a statement is missed.
    following: bool,
}

impl Portals {
    /// A Parse the guard allowed, with the changes its execution makes.
    pub(super) fn parsed(&mut self, name: &[u8], events: Vec<Event>) {
        if events.is_empty() {
            if self.following {
                self.statements.remove(name);
            }
            return;
        }
        self.following = true;
        self.statements
            .insert(Bytes::copy_from_slice(name), events.into());
    }

    /// Bind, Execute or Close.
    pub(super) fn follow(
        &mut self,
        frame: &Frame,
        batch: u64,
        settings: &mut SessionSettings,
    ) -> Result<(), GuardError> {
        if !self.following {
            return Ok(());
        }
        let body = frame.body();
        match frame.tag() {
            b'B' => {
                let b = extended::bind(body).ok_or(GuardError::Malformed("Bind"))?;
                match self.statements.get(b.statement) {
                    Some(events) => {
                        self.portals
                            .insert(Bytes::copy_from_slice(b.portal), Arc::clone(events));
                    }
                    None => {
                        self.portals.remove(b.portal);
                    }
                }
            }
            b'E' => {
                let portal =
                    extended::execute_portal(body).ok_or(GuardError::Malformed("Execute"))?;
                if let Some(events) = self.portals.get(portal) {
                    settings.forwarded(batch, events.to_vec());
                }
            }
            b'C' => {
                let (kind, name) = extended::target(body).ok_or(GuardError::Malformed("Close"))?;
                match kind {
                    b'S' => self.statements.remove(name),
                    _ => self.portals.remove(name),
                };
            }
            _ => {}
        }
        Ok(())
    }

    /// Portals do not outlive their transaction.
    pub(super) fn transaction_ended(&mut self) {
        self.portals.clear();
    }
}

impl Guard {
    /// True when Bind, Execute and Close must be passed to
    /// [`Guard::frontend`] too.
    pub fn follows_portals(&self) -> bool {
        self.portals.following
    }
}
