//! From a policy file to a compiled policy: merge with the built-in profiles,
//! resolve inheritance, check every reference, and report each problem with
//! the line and column it comes from. A policy either compiles completely or
//! is rejected; there is no partially applied policy.

use ipnet::IpNet;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use super::builtin::BUILTIN_PROFILES;
use super::glob::{Glob, QualifiedGlob};
use super::identity::Identity;
use super::masks::{Masking, ProfileMasks};
use super::model::{
    AccessDef, AllowList, DenyRuleDef, IdentityMatch, Mode, OnUnparseable, PolicyFile, ProfileDef,
};
use crate::sql::{Access, Effect};

/// Everything wrong with a policy file; a policy with any issue is rejected whole.
pub use crate::diagnostics::FileErrors as PolicyError;
/// A problem in a policy file, with its line and column.
pub use crate::diagnostics::Issue as PolicyIssue;

#[derive(Clone, Debug)]
pub enum AllowSet {
    All,
    Only(BTreeSet<Effect>),
}

#[derive(Clone, Debug)]
pub struct DenyRule {
    pub name: String,
    pub effects: Vec<Effect>,
    pub objects: Vec<QualifiedGlob>,
    pub except_objects: Vec<QualifiedGlob>,
    pub access: Vec<Access>,
    pub functions: Vec<QualifiedGlob>,
    pub dml_without_where: bool,
    pub message: Option<String>,
}

/// A resolved profile: inheritance applied, everything validated.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub description: Option<String>,
    pub allow: AllowSet,
    pub deny: Vec<DenyRule>,
    pub read_only: bool,
    pub settings: Vec<(String, String)>,
    pub on_unparseable: OnUnparseable,
    pub mode: Mode,
    pub volatile_functions: super::model::VolatileFunctions,
    pub allow_functions: Vec<QualifiedGlob>,
    /// The policy's masks that apply to this profile.
    pub masks: Arc<ProfileMasks>,
    /// The policy's row filters that apply to this profile.
    pub row_filters: Arc<super::row_filters::ProfileRowFilters>,
    /// Statements carry the attribution comment.
    pub stamp: bool,
    /// The stamp also carries a per-statement traceparent.
    pub traceparent: bool,
}

#[derive(Clone, Debug, Default)]
struct Matcher {
    user: Vec<Glob>,
    application: Vec<Glob>,
    groups: Vec<Glob>,
    claims: Vec<(String, Vec<Glob>)>,
    client_address: Vec<IpNet>,
    tls_subject: Vec<Glob>,
}

impl Matcher {
    fn matches(&self, id: &Identity) -> bool {
        let any = |globs: &[Glob], value: Option<&str>| {
            globs.is_empty() || value.is_some_and(|v| globs.iter().any(|g| g.is_match(v)))
        };
        any(&self.user, id.user.as_ref().map(|u| u.as_str()))
            && any(&self.application, id.application.as_deref())
            && any(&self.tls_subject, id.tls_subject.as_deref())
            && (self.groups.is_empty()
                || id
                    .groups
                    .iter()
                    .any(|g| self.groups.iter().any(|p| p.is_match(g))))
            && self.claims.iter().all(|(claim, globs)| {
                id.claims.get(claim).is_some_and(|values| {
                    values.iter().any(|v| globs.iter().any(|g| g.is_match(v)))
                })
            })
            && (self.client_address.is_empty()
                || id.client_addr.is_some_and(|a| {
                    self.client_address
                        .iter()
                        .any(|n| n.contains(&canonical(a)))
                }))
    }
}

/// IPv4 clients on a dual-stack socket arrive as ::ffff:a.b.c.d.
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(a),
        v4 => v4,
    }
}

#[derive(Clone, Debug)]
pub struct IdentityRule {
    pub name: String,
    matcher: Matcher,
    pub profile: Arc<Profile>,
}

/// A compiled policy, shared read-only by every session.
#[derive(Clone, Debug)]
pub struct Policy {
    pub source_name: String,
    pub default_profile: Arc<Profile>,
    pub identities: Vec<IdentityRule>,
    pub profiles: BTreeMap<String, Arc<Profile>>,
    pub masking: Arc<Masking>,
    /// The parameters sessions hand the server with their identity.
    pub identity: Arc<super::identity_settings::IdentitySettings>,
    pub row_filters: Arc<super::row_filters::RowFilters>,
}

/// Which rule chose a profile for an identity.
#[derive(Clone, Debug)]
pub struct Resolution {
    pub profile: Arc<Profile>,
    /// The identity rule's name, or `default_profile` / `forced`.
    pub rule: String,
}

impl Policy {
    /// The policy used when none is configured: everyone is `admin`, nothing is refused.
    pub fn allow_all() -> Policy {
        let p = Policy::from_yaml("version: 1\ndefault_profile: admin\n", "<built-in>");
        p.unwrap_or_else(|e| unreachable_policy(&e))
    }

    /// Can a session end up in a profile that reads function volatility
    /// (`volatile_functions: write`)? Only the default profile and those of
    /// identity rules are ever resolved.
    pub fn reads_volatility(&self) -> bool {
        std::iter::once(&self.default_profile)
            .chain(self.identities.iter().map(|r| &r.profile))
            .any(|p| p.volatile_functions == super::model::VolatileFunctions::Write)
    }

    /// First matching identity rule wins; otherwise the default profile.
    pub fn resolve(&self, id: &Identity) -> Resolution {
        for rule in &self.identities {
            if rule.matcher.matches(id) {
                return Resolution {
                    profile: Arc::clone(&rule.profile),
                    rule: rule.name.clone(),
                };
            }
        }
        Resolution {
            profile: Arc::clone(&self.default_profile),
            rule: "default_profile".into(),
        }
    }

    pub fn profile(&self, name: &str) -> Option<Arc<Profile>> {
        self.profiles.get(name).cloned()
    }

    pub fn from_yaml(text: &str, source_name: &str) -> Result<Policy, PolicyError> {
        Policy::from_yaml_in(text, source_name, None)
    }

    /// `base_dir` is where relative paths in the file (the hash key file) are resolved.
    pub fn from_yaml_in(
        text: &str,
        source_name: &str,
        base_dir: Option<&std::path::Path>,
    ) -> Result<Policy, PolicyError> {
        let file: PolicyFile = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            PolicyError {
                source_name: source_name.to_owned(),
                issues: vec![PolicyIssue {
                    line,
                    column,
                    message: first_line(&e.to_string()),
                }],
            }
        })?;
        let builtins: PolicyFile =
            serde_saphyr::from_str(BUILTIN_PROFILES).map_err(|e| PolicyError {
                source_name: "<built-in profiles>".into(),
                issues: vec![PolicyIssue {
                    line: 1,
                    column: 1,
                    message: e.to_string(),
                }],
            })?;
        Compiler {
            issues: Vec::new(),
            user: &file.profiles,
            builtin: &builtins.profiles,
            resolved: BTreeMap::new(),
            in_progress: Vec::new(),
            base_dir,
        }
        .compile(&file, source_name)
    }

    pub fn from_file(path: &std::path::Path) -> Result<Policy, PolicyError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            source_name: name.clone(),
            issues: vec![PolicyIssue {
                line: 1,
                column: 1,
                message: format!("cannot read: {e}"),
            }],
        })?;
        Policy::from_yaml_in(&text, &name, path.parent())
    }
}

fn unreachable_policy(e: &PolicyError) -> Policy {
    // The built-in policy is a constant; failing to compile it is a bug in pgward.
    panic!("built-in policy does not compile: {e}")
}

/// serde errors can carry a multi-line snippet; the first line is the message.
fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_owned()
}

struct Compiler<'a> {
    issues: Vec<PolicyIssue>,
    user: &'a BTreeMap<String, Spanned<ProfileDef>>,
    builtin: &'a BTreeMap<String, Spanned<ProfileDef>>,
    resolved: BTreeMap<String, Arc<Profile>>,
    in_progress: Vec<String>,
    base_dir: Option<&'a std::path::Path>,
}

fn loc<T>(s: &Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn valid_setting_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

impl Compiler<'_> {
    fn issue(&mut self, at: (u64, u64), message: impl Into<String>) {
        self.issues.push(PolicyIssue {
            line: at.0,
            column: at.1,
            message: message.into(),
        });
    }

    fn compile(mut self, file: &PolicyFile, source_name: &str) -> Result<Policy, PolicyError> {
        if file.version.value != 1 {
            self.issue(
                loc(&file.version),
                format!(
                    "unsupported policy version {} (expected 1)",
                    file.version.value
                ),
            );
        }
        let mut names: Vec<String> = self.builtin.keys().cloned().collect();
        names.extend(self.user.keys().cloned());
        names.sort();
        names.dedup();
        for (name, def) in self.user {
            if !valid_name(name) {
                self.issue(
                    loc(def),
                    format!("profile name {name:?} must be lower-case letters, digits, '_' or '-'"),
                );
            }
        }
        for name in &names {
            self.resolve(name, None);
        }
        // Built-ins reached through self-inheritance are internal, not profiles.
        let profiles: BTreeMap<String, Arc<Profile>> = self
            .resolved
            .iter()
            .filter(|(k, _)| !k.starts_with("builtin:"))
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        let (masking, mask_issues) = super::masks::compile(
            &file.tags,
            &file.masks,
            file.masking.as_ref(),
            &profiles.keys().cloned().collect::<Vec<_>>(),
            self.base_dir,
        );
        for (at, message) in mask_issues {
            self.issue(at, message);
        }
        let (identity, identity_issues) =
            super::identity_settings::compile(file.identity_settings.as_ref());
        let (row_filters, filter_issues) = super::row_filters::compile(
            &file.row_filters,
            &identity,
            &profiles.keys().cloned().collect::<Vec<_>>(),
        );
        for (at, message) in identity_issues.into_iter().chain(filter_issues) {
            self.issue(at, message);
        }
        let profiles: BTreeMap<String, Arc<Profile>> = profiles
            .into_iter()
            .map(|(k, p)| {
                let mut p = (*p).clone();
                p.masks = Arc::new(masking.for_profile(&k));
                p.row_filters = Arc::new(row_filters.for_profile(&k));
                (k, Arc::new(p))
            })
            .collect();
        let default_profile = match &file.default_profile {
            None => profiles.get("read_only").cloned(),
            Some(d) => {
                let p = profiles.get(&d.value).cloned();
                if p.is_none() {
                    self.issue(
                        loc(d),
                        format!("default_profile {:?} is not a defined profile", d.value),
                    );
                }
                p
            }
        };
        let mut identities = Vec::new();
        for (i, rule) in file.identities.iter().enumerate() {
            let name = rule
                .name
                .clone()
                .unwrap_or_else(|| format!("identities[{i}]"));
            let matcher = self.matcher(&rule.matcher);
            match profiles.get(&rule.profile.value) {
                Some(p) => {
                    if let Some(m) = matcher {
                        identities.push(IdentityRule {
                            name,
                            matcher: m,
                            profile: Arc::clone(p),
                        });
                    }
                }
                None => self.issue(
                    loc(&rule.profile),
                    format!(
                        "identity rule {name:?} names profile {:?}, which is not defined (defined: {})",
                        rule.profile.value,
                        names.join(", ")
                    ),
                ),
            }
        }
        if !self.issues.is_empty() {
            self.issues.sort_by_key(|i| (i.line, i.column));
            self.issues.dedup();
            return Err(PolicyError {
                source_name: source_name.to_owned(),
                issues: self.issues,
            });
        }
        let default_profile = default_profile.ok_or_else(|| PolicyError {
            source_name: source_name.to_owned(),
            issues: vec![PolicyIssue {
                line: 1,
                column: 1,
                message: "no default profile".into(),
            }],
        })?;
        Ok(Policy {
            source_name: source_name.to_owned(),
            default_profile,
            identities,
            profiles,
            masking: Arc::new(masking),
            identity: Arc::new(identity),
            row_filters: Arc::new(row_filters),
        })
    }

    fn matcher(&mut self, m: &Spanned<IdentityMatch>) -> Option<Matcher> {
        let at = loc(m);
        let v = &m.value;
        let globs = |x: &Option<super::model::OneOrMany>| -> Vec<Glob> {
            x.as_ref()
                .map(|o| o.items().into_iter().map(Glob::new).collect())
                .unwrap_or_default()
        };
        let mut out = Matcher {
            user: globs(&v.user),
            application: globs(&v.application),
            groups: globs(&v.groups),
            tls_subject: globs(&v.tls_subject),
            ..Matcher::default()
        };
        if let Some(claims) = &v.claims {
            for (k, g) in claims {
                out.claims
                    .push((k.clone(), g.items().into_iter().map(Glob::new).collect()));
            }
        }
        let mut ok = true;
        if let Some(addrs) = &v.client_address {
            for a in addrs.items() {
                let parsed = a
                    .parse::<IpNet>()
                    .or_else(|_| a.parse::<IpAddr>().map(IpNet::from));
                match parsed {
                    Ok(n) => out.client_address.push(n),
                    Err(_) => {
                        ok = false;
                        self.issue(at, format!("client_address {a:?} is not an address or CIDR block like 10.0.0.0/8"));
                    }
                }
            }
        }
        let empty = out.user.is_empty()
            && out.application.is_empty()
            && out.groups.is_empty()
            && out.tls_subject.is_empty()
            && out.claims.is_empty()
            && out.client_address.is_empty();
        if empty && ok {
            self.issue(
                at,
                "match needs at least one condition (use default_profile for everyone else)",
            );
            return None;
        }
        ok.then_some(out)
    }

    /// Resolves a profile by name. `from_self` is set when a definition
    /// inherits the built-in profile of its own name.
    fn resolve(&mut self, name: &str, from_self: Option<()>) -> Option<Arc<Profile>> {
        let key = if from_self.is_some() {
            format!("builtin:{name}")
        } else {
            name.to_owned()
        };
        if let Some(p) = self.resolved.get(&key) {
            return Some(Arc::clone(p));
        }
        let user = self.user;
        let builtin = self.builtin;
        let def = if from_self.is_some() {
            builtin.get(name)
        } else {
            user.get(name).or_else(|| builtin.get(name))
        }?;
        if self.in_progress.contains(&key) {
            let chain = self.in_progress.join(" -> ");
            self.issue(
                loc(def),
                format!("profile {name:?} inherits from itself ({chain} -> {name})"),
            );
            return None;
        }
        self.in_progress.push(key.clone());
        let base = match &def.value.inherits {
            None => None,
            Some(parent) => {
                let inherits_builtin_self =
                    parent.value == name && from_self.is_none() && builtin.contains_key(name);
                let p = if inherits_builtin_self {
                    self.resolve(name, Some(()))
                } else {
                    self.resolve(&parent.value, None)
                };
                if p.is_none()
                    && !user.contains_key(&parent.value)
                    && !builtin.contains_key(&parent.value)
                {
                    self.issue(
                        loc(parent),
                        format!(
                            "profile {name:?} inherits from {:?}, which is not defined",
                            parent.value
                        ),
                    );
                }
                p
            }
        };
        let profile = self.build(name, &def.value, loc(def), base.as_deref());
        self.in_progress.pop();
        let profile = Arc::new(profile);
        self.resolved.insert(key, Arc::clone(&profile));
        Some(profile)
    }

    fn build(
        &mut self,
        name: &str,
        def: &ProfileDef,
        at: (u64, u64),
        base: Option<&Profile>,
    ) -> Profile {
        let mut p = base.cloned().unwrap_or(Profile {
            name: name.to_owned(),
            description: None,
            allow: AllowSet::Only(BTreeSet::new()),
            deny: Vec::new(),
            read_only: false,
            settings: Vec::new(),
            on_unparseable: OnUnparseable::Deny,
            mode: Mode::Enforce,
            volatile_functions: super::model::VolatileFunctions::Allow,
            allow_functions: Vec::new(),
            masks: Arc::default(),
            row_filters: Arc::default(),
            stamp: true,
            traceparent: false,
        });
        p.name = name.to_owned();
        p.description = def.description.clone().or(p.description);
        if let Some(a) = &def.allow {
            p.allow = match a {
                AllowList::Keyword(_) => AllowSet::All,
                AllowList::Effects(list) => AllowSet::Only(list.iter().copied().collect()),
            };
        }
        if !def.also_allow.is_empty() {
            if let AllowSet::Only(set) = &mut p.allow {
                set.extend(def.also_allow.iter().copied());
            }
        }
        for (i, rule) in def.deny.iter().enumerate() {
            if let Some(r) = self.deny_rule(name, i, rule) {
                p.deny.push(r);
            }
        }
        if let Some(ro) = def.read_only {
            p.read_only = ro;
        }
        if let Some(settings) = &def.settings {
            for (k, v) in settings {
                let value = v.render();
                if !valid_setting_name(k) {
                    self.issue(
                        at,
                        format!("profile {name:?}: {k:?} is not a valid setting name"),
                    );
                    continue;
                }
                if crate::sql::effects::is_identity_setting(&k.to_ascii_lowercase()) {
                    self.issue(
                        at,
                        format!("profile {name:?}: {k} is one of pgward's identity settings, which pgward sets itself"),
                    );
                    continue;
                }
                if value.contains('\0') {
                    self.issue(
                        at,
                        format!("profile {name:?}: setting {k} contains a NUL byte"),
                    );
                    continue;
                }
                p.settings.retain(|(existing, _)| existing != k);
                p.settings.push((k.clone(), value));
            }
        }
        if let Some(u) = def.on_unparseable {
            p.on_unparseable = u;
        }
        if let Some(m) = def.mode {
            p.mode = m;
        }
        if let Some(v) = def.volatile_functions {
            p.volatile_functions = v;
        }
        if let Some(list) = &def.allow_functions {
            p.allow_functions
                .extend(list.items().into_iter().map(QualifiedGlob::new));
        }
        if let Some(s) = def.stamp {
            p.stamp = s;
        }
        if let Some(t) = def.traceparent {
            p.traceparent = t;
        }
        p
    }

    fn deny_rule(
        &mut self,
        profile: &str,
        index: usize,
        rule: &Spanned<DenyRuleDef>,
    ) -> Option<DenyRule> {
        let at = loc(rule);
        let d = &rule.value;
        let name = d
            .name
            .clone()
            .unwrap_or_else(|| format!("{profile}.deny[{index}]"));
        let except_objects: Vec<QualifiedGlob> = d
            .except_objects
            .as_ref()
            .map(|o| o.items().into_iter().map(QualifiedGlob::new).collect())
            .unwrap_or_default();
        let mut objects: Vec<QualifiedGlob> = d
            .objects
            .as_ref()
            .map(|o| o.items().into_iter().map(QualifiedGlob::new).collect())
            .unwrap_or_default();
        if objects.is_empty() && !except_objects.is_empty() {
            objects.push(QualifiedGlob::new("*"));
        }
        let functions: Vec<QualifiedGlob> = d
            .functions
            .as_ref()
            .map(|o| o.items().into_iter().map(QualifiedGlob::new).collect())
            .unwrap_or_default();
        let effects = d.effects.clone().unwrap_or_default();
        let access: Vec<Access> = d
            .access
            .as_ref()
            .map(|a| {
                a.iter()
                    .map(|x| match x {
                        AccessDef::Read => Access::Read,
                        AccessDef::Write => Access::Write,
                        AccessDef::Ddl => Access::Ddl,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let dml = d.dml_without_where.unwrap_or(false);
        if effects.is_empty() && objects.is_empty() && functions.is_empty() && !dml {
            self.issue(
                at,
                format!("deny rule {name:?} has no condition (give effects, objects, functions or dml_without_where)"),
            );
            return None;
        }
        if !access.is_empty() && objects.is_empty() {
            self.issue(
                at,
                format!("deny rule {name:?}: access only applies together with objects"),
            );
        }
        if objects
            .iter()
            .chain(functions.iter())
            .any(|g| g.source().is_empty())
        {
            self.issue(at, format!("deny rule {name:?}: empty pattern"));
        }
        Some(DenyRule {
            name,
            effects,
            objects,
            except_objects,
            access,
            functions,
            dml_without_where: dml,
            message: d.message.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_exist_and_allow_all_is_admin() {
        let p = Policy::allow_all();
        assert_eq!(p.default_profile.name, "admin");
        for n in super::super::builtin::BUILTIN_NAMES {
            assert!(p.profile(n).is_some(), "{n}");
        }
        let ro = p.profile("read_only").expect("read_only");
        assert!(ro.read_only);
        let analyst = p.profile("analyst").expect("analyst");
        assert!(analyst.read_only, "analyst inherits read_only");
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let text = "version: 1\nidentities:\n  - match: { user: bob }\n    profile: nosuch\nprofiles:\n  custom:\n    inherits: ghost\n";
        let err = Policy::from_yaml(text, "p.yaml").expect_err("invalid");
        let s = err.to_string();
        assert!(s.contains("p.yaml:4:14:"), "{s}");
        assert!(s.contains("nosuch"), "{s}");
        assert!(s.contains("p.yaml:7:15:"), "{s}");
        assert!(s.contains("ghost"), "{s}");
    }

    #[test]
    fn unknown_keys_and_effects_are_errors() {
        let err =
            Policy::from_yaml("version: 1\nprofile: {}\n", "p.yaml").expect_err("unknown key");
        assert!(err.to_string().contains("p.yaml:2:"), "{err}");
        let err = Policy::from_yaml(
            "version: 1\nprofiles:\n  x:\n    allow: [read, wrte]\n",
            "p.yaml",
        )
        .expect_err("unknown effect");
        assert!(err.to_string().contains("p.yaml:4:"), "{err}");
    }

    #[test]
    fn inheritance_cycles_are_reported() {
        let text = "version: 1\nprofiles:\n  a:\n    inherits: b\n  b:\n    inherits: a\n";
        let err = Policy::from_yaml(text, "p.yaml").expect_err("cycle");
        assert!(err.to_string().contains("inherits from itself"), "{err}");
    }

    #[test]
    fn first_matching_identity_wins() {
        let text = r#"
version: 1
default_profile: read_only
identities:
  - name: ci
    match: { user: "ci-*", client_address: 10.0.0.0/8 }
    profile: developer
  - name: humans
    match: { groups: [analysts] }
    profile: analyst
profiles:
  read_only:
    inherits: read_only
    settings: { statement_timeout: 30s }
"#;
        let p = Policy::from_yaml(text, "p.yaml").expect("valid");
        let mut id = Identity::for_user("ci-bot");
        id.client_addr = "10.1.2.3".parse().ok();
        assert_eq!(p.resolve(&id).profile.name, "developer");
        id.client_addr = "192.168.0.1".parse().ok();
        assert_eq!(p.resolve(&id).profile.name, "read_only");
        let mut h = Identity::for_user("ann");
        h.groups = vec!["analysts".into()];
        assert_eq!(p.resolve(&h).rule, "humans");
        let ro = p.profile("read_only").expect("ro");
        assert!(ro.read_only, "extending the built-in keeps read_only");
        assert_eq!(
            ro.settings,
            vec![("statement_timeout".to_string(), "30s".to_string())]
        );
    }

    #[test]
    fn empty_match_and_conditionless_rule_are_errors() {
        let text = "version: 1\nidentities:\n  - match: {}\n    profile: admin\nprofiles:\n  x:\n    deny:\n      - name: nothing\n";
        let err = Policy::from_yaml(text, "p.yaml").expect_err("invalid");
        let s = err.to_string();
        assert!(s.contains("at least one condition"), "{s}");
        assert!(s.contains("has no condition"), "{s}");
    }
}
