//! Database branches: which server a session goes to. `upstream` serves the
//! default branch; `branches.fixed` names others; `branches.template` makes
//! an upstream for any allowed name on the fly (a host with `{branch}` in
//! it). A client picks a branch from its connection string alone, with any
//! libpq-style client: `options=-c pgward.branch=NAME`, or a database name
//! of the form `DB@NAME`. pgward removes both before forwarding the startup
//! packet. The policy is the same for every branch: nothing here is a
//! policy setting, so a branch created tomorrow is governed from its first
//! query.

use dashmap::DashMap;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::config::{BranchesConfig, UpstreamConfig};
use crate::policy::glob::Glob;
use crate::upstream::{Upstream, UpstreamError};
use crate::wire::startup::StartupMessage;

/// The startup option that names a branch.
pub const BRANCH_OPTION: &str = "pgward.branch";

/// A validated branch name: 1 to 63 of `[A-Za-z0-9._-]`, starting with a
/// letter or digit, so it is safe in a host name template, a metric label
/// and a comment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BranchName(String);

impl BranchName {
    pub fn new(s: &str) -> Result<BranchName, BranchError> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if ok {
            Ok(BranchName(s.to_owned()))
        } else {
            Err(BranchError::InvalidName(s.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BranchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BranchError {
    #[error("invalid branch name {0:?}: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit")]
    InvalidName(String),
    #[error("branch \"{name}\" does not exist (known branches: {known})")]
    Unknown { name: String, known: String },
    #[error(
        "the connection names two branches: \"{0}\" in options and \"{1}\" in the database name"
    )]
    Conflict(String, String),
    #[error("startup option {0} is not one pgward knows (only pgward.branch)")]
    UnknownOption(String),
    #[error("startup parameter {0} is pgward's own: pgward sets pgward.* parameters itself")]
    ReservedParameter(String),
    #[error("branch upstream: {0}")]
    Upstream(#[from] UpstreamError),
}

/// A branch and the server it runs on.
#[derive(Debug)]
pub struct Branch {
    pub name: BranchName,
    pub upstream: Arc<Upstream>,
}

struct Template {
    host: String,
    port: u16,
    names: Option<Glob>,
    base: UpstreamConfig,
}

pub struct Branches {
    default: Arc<Branch>,
    fixed: BTreeMap<BranchName, Arc<Branch>>,
    template: Option<Template>,
    /// Upstreams made from the template, kept so their TLS setup is built once.
    created: DashMap<BranchName, Arc<Branch>>,
}

impl Branches {
    pub fn new(
        default_upstream: Arc<Upstream>,
        cfg: &BranchesConfig,
    ) -> Result<Branches, BranchError> {
        let default = Arc::new(Branch {
            name: BranchName::new(&cfg.default_name)?,
            upstream: default_upstream,
        });
        let mut fixed = BTreeMap::new();
        for (name, up) in &cfg.fixed {
            let name = BranchName::new(name)?;
            fixed.insert(
                name.clone(),
                Arc::new(Branch {
                    name,
                    upstream: Upstream::from_config(up)?,
                }),
            );
        }
        let template = cfg.template.as_ref().map(|t| Template {
            host: t.host.clone(),
            port: t.port,
            names: t.names.as_deref().map(Glob::new),
            base: t.base.clone(),
        });
        Ok(Branches {
            default,
            fixed,
            template,
            created: DashMap::new(),
        })
    }

    pub fn default_branch(&self) -> &Arc<Branch> {
        &self.default
    }

    /// Every branch with a fixed upstream, the default first.
    pub fn fixed(&self) -> impl Iterator<Item = &Arc<Branch>> {
        std::iter::once(&self.default).chain(self.fixed.values())
    }

    pub fn get(&self, name: &str) -> Result<Arc<Branch>, BranchError> {
        let name = BranchName::new(name)?;
        if name == self.default.name {
            return Ok(Arc::clone(&self.default));
        }
        if let Some(b) = self.fixed.get(&name) {
            return Ok(Arc::clone(b));
        }
        if let Some(b) = self.created.get(&name) {
            return Ok(Arc::clone(&b));
        }
        match &self.template {
            Some(t) if t.names.as_ref().is_none_or(|g| g.is_match(name.as_str())) => {
                let mut cfg = t.base.clone();
                cfg.host = t.host.replace("{branch}", name.as_str());
                cfg.port = t.port;
                // verify-full checks the branch's own host name.
                cfg.server_name = None;
                let b = Arc::new(Branch {
                    name: name.clone(),
                    upstream: Upstream::from_config(&cfg)?,
                });
                self.created.insert(name, Arc::clone(&b));
                Ok(b)
            }
            _ => Err(BranchError::Unknown {
                name: name.to_string(),
                known: self.known(),
            }),
        }
    }

    fn known(&self) -> String {
        let mut names: Vec<String> = self.fixed().map(|b| b.name.to_string()).collect();
        if let Some(t) = &self.template {
            names.push(match &t.names {
                Some(g) => format!("{} (template)", g.as_str()),
                None => "any name (template)".into(),
            });
        }
        names.join(", ")
    }

    /// The branch a startup packet asks for, and the packet to forward
    /// (pgward's option and the `@branch` suffix removed).
    pub fn select(
        &self,
        startup: &StartupMessage,
    ) -> Result<(Arc<Branch>, Option<StartupMessage>), BranchError> {
        let mut params: Vec<(String, String)> = startup.params().to_vec();
        // The server reads any other startup parameter as a setting: a
        // client's own pgward.* would pose as the identity pgward verified.
        if let Some((k, _)) = params
            .iter()
            .find(|(k, _)| k.to_ascii_lowercase().starts_with("pgward."))
        {
            return Err(BranchError::ReservedParameter(k.clone()));
        }
        let mut from_options = None;
        let mut changed = false;
        if let Some(i) = params.iter().position(|(k, _)| k == "options") {
            let (rest, found) = take_branch_option(&params[i].1)?;
            if let Some(b) = found {
                from_options = Some(b);
                changed = true;
                if rest.trim().is_empty() {
                    params.remove(i);
                } else {
                    params[i].1 = rest;
                }
            }
        }
        let mut from_database = None;
        if let Some(i) = params.iter().position(|(k, _)| k == "database") {
            if let Some((db, b)) = params[i].1.rsplit_once('@') {
                from_database = Some(b.to_owned());
                params[i].1 = db.to_owned();
                changed = true;
            }
        }
        let name = match (from_options, from_database) {
            (Some(a), Some(b)) if a != b => return Err(BranchError::Conflict(a, b)),
            (Some(a), _) => Some(a),
            (None, b) => b,
        };
        let branch = match name {
            Some(n) => self.get(&n)?,
            None => Arc::clone(&self.default),
        };
        let rewritten = changed.then(|| startup.with_params(params));
        Ok((branch, rewritten))
    }
}

/// Splits `options` into what stays and the value of `pgward.branch`.
/// Tokens keep their original escapes, so what stays reaches the server
/// byte for byte as the client wrote it.
fn take_branch_option(options: &str) -> Result<(String, Option<String>), BranchError> {
    let tokens = crate::wire::startup::option_tokens(options);
    let mut keep: Vec<&str> = Vec::with_capacity(tokens.len());
    let mut found = None;
    let mut i = 0;
    while i < tokens.len() {
        let (raw, plain) = (&tokens[i].0, &tokens[i].1);
        let (setting, used) = if plain == "-c" {
            (tokens.get(i + 1).map(|t| t.1.as_str()), 2)
        } else if let Some(s) = plain
            .strip_prefix("-c")
            .or_else(|| plain.strip_prefix("--"))
        {
            (Some(s), 1)
        } else {
            (None, 1)
        };
        match setting.and_then(|s| s.split_once('=')) {
            Some((k, v)) if k.to_ascii_lowercase().starts_with("pgward.") => {
                if k.eq_ignore_ascii_case(BRANCH_OPTION) {
                    found = Some(v.to_owned());
                } else {
                    return Err(BranchError::UnknownOption(k.to_owned()));
                }
            }
            _ => {
                for t in tokens.iter().skip(i).take(used) {
                    keep.push(&t.0);
                }
                let _ = raw;
            }
        }
        i += used;
    }
    Ok((keep.join(" "), found))
}

/// Whitespace-separated tokens of an options string: (as written, unescaped).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(BranchName::new("feature-x").is_ok());
        assert!(BranchName::new("v1.2_rc").is_ok());
        for bad in ["", "-x", "a b", "a/b", "x{branch}", &"a".repeat(64), "ünï"] {
            assert!(BranchName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn branch_option_is_removed_and_the_rest_kept_verbatim() {
        let (rest, b) = take_branch_option("-c pgward.branch=feature-x").expect("reads");
        assert_eq!((rest.as_str(), b.as_deref()), ("", Some("feature-x")));
        let (rest, b) =
            take_branch_option(r"-c search_path=a\ b -cpgward.branch=f2 --work_mem=4MB")
                .expect("reads");
        assert_eq!(rest, r"-c search_path=a\ b --work_mem=4MB");
        assert_eq!(b.as_deref(), Some("f2"));
        let (rest, b) = take_branch_option("--pgward.branch=z").expect("reads");
        assert_eq!((rest.as_str(), b.as_deref()), ("", Some("z")));
        let (rest, b) = take_branch_option("-c geqo=off").expect("reads");
        assert_eq!((rest.as_str(), b), ("-c geqo=off", None));
        assert!(matches!(
            take_branch_option("-c pgward.profile=admin"),
            Err(BranchError::UnknownOption(_))
        ));
        // Read as the server reads it: a trailing lone backslash is dropped.
        let (rest, b) = take_branch_option("-c x=\\").expect("reads");
        assert_eq!((rest.as_str(), b), ("-c x=", None));
    }
}
