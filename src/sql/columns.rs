//! Every column name a statement mentions, anywhere in its tree (select
//! lists, WHERE, function arguments, field selections). Masking uses it to
//! spot masked columns passed to functions with side effects, where the
//! value leaves through a setting or a notification instead of the result.

use std::collections::BTreeSet;

use pg_query::protobuf::node::Node as N;
use pg_query::NodeRef;

use super::walk;

pub(crate) fn referenced_columns(node: NodeRef<'_>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match n {
            NodeRef::ColumnRef(c) => {
                if let Some(name) = c.fields.iter().rev().find_map(|f| match &f.node {
                    Some(N::String(s)) => Some(s.sval.clone()),
                    _ => None,
                }) {
                    out.insert(name);
                }
            }
            // `(t).col`: the field name is not a ColumnRef.
            NodeRef::AIndirection(a) => {
                for i in &a.indirection {
                    if let Some(N::String(s)) = &i.node {
                        out.insert(s.sval.clone());
                    }
                }
            }
            _ => {}
        }
        walk::for_each_child(n, &mut |child| stack.push(child));
    }
    out
}

#[cfg(test)]
mod tests {
    fn names(sql: &str) -> Vec<String> {
        let a = crate::sql::analyze(sql).expect("parses");
        a.statements[0].referenced_columns.iter().cloned().collect()
    }

    #[test]
    fn finds_names_everywhere() {
        assert_eq!(
            names("select 1 from t where set_config('x', c.ssn, false) is not null and (t).email = 'a'"),
            vec!["email", "ssn", "t"]
        );
        assert!(names("select 1").is_empty());
    }
}
