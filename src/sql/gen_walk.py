#!/usr/bin/env python3
"""Generate src/sql/walk.rs from pg_query's prost definitions (protobuf.rs).

Usage: python3 src/sql/gen_walk.py <path to pg_query/src/protobuf.rs> > src/sql/walk.rs && cargo fmt
Every struct is destructured field by field (no `..`), so a pg_query upgrade
that adds a field makes walk.rs fail to compile instead of silently skipping it.
"""
import re
import sys

src = open(sys.argv[1]).read()

# node::Node variants: Variant(super::Struct) or Variant(Box<super::Struct>)
enum_body = re.search(r"pub enum Node \{(.*?)\n    \}", src, re.S).group(1)
variant_of = {}
for m in re.finditer(r"([A-Z][A-Za-z0-9]*)\(\s*(?:::prost::alloc::boxed::Box<)?\s*super::([A-Za-z0-9]+)", enum_body):
    variant_of[m.group(2)] = m.group(1)

structs = {}
for m in re.finditer(r"pub struct ([A-Za-z0-9]+) \{(\}|.*?\n\})", src, re.S):
    name, body = m.group(1), m.group(2)[:-1]
    body = re.sub(r"#\[[^\]]*\]", "", body)  # attributes
    body = re.sub(r"///[^\n]*", "", body)
    body = re.sub(r"//[^\n]*", "", body)
    fields = []
    for fm in re.finditer(r"pub ((?:r#)?[a-z_0-9]+): (.*?),\s*(?=pub |$)", body.strip() + "\n", re.S):
        ty = re.sub(r"\s+", "", fm.group(2)).replace(",>", ">")
        fields.append((fm.group(1), ty))
    structs[name] = fields

def strip(t):
    t = t.replace("::prost::alloc::boxed::", "").replace("::prost::alloc::vec::", "")
    t = t.replace("::core::option::", "").replace("::prost::alloc::string::", "")
    return t

NODE_KINDS = []
out = []
w = out.append
w("//! Exhaustive child enumeration for pg_query parse trees.")
w("//!")
w("//! Generated from pg_query's protobuf definitions by `gen_walk.py` (next to this file);")
w("//! regenerate after upgrading pg_query. Every struct is destructured field by")
w("//! field, so a new field or node type is a compile error, never a silent skip.")
w("")
w("use pg_query::protobuf;")
w("use pg_query::NodeRef;")
w("")
w("#[inline]")
w("fn child_node<'a>(n: &'a protobuf::Node, cb: &mut dyn FnMut(NodeRef<'a>)) {")
w("    if let Some(inner) = n.node.as_ref() {")
w("        cb(inner.to_ref());")
w("    }")
w("}")
w("")
w("#[inline]")
w("fn child_nodes<'a>(list: &'a [protobuf::Node], cb: &mut dyn FnMut(NodeRef<'a>)) {")
w("    for n in list {")
w("        child_node(n, cb);")
w("    }")
w("}")
w("")
w("/// Calls `f` on every direct child of `parent` that is itself a parse node.")
w("#[allow(clippy::too_many_lines)]")
w("pub(crate) fn for_each_child<'a>(parent: NodeRef<'a>, cb: &mut dyn FnMut(NodeRef<'a>)) {")
w("    match parent {")
unknown_types = set()
for struct, variant in sorted(variant_of.items(), key=lambda kv: kv[1]):
    fields = structs[struct]
    pats, stmts = [], []
    for fname, ty in fields:
        t = strip(ty)
        if t in ("Option<Box<Node>>", "Option<Node>"):
            pats.append(fname); stmts.append(f"if let Some(x) = {fname} {{ child_node(x, cb); }}")
        elif t == "Vec<Node>":
            pats.append(fname); stmts.append(f"child_nodes({fname}, cb);")
        else:
            m = re.fullmatch(r"Option<(?:Box<)?([A-Za-z0-9]+)>?>", t)
            mv = re.fullmatch(r"Vec<([A-Za-z0-9]+)>", t)
            if m and m.group(1) in variant_of:
                v = variant_of[m.group(1)]
                pats.append(fname); stmts.append(f"if let Some(x) = {fname} {{ cb(NodeRef::{v}(x)); }}")
            elif mv and mv.group(1) in variant_of:
                v = variant_of[mv.group(1)]
                pats.append(fname); stmts.append(f"for x in {fname} {{ cb(NodeRef::{v}(x)); }}")
            elif t in ("i32", "u32", "bool", "String", "f64", "i64", "u64", "Vec<u64>", "Vec<String>", "Option<a_const::Val>"):
                pats.append(f"{fname}: _")
            else:
                unknown_types.add((struct, fname, t))
                pats.append(f"{fname}: _")
    pat = ", ".join(pats)
    w(f"        NodeRef::{variant}(n) => {{")
    w(f"            let protobuf::{struct} {{ {pat} }} = n;")
    for s in stmts:
        w(f"            {s}")
    w("        }")
w("    }")
w("}")
w("")
w("/// The pg_query node type name, e.g. `SelectStmt`.")
w("pub(crate) fn node_name(n: NodeRef<'_>) -> &'static str {")
w("    match n {")
for struct, variant in sorted(variant_of.items(), key=lambda kv: kv[1]):
    w(f"        NodeRef::{variant}(_) => \"{variant}\",")
w("    }")
w("}")
if unknown_types:
    sys.stderr.write("unhandled field types: %r\n" % sorted(unknown_types))
    sys.exit(1)
print("\n".join(out))
