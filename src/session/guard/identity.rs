//! The identity the server holds for the session (`pgward.profile` and the
//! other settings given at connect) cannot follow a policy reload. When a
//! reload moves the session to a profile whose row filters differ, or
//! changes which claims a filtered session should carry, the server would
//! go on filtering by what the session started with: every further
//! statement is refused until the client reconnects.

use super::Guard;
use crate::policy::identity_settings::IdentitySettings;
use crate::policy::protect::ROW_FILTER_RULE;
use crate::policy::Denial;

impl Guard {
    /// Called after a reload resolved the session's profile again.
    pub(super) fn check_identity(&mut self, before: &str, now: &IdentitySettings) {
        let filters = &self.resolution.profile.row_filters;
        let moved = before != self.resolution.profile.name && **filters != *self.identity_filters;
        let settings_changed = !filters.is_empty() && *now != *self.identity_settings;
        if self.stale_identity.is_none() && (moved || settings_changed) {
            tracing::warn!(
                from = %before,
                to = %self.resolution.profile.name,
                "policy reload changed the row filters of this session's profile; its statements are refused until it reconnects"
            );
            self.stale_identity = Some(before.to_owned());
        }
    }

    /// The refusal of every statement of a session whose identity is stale.
    pub(super) fn stale_identity_denial(&self) -> Option<Denial> {
        let started = self.stale_identity.as_ref()?;
        Some(Denial {
            profile: self.resolution.profile.name.clone(),
            rule: ROW_FILTER_RULE.into(),
            statement: 0,
            command: String::new(),
            object: None,
            message: format!(
                "permission denied by pgward policy: a policy reload moved this session from profile \"{started}\" to \"{}\", whose row filters differ, and the server still holds the identity the session started with",
                self.resolution.profile.name
            ),
            hint: Some("reconnect to continue under the new profile".into()),
            unqualified: false,
        })
    }
}
