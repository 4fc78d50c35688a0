//! A generated pair of GraphQL schemas (~1 MB each) with a known mix of breaking, dangerous and
//! safe changes, shared by `benches/graphql.rs` and `examples/graphql_diff.rs`.

use std::fmt::Write;

/// Object types in the generated schema; 1,900 gives about 1 MB of SDL.
pub const OBJECT_TYPES: usize = 1_900;

/// The base (`revision == false`) or revised schema.
pub fn schema(revision: bool) -> String {
    let n = OBJECT_TYPES;
    let enums = n / 5;
    let mut s = String::with_capacity(1_200_000);
    s.push_str("schema {\n  query: Query\n}\n\n");
    s.push_str("\"Anything with an identity.\"\ninterface Node {\n  id: ID!\n}\n\n");
    s.push_str(
        "\"Anything with a creation time.\"\ninterface Timestamped {\n  createdAt: String\n}\n\n",
    );
    s.push_str("\"Marks fields that need a role.\"\ndirective @auth(role: String) on FIELD_DEFINITION | OBJECT\n\n");
    s.push_str("type Query {\n");
    for i in 0..n {
        let _ = writeln!(s, "  t{i}(id: ID!): T{i}");
    }
    for j in 0..enums {
        let _ = writeln!(s, "  search{j}(filter: In{j}): [U{j}!]!");
    }
    s.push_str("}\n\n");
    for i in 0..n {
        object(&mut s, i, n, enums, revision);
    }
    for j in 0..enums {
        enum_type(&mut s, j, revision);
        input_type(&mut s, j, revision);
        union_type(&mut s, j, n, revision);
    }
    for j in 0..n / 10 {
        // Unreferenced types; every tenth is removed in the revision.
        if revision && j % 10 == 0 {
            continue;
        }
        let _ = writeln!(s, "type Orphan{j} {{\n  id: ID!\n  label: String\n}}\n");
    }
    s
}

fn object(s: &mut String, i: usize, n: usize, enums: usize, revision: bool) {
    let case = i % 50;
    let r = |c: usize| revision && case == c;
    let interfaces = if r(11) { "Node & Timestamped" } else { "Node" };
    let _ = writeln!(
        s,
        "\"\"\"\nGenerated object type number {i}, with a longer description to give\nthe schema a realistic amount of documentation text.\n\"\"\""
    );
    let _ = writeln!(s, "type T{i} implements {interfaces} {{");
    s.push_str("  \"The identity.\"\n  id: ID!\n");
    s.push_str("  createdAt: String\n");
    let _ = writeln!(s, "  f0: {}", if r(3) { "String!" } else { "String" });
    let _ = writeln!(s, "  f1: {}", if r(2) { "String" } else { "Int" });
    let _ = writeln!(
        s,
        "  f2: [String!]{}",
        if r(7) { " @deprecated(reason: \"use f0\")" } else { "" }
    );
    if !r(1) {
        let _ = writeln!(s, "  f3: T{}", (i + 1) % n);
    }
    let _ = writeln!(s, "  f4: E{}", i % enums);
    let _ = writeln!(s, "  f5: {}", if r(4) { "Boolean" } else { "Boolean!" });
    let first = if r(10) { "Int!" } else { "Int" };
    let default = if r(8) { 20 } else { 10 };
    let after = if r(9) { "" } else { ", after: String" };
    let _ = writeln!(
        s,
        "  \"A page of neighbours.\"\n  f6(first: {first} = {default}{after}): [T{}!]!",
        (i + 2) % n
    );
    let tenant = if r(5) { ", tenant: ID!" } else { "" };
    let _ = writeln!(s, "  f7(locale: String{tenant}): String");
    for k in 8..14 {
        let _ = writeln!(s, "  f{k}: Float");
    }
    if r(6) {
        s.push_str("  extra: String\n");
    }
    s.push_str("}\n\n");
}

fn enum_type(s: &mut String, j: usize, revision: bool) {
    let case = j % 20;
    let _ = writeln!(s, "enum E{j} {{");
    for v in 0..8 {
        if revision && case == 1 && v == 7 {
            continue;
        }
        let _ = writeln!(s, "  V{v}");
    }
    if revision && case == 2 {
        s.push_str("  V8\n");
    }
    s.push_str("}\n\n");
}

fn input_type(s: &mut String, j: usize, revision: bool) {
    let case = j % 20;
    let _ = writeln!(s, "input In{j} {{\n  text: String\n  limit: Int = 20");
    if !(revision && case == 5) {
        s.push_str("  offset: Int\n");
    }
    if revision && case == 3 {
        s.push_str("  tenant: ID!\n");
    }
    if revision && case == 4 {
        s.push_str("  sort: String\n");
    }
    s.push_str("}\n\n");
}

fn union_type(s: &mut String, j: usize, n: usize, revision: bool) {
    let case = j % 20;
    let mut members =
        vec![format!("T{j}"), format!("T{}", (j + 1) % n), format!("T{}", (j + 2) % n)];
    if revision && case == 6 {
        members.pop();
    }
    if revision && case == 7 {
        members.push(format!("T{}", (j + 3) % n));
    }
    let _ = writeln!(s, "union U{j} = {}\n", members.join(" | "));
}
