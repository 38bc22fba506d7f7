//! Compiled masks: which columns are masked, with which function, for which
//! profiles. Columns are named by glob (`schema.table.column`) or through
//! tags; nothing here is per database or per branch, so a database created
//! tomorrow is masked by the same rules from its first query.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::glob::Glob;
use super::model::{DerivedMode, MaskDef, MaskFunctionDef, MaskingDef, TruncateUnit};
use crate::mask::{DateUnit, MaskFn};

/// Shortest accepted `hash` key: a short key makes the hash a lookup table.
pub const MIN_HASH_KEY_BYTES: usize = 16;

/// `column`, `table.column` or `schema.table.column`.
#[derive(Clone, Debug)]
pub struct ColumnGlob {
    schema: Option<Glob>,
    table: Option<Glob>,
    column: Glob,
    source: String,
}

impl ColumnGlob {
    pub fn new(pattern: &str) -> Result<ColumnGlob, String> {
        let parts: Vec<&str> = pattern.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "column pattern {pattern:?} has an empty part (write column, table.column or schema.table.column)"
            ));
        }
        let (schema, table, column) = match parts.as_slice() {
            [c] => (None, None, *c),
            [t, c] => (None, Some(Glob::new(t)), *c),
            [s, t, c] => (Some(Glob::new(s)), Some(Glob::new(t)), *c),
            _ => {
                return Err(format!(
                    "column pattern {pattern:?} has more than three parts (write column, table.column or schema.table.column)"
                ))
            }
        };
        Ok(ColumnGlob {
            schema,
            table,
            column: Glob::new(column),
            source: pattern.to_owned(),
        })
    }

    pub fn is_match(&self, schema: &str, table: &str, column: &str) -> bool {
        self.column.is_match(column)
            && self.table.as_ref().is_none_or(|t| t.is_match(table))
            && self.schema.as_ref().is_none_or(|s| s.is_match(schema))
    }

    /// The schema, table and column patterns (`None`: any).
    pub fn parts(&self) -> [Option<&Glob>; 3] {
        [
            self.schema.as_ref(),
            self.table.as_ref(),
            Some(&self.column),
        ]
    }

    /// Matches for some schema.
    pub fn could_match(&self, table: &str, column: &str) -> bool {
        self.column.is_match(column) && self.table.as_ref().is_none_or(|t| t.is_match(table))
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

#[derive(Debug)]
pub struct MaskRule {
    pub name: String,
    pub columns: Vec<ColumnGlob>,
    pub function: Arc<MaskFn>,
    /// Line and column of the function in the policy file.
    pub position: (u64, u64),
    exempt: Vec<String>,
    only: Option<Vec<String>>,
}

impl MaskRule {
    pub fn applies_to(&self, profile: &str) -> bool {
        !self.exempt.iter().any(|p| p == profile)
            && self
                .only
                .as_ref()
                .is_none_or(|o| o.iter().any(|p| p == profile))
    }

    pub fn matches(&self, schema: &str, table: &str, column: &str) -> bool {
        self.columns
            .iter()
            .any(|g| g.is_match(schema, table, column))
    }
}

/// The masks of one profile, in policy order.
#[derive(Debug, Default)]
pub struct ProfileMasks {
    pub rules: Vec<Arc<MaskRule>>,
    pub derived: DerivedMode,
}

impl ProfileMasks {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Could a column of this name, in a table of this name, be masked in
    /// some schema? (For tables pgward knows by name only.)
    pub fn could_mask(&self, table: &str, column: &str) -> bool {
        self.rules
            .iter()
            .flat_map(|r| r.columns.iter())
            .any(|g| g.could_match(table, column))
    }

    /// The first rule that masks this column for the profile.
    pub fn rule_for(&self, schema: &str, table: &str, column: &str) -> Option<&Arc<MaskRule>> {
        self.rules.iter().find(|r| r.matches(schema, table, column))
    }
}

/// Every mask of a policy.
#[derive(Debug, Default)]
pub struct Masking {
    pub rules: Vec<Arc<MaskRule>>,
    pub derived: DerivedMode,
}

impl Masking {
    pub fn for_profile(&self, profile: &str) -> ProfileMasks {
        ProfileMasks {
            rules: self
                .rules
                .iter()
                .filter(|r| r.applies_to(profile))
                .cloned()
                .collect(),
            derived: self.derived,
        }
    }
}

/// Problems found while compiling, with their (line, column).
pub type Issues = Vec<((u64, u64), String)>;

/// Compiles the `tags`, `masks` and `masking` sections. Problems are returned
/// as (position, message) for the caller's diagnostics.
pub fn compile(
    tags: &BTreeMap<String, serde_saphyr::Spanned<Vec<String>>>,
    masks: &[serde_saphyr::Spanned<MaskDef>],
    masking: Option<&serde_saphyr::Spanned<MaskingDef>>,
    profiles: &[String],
    base_dir: Option<&Path>,
) -> (Masking, Issues) {
    let mut issues = Vec::new();
    let mut tag_globs: BTreeMap<&str, Vec<ColumnGlob>> = BTreeMap::new();
    for (name, list) in tags {
        let mut globs = Vec::new();
        for p in &list.value {
            match ColumnGlob::new(p) {
                Ok(g) => globs.push(g),
                Err(e) => issues.push((at(list), format!("tag {name:?}: {e}"))),
            }
        }
        tag_globs.insert(name.as_str(), globs);
    }
    let settings = masking.map(|m| &m.value);
    let derived = settings.and_then(|m| m.derived).unwrap_or_default();
    let mut key: Option<Result<Arc<[u8]>, String>> = None;
    let mut hash_key = |issues: &mut Vec<_>, pos| -> Option<Arc<[u8]>> {
        let k = key.get_or_insert_with(|| load_hash_key(settings, base_dir));
        match k {
            Ok(k) => Some(Arc::clone(k)),
            Err(e) => {
                issues.push((pos, e.clone()));
                None
            }
        }
    };
    let mut rules = Vec::new();
    for (i, m) in masks.iter().enumerate() {
        let pos = at(m);
        let def = &m.value;
        let name = def.name.clone().unwrap_or_else(|| format!("masks[{i}]"));
        let mut columns = Vec::new();
        for p in def.columns.as_ref().map(|c| c.items()).unwrap_or_default() {
            match ColumnGlob::new(p) {
                Ok(g) => columns.push(g),
                Err(e) => issues.push((pos, format!("mask {name:?}: {e}"))),
            }
        }
        for t in def.tags.as_ref().map(|c| c.items()).unwrap_or_default() {
            match tag_globs.get(t) {
                Some(g) => columns.extend(g.iter().cloned()),
                None => issues.push((
                    pos,
                    format!(
                        "mask {name:?} names tag {t:?}, which is not declared under tags: (declared: {})",
                        tag_globs.keys().copied().collect::<Vec<_>>().join(", ")
                    ),
                )),
            }
        }
        if def.columns.is_none() && def.tags.is_none() {
            issues.push((pos, format!("mask {name:?} needs columns or tags")));
        }
        let position = def.function.as_ref().map(at).unwrap_or(pos);
        let function = match &def.function {
            None => {
                issues.push((
                    pos,
                    format!("mask {name:?} needs a function (redact, nullify, email, hash, partial, fixed, round, bucket, truncate; a bare `null` is YAML's empty value, write nullify)"),
                ));
                continue;
            }
            Some(f) => {
                let fpos = at(f);
                let built = match &f.value {
                    MaskFunctionDef::Nullify => Some(MaskFn::Null),
                    MaskFunctionDef::Redact => Some(MaskFn::Redact),
                    MaskFunctionDef::Email => Some(MaskFn::Email),
                    MaskFunctionDef::Fixed(v) => Some(MaskFn::Fixed(v.render())),
                    MaskFunctionDef::Partial(p) => Some(MaskFn::Partial {
                        first: p.first,
                        last: p.last,
                    }),
                    MaskFunctionDef::Round(d) => Some(MaskFn::Round { digits: *d }),
                    MaskFunctionDef::Bucket(w) => Some(MaskFn::Bucket { width: w.render() }),
                    MaskFunctionDef::Truncate(u) => Some(MaskFn::Truncate(match u {
                        TruncateUnit::Year => DateUnit::Year,
                        TruncateUnit::Month => DateUnit::Month,
                        TruncateUnit::Day => DateUnit::Day,
                        TruncateUnit::Hour => DateUnit::Hour,
                    })),
                    MaskFunctionDef::Hash => {
                        hash_key(&mut issues, fpos).map(|key| MaskFn::Hash { key })
                    }
                };
                let Some(built) = built else { continue };
                if let Err(e) = built.validate() {
                    issues.push((fpos, format!("mask {name:?}: {e}")));
                    continue;
                }
                built
            }
        };
        let mut check_profiles = |list: &Option<super::model::OneOrMany>, what: &str| {
            list.as_ref().map(|l| {
                l.items()
                    .into_iter()
                    .map(|p| {
                        if !profiles.iter().any(|x| x == p) {
                            issues.push((
                                pos,
                                format!("mask {name:?}: {what} names profile {p:?}, which is not defined"),
                            ));
                        }
                        p.to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        };
        let exempt = check_profiles(&def.exempt, "exempt").unwrap_or_else(|| vec!["admin".into()]);
        let only = check_profiles(&def.profiles, "profiles");
        rules.push(Arc::new(MaskRule {
            name,
            columns,
            function: Arc::new(function),
            position,
            exempt,
            only,
        }));
    }
    (Masking { rules, derived }, issues)
}

fn at<T>(s: &serde_saphyr::Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

fn load_hash_key(
    settings: Option<&MaskingDef>,
    base_dir: Option<&Path>,
) -> Result<Arc<[u8]>, String> {
    let (file, env) = settings
        .map(|s| (s.hash_key_file.as_ref(), s.hash_key_env.as_ref()))
        .unwrap_or((None, None));
    let bytes = match (file, env) {
        (Some(f), None) => {
            let path = match base_dir {
                Some(d) if f.is_relative() => d.join(f),
                _ => f.clone(),
            };
            let raw = std::fs::read(&path)
                .map_err(|e| format!("masking.hash_key_file {}: {e}", path.display()))?;
            trim_newline(raw)
        }
        (None, Some(var)) => std::env::var_os(var)
            .map(|v| v.into_encoded_bytes())
            .ok_or_else(|| {
                format!("masking.hash_key_env: environment variable {var} is not set")
            })?,
        (None, None) => {
            return Err(
                "the hash mask needs a key: set masking.hash_key_file or masking.hash_key_env"
                    .into(),
            )
        }
        (Some(_), Some(_)) => {
            return Err("give one of masking.hash_key_file or masking.hash_key_env".into())
        }
    };
    if bytes.len() < MIN_HASH_KEY_BYTES {
        return Err(format!(
            "the hash mask key is {} bytes; at least {MIN_HASH_KEY_BYTES} are needed",
            bytes.len()
        ));
    }
    Ok(Arc::from(bytes))
}

/// Key files usually end in a newline that is not part of the key.
fn trim_newline(mut raw: Vec<u8>) -> Vec<u8> {
    while raw.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        raw.pop();
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_globs_match_by_parts() {
        let g = ColumnGlob::new("ssn").expect("valid");
        assert!(g.is_match("public", "customers", "ssn"));
        assert!(!g.is_match("public", "customers", "ssn2"));
        let g = ColumnGlob::new("customers.*").expect("valid");
        assert!(g.is_match("crm", "customers", "email"));
        assert!(!g.is_match("crm", "orders", "email"));
        let g = ColumnGlob::new("crm.cust*.e*").expect("valid");
        assert!(g.is_match("crm", "customers", "email"));
        assert!(!g.is_match("public", "customers", "email"));
        assert!(ColumnGlob::new("a.b.c.d").is_err());
        assert!(ColumnGlob::new("a..c").is_err());
    }
}
