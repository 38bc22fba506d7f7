//! The policy file as written: a strict serde model (unknown keys are errors)
//! whose values carry their source position, so validation can point at the
//! line and column of the mistake.

use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

use crate::sql::Effect;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Format version; only 1 exists.
    pub version: Spanned<u32>,
    /// Profile for identities no rule matches.
    pub default_profile: Option<Spanned<String>>,
    #[serde(default)]
    pub identities: Vec<IdentityRule>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Spanned<ProfileDef>>,
    /// Named sets of columns (`schema.table.column` globs) that masks can select.
    #[serde(default)]
    pub tags: BTreeMap<String, Spanned<Vec<String>>>,
    /// Column masks, first match wins for a column.
    #[serde(default)]
    pub masks: Vec<Spanned<MaskDef>>,
    /// Settings shared by every mask.
    pub masking: Option<Spanned<MaskingDef>>,
    /// Which verified facts pgward hands the server beyond the fixed ones.
    pub identity_settings: Option<Spanned<IdentitySettingsDef>>,
    /// Row filters: predicates the server's row-level security enforces
    /// (`pgward rls plan` writes the policies).
    #[serde(default)]
    pub row_filters: Vec<Spanned<RowFilterDef>>,
}

/// `identity_settings:` — token claims given to the server as
/// `pgward.claim.<name>`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettingsDef {
    #[serde(default)]
    pub claims: Vec<Spanned<ClaimSettingDef>>,
}

/// A claim as a setting: its name alone (a single text value), or the
/// long form.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ClaimSettingDef {
    Name(String),
    Full(ClaimSettingFull),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimSettingFull {
    /// The setting is `pgward.claim.<name>`.
    pub name: String,
    /// The token claim it carries (default: `name`), for claims whose name
    /// is not a valid setting name (`https://example.com/tenant`).
    pub claim: Option<String>,
    /// `true`: every value, as a text array literal (`{a,b}`); otherwise the
    /// claim must have at most one value.
    pub array: Option<bool>,
}

/// One row filter: a predicate over a table's rows and pgward's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowFilterDef {
    /// Names the server-side policies (`pgward_filter_<name>`).
    pub name: Spanned<String>,
    pub description: Option<String>,
    /// `schema.table` or `table` globs.
    pub tables: OneOrMany,
    /// SQL boolean expression; a row is visible (and may be written) when true.
    pub predicate: Spanned<String>,
    /// Profiles that see every row (default: admin).
    pub exempt: Option<OneOrMany>,
    /// When given, only these profiles are filtered.
    pub profiles: Option<OneOrMany>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskDef {
    /// Shown in audit events and `pgward explain`.
    pub name: Option<String>,
    /// `column`, `table.column` or `schema.table.column` globs.
    pub columns: Option<OneOrMany>,
    /// Tags declared under `tags:`.
    pub tags: Option<OneOrMany>,
    pub function: Option<Spanned<MaskFunctionDef>>,
    /// Profiles that see these columns in clear (default: admin).
    pub exempt: Option<OneOrMany>,
    /// When given, only these profiles have the mask.
    pub profiles: Option<OneOrMany>,
}

/// A mask function as written: a keyword (`redact`) or a one-key map
/// (`partial: {last: 4}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskFunctionDef {
    /// SQL NULL. (`null` alone is YAML's empty value, so it must be quoted.)
    #[serde(alias = "null")]
    Nullify,
    /// A constant valid for the column's type: `****`, 0, 1970-01-01, ...
    Redact,
    /// This value (written as text); `redact` where it is not valid for the type.
    Fixed(ScalarDef),
    /// Keep the first/last characters of text, `*` for the rest.
    Partial(PartialDef),
    /// Keep the domain of an e-mail address.
    Email,
    /// HMAC-SHA-256 with `masking.hash_key_*`: equal inputs give equal outputs.
    Hash,
    /// Round numbers to this many decimal places (negative: tens, hundreds, ...).
    Round(i32),
    /// Replace a number by the lower bound of its bucket of this width.
    Bucket(ScalarDef),
    /// Truncate dates and timestamps.
    Truncate(TruncateUnit),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ScalarDef {
    Integer(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl ScalarDef {
    pub fn render(&self) -> String {
        match self {
            ScalarDef::Integer(i) => i.to_string(),
            ScalarDef::Float(f) => f.to_string(),
            ScalarDef::Bool(b) => b.to_string(),
            ScalarDef::Text(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialDef {
    #[serde(default)]
    pub first: usize,
    #[serde(default)]
    pub last: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruncateUnit {
    Year,
    Month,
    Day,
    Hour,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingDef {
    /// File holding the `hash` key (at least 16 bytes); relative to the policy file.
    pub hash_key_file: Option<std::path::PathBuf>,
    /// Environment variable holding the `hash` key.
    pub hash_key_env: Option<String>,
    /// What to do with a result column computed from masked columns.
    pub derived: Option<DerivedMode>,
}

/// Derived values (an expression over a masked column, a whole-row reference
/// to a table with masked columns): mask the whole output column, or refuse
/// the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DerivedMode {
    #[default]
    Mask,
    Deny,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityRule {
    /// Shown in audit events and `pgward explain`.
    pub name: Option<String>,
    #[serde(rename = "match")]
    pub matcher: Spanned<IdentityMatch>,
    pub profile: Spanned<String>,
}

/// All given conditions must hold. Text conditions are globs (`*`, `?`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityMatch {
    pub user: Option<OneOrMany>,
    pub application: Option<OneOrMany>,
    /// Any of these groups (from a token's `groups` claim or a users file).
    pub groups: Option<OneOrMany>,
    /// Each named claim must match one of its globs.
    pub claims: Option<BTreeMap<String, OneOrMany>>,
    /// CIDR blocks, e.g. 10.0.0.0/8 or 127.0.0.1/32.
    pub client_address: Option<OneOrMany>,
    /// Subject of a verified client certificate, e.g. "CN=ci-*".
    pub tls_subject: Option<OneOrMany>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnparseable {
    Deny,
    Allow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Denied statements get an error and never reach the server.
    Enforce,
    /// Decisions are taken and logged, nothing is blocked.
    Observe,
}

/// `allow: all` or a list of effects.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AllowList {
    Keyword(AllKeyword),
    Effects(Vec<Effect>),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllKeyword {
    All,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDef {
    pub description: Option<String>,
    pub inherits: Option<Spanned<String>>,
    pub allow: Option<AllowList>,
    /// Effects added to what the parent allows.
    #[serde(default)]
    pub also_allow: Vec<Effect>,
    #[serde(default)]
    pub deny: Vec<Spanned<DenyRuleDef>>,
    pub read_only: Option<bool>,
    /// Run-time parameters set for the session at connect.
    pub settings: Option<BTreeMap<String, SettingValue>>,
    pub on_unparseable: Option<OnUnparseable>,
    pub mode: Option<Mode>,
    /// `write`: a call to a user function the server's catalog marks volatile
    /// gives the statement the `volatile` effect (which `read_only` does not
    /// allow), unless the function is listed in `allow_functions`.
    pub volatile_functions: Option<VolatileFunctions>,
    /// Functions exempt from `volatile_functions: write` (`name` or `schema.name` globs).
    pub allow_functions: Option<OneOrMany>,
    /// `false` forwards statements without pgward's attribution comment
    /// (for servers or tools that must see the client's exact text).
    pub stamp: Option<bool>,
    /// `true` adds a fresh W3C traceparent to every statement's stamp. Off by
    /// default: a per-statement value makes every text unique, which defeats
    /// server-side plan caches and statement statistics keyed by text.
    pub traceparent: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolatileFunctions {
    /// User functions are judged by the statement that calls them only.
    Allow,
    /// User functions the catalog marks volatile count as doing something.
    Write,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SettingValue {
    Text(String),
    Integer(i64),
    Bool(bool),
}

impl SettingValue {
    pub fn render(&self) -> String {
        match self {
            SettingValue::Text(s) => s.clone(),
            SettingValue::Integer(i) => i.to_string(),
            SettingValue::Bool(b) => if *b { "on" } else { "off" }.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessDef {
    Read,
    Write,
    Ddl,
}

/// A deny rule fires when every condition it states holds for a statement.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyRuleDef {
    pub name: Option<String>,
    /// The statement has any of these effects.
    pub effects: Option<Vec<Effect>>,
    /// The statement touches a matching object (`schema.table` globs; a
    /// pattern without a dot matches the table name in any schema).
    pub objects: Option<OneOrMany>,
    /// Objects that do not count (e.g. the schemas a service owns). Alone,
    /// it means "any object except these".
    pub except_objects: Option<OneOrMany>,
    /// With `objects`: only these kinds of access count (default: all).
    pub access: Option<Vec<AccessDef>>,
    /// The statement calls a matching function (`name` or `schema.name` globs).
    pub functions: Option<OneOrMany>,
    /// UPDATE or DELETE without a WHERE clause.
    pub dml_without_where: Option<bool>,
    /// Shown to the client with the denial.
    pub message: Option<String>,
}
