//! The verified identity as run-time parameters of the server session, so
//! that the server's own row-level security policies can read it:
//!
//! | parameter | value |
//! |---|---|
//! | `pgward.user` | the verified user (token or SCRAM identity; in passthrough mode the startup user the server accepted) |
//! | `pgward.profile` | the session's profile |
//! | `pgward.groups` | the identity's groups as a text array literal: `{"analysts","data eng"}` |
//! | `pgward.branch` | the branch the session was routed to |
//! | `pgward.claim.<name>` | each claim `identity_settings.claims` names: its value, or an array literal |
//!
//! The session receives them as startup parameters of its own (not inside
//! `options`), so no value needs escaping and none can be read as another
//! parameter; the server applies them after `options` and over ALTER
//! ROLE/DATABASE settings, and they are the values RESET, RESET ALL and
//! DISCARD ALL return to. Statements that could change them are the
//! `identity_setting` effect (see `sql::effects`).

use std::collections::BTreeSet;

use super::identity::Identity;
use super::model::{ClaimSettingDef, IdentitySettingsDef};
use crate::sql::effects::IDENTITY_PREFIX;

pub const USER: &str = "pgward.user";
pub const PROFILE: &str = "pgward.profile";
pub const GROUPS: &str = "pgward.groups";
pub const BRANCH: &str = "pgward.branch";
/// `pgward.claim.<name>`.
pub const CLAIM_PREFIX: &str = "pgward.claim.";

/// Why an identity cannot be handed to the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityValueError {
    #[error("the verified value for {setting} contains a NUL byte, which a server parameter cannot hold")]
    Nul { setting: String },
    #[error("claim {claim:?} has {count} values, and the policy gives {setting} a single value (declare it with array: true)")]
    SeveralValues {
        claim: String,
        setting: String,
        count: usize,
    },
}

/// A token claim given to the server as `pgward.claim.<name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimSetting {
    /// The part after `pgward.claim.`.
    pub name: String,
    /// The claim read from the verified identity.
    pub claim: String,
    /// Every value as an array literal, rather than a single value.
    pub array: bool,
}

impl ClaimSetting {
    pub fn setting(&self) -> String {
        format!("{CLAIM_PREFIX}{}", self.name)
    }
}

/// What a policy hands the server besides the fixed parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdentitySettings {
    pub claims: Vec<ClaimSetting>,
}

impl IdentitySettings {
    /// Every parameter pgward sets, in the order it sends them.
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = [USER, PROFILE, GROUPS, BRANCH]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        out.extend(self.claims.iter().map(ClaimSetting::setting));
        out
    }

    /// The parameters for a session of `identity` with `profile` on `branch`.
    /// A claim the identity lacks is the empty string (or `{}`), so that a
    /// value stored with ALTER ROLE/DATABASE can never stand in for it.
    pub fn values(
        &self,
        identity: &Identity,
        profile: &str,
        branch: &str,
    ) -> Result<Vec<(String, String)>, IdentityValueError> {
        let mut out = vec![
            (USER.to_owned(), identity.user_str().to_owned()),
            (PROFILE.to_owned(), profile.to_owned()),
            (GROUPS.to_owned(), array_literal(&identity.groups)),
            (BRANCH.to_owned(), branch.to_owned()),
        ];
        for c in &self.claims {
            let setting = c.setting();
            let values = identity
                .claims
                .get(&c.claim)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let value = if c.array {
                array_literal(values)
            } else {
                match values {
                    [] => String::new(),
                    [one] => one.clone(),
                    _ => {
                        return Err(IdentityValueError::SeveralValues {
                            claim: c.claim.clone(),
                            setting,
                            count: values.len(),
                        })
                    }
                }
            };
            out.push((setting, value));
        }
        if let Some((k, _)) = out.iter().find(|(_, v)| v.contains('\0')) {
            return Err(IdentityValueError::Nul { setting: k.clone() });
        }
        Ok(out)
    }

    /// Is `name` (lower case, `pgward.` included) one pgward sets?
    pub fn sets(&self, name: &str) -> bool {
        matches!(name, USER | PROFILE | GROUPS | BRANCH)
            || name
                .strip_prefix(CLAIM_PREFIX)
                .is_some_and(|c| self.claims.iter().any(|s| s.name == c))
    }
}

/// A PostgreSQL text array literal with every element quoted, so that
/// `current_setting('pgward.groups', true)::text[]` gives the elements back
/// exactly (commas, quotes, backslashes, braces, spaces and `NULL` included).
pub fn array_literal(items: &[String]) -> String {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for ch in item.chars() {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// A claim setting's name: lower-case letters, digits and `_`, not starting
/// with a digit (the server folds parameter names to lower case).
fn valid_claim_setting(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 48
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Compiles `identity_settings:`; problems come back as (position, message).
pub fn compile(
    def: Option<&serde_saphyr::Spanned<IdentitySettingsDef>>,
) -> (IdentitySettings, super::masks::Issues) {
    let mut issues = Vec::new();
    let mut claims: Vec<ClaimSetting> = Vec::new();
    let mut seen = BTreeSet::new();
    for c in def.map(|d| d.value.claims.as_slice()).unwrap_or_default() {
        let at = (c.referenced.line(), c.referenced.column());
        let setting = match &c.value {
            ClaimSettingDef::Name(n) => ClaimSetting {
                name: n.clone(),
                claim: n.clone(),
                array: false,
            },
            ClaimSettingDef::Full(f) => ClaimSetting {
                name: f.name.clone(),
                claim: f.claim.clone().unwrap_or_else(|| f.name.clone()),
                array: f.array.unwrap_or(false),
            },
        };
        if !valid_claim_setting(&setting.name) {
            issues.push((
                at,
                format!(
                    "claim setting {:?} must be lower-case letters, digits or '_' (at most 48); for a claim named otherwise write {{ name: tenant, claim: \"...\" }}",
                    setting.name
                ),
            ));
            continue;
        }
        if setting.claim.is_empty() {
            issues.push((
                at,
                format!("claim setting {:?}: empty claim name", setting.name),
            ));
            continue;
        }
        if !seen.insert(setting.name.clone()) {
            issues.push((
                at,
                format!("claim setting {:?} is declared twice", setting.name),
            ));
            continue;
        }
        claims.push(setting);
    }
    (IdentitySettings { claims }, issues)
}

/// The `pgward.*` names a piece of SQL text mentions (lower case, trailing
/// dots dropped), for checking that a predicate reads only what pgward sets.
pub fn mentioned(text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find(IDENTITY_PREFIX) {
        let start = from + i;
        let preceded = lower[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let end = lower[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .map_or(lower.len(), |e| start + e);
        if !preceded {
            let name = lower[start..end].trim_end_matches('.').to_owned();
            if !out.contains(&name) {
                out.push(name);
            }
        }
        from = end.max(start + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(claims: Vec<ClaimSetting>) -> IdentitySettings {
        IdentitySettings { claims }
    }

    #[test]
    fn arrays_quote_every_element() {
        assert_eq!(array_literal(&[]), "{}");
        let items: Vec<String> = [
            "a",
            "data eng",
            "x,y",
            "q\"uote",
            "back\\slash",
            "NULL",
            "{}",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(
            array_literal(&items),
            r#"{"a","data eng","x,y","q\"uote","back\\slash","NULL","{}"}"#
        );
    }

    #[test]
    fn values_for_an_identity() {
        let mut id = Identity::for_user("alice");
        id.groups = vec!["analysts".into(), "on call".into()];
        id.claims.insert("tenant".into(), vec!["acme".into()]);
        id.claims
            .insert("https://x/roles".into(), vec!["r1".into(), "r2".into()]);
        let s = settings(vec![
            ClaimSetting {
                name: "tenant".into(),
                claim: "tenant".into(),
                array: false,
            },
            ClaimSetting {
                name: "roles".into(),
                claim: "https://x/roles".into(),
                array: true,
            },
            ClaimSetting {
                name: "region".into(),
                claim: "region".into(),
                array: false,
            },
        ]);
        let v = s.values(&id, "analyst", "main").expect("values");
        let get = |k: &str| v.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get(USER), Some("alice"));
        assert_eq!(get(PROFILE), Some("analyst"));
        assert_eq!(get(GROUPS), Some(r#"{"analysts","on call"}"#));
        assert_eq!(get(BRANCH), Some("main"));
        assert_eq!(get("pgward.claim.tenant"), Some("acme"));
        assert_eq!(get("pgward.claim.roles"), Some(r#"{"r1","r2"}"#));
        assert_eq!(get("pgward.claim.region"), Some(""));
        assert_eq!(v.len(), s.names().len());
        assert!(s.sets("pgward.claim.region") && s.sets(GROUPS));
        assert!(!s.sets("pgward.claim.other") && !s.sets("pgward.usr"));
    }

    #[test]
    fn values_that_cannot_be_given_refuse_the_session() {
        let s = settings(vec![ClaimSetting {
            name: "tenant".into(),
            claim: "tenant".into(),
            array: false,
        }]);
        let mut id = Identity::for_user("alice");
        id.claims
            .insert("tenant".into(), vec!["a".into(), "b".into()]);
        assert!(matches!(
            s.values(&id, "p", "b"),
            Err(IdentityValueError::SeveralValues { count: 2, .. })
        ));
        id.claims.insert("tenant".into(), vec!["a\0b".into()]);
        assert!(matches!(
            s.values(&id, "p", "b"),
            Err(IdentityValueError::Nul { .. })
        ));
    }

    #[test]
    fn mentioned_names() {
        assert_eq!(
            mentioned("tenant = current_setting('PGWARD.Claim.Tenant', true) and 'x' = any(current_setting('pgward.groups')::text[]) and notpgward.x and pgward.claim."),
            vec!["pgward.claim.tenant", "pgward.groups", "pgward.claim"]
        );
        assert!(mentioned("true").is_empty());
    }
}
