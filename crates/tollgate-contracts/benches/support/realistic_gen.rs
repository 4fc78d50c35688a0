//! A realistic pair of GraphQL schemas (a platform API: 64 entities, ~720 types, Relay
//! connections, mutations, subscriptions, applied directives) and a revision that makes every
//! kind of change graphql-inspector knows, several times each. Shared by `benches/graphql.rs`
//! and `examples/graphql_diff.rs` (the side-by-side with graphql-inspector).

use std::fmt::Write;

/// The domain's entities; each gets an object type, its status enum, connection and edge types,
/// filter / create / order / lookup inputs, a payload, an event and a stats type.
pub const ENTITIES: [&str; 64] = [
    "User",
    "Team",
    "Organization",
    "Project",
    "Repository",
    "Issue",
    "PullRequest",
    "Comment",
    "Review",
    "Label",
    "Milestone",
    "Release",
    "Deployment",
    "Environment",
    "Service",
    "Incident",
    "Runbook",
    "Alert",
    "Dashboard",
    "Metric",
    "Pipeline",
    "Job",
    "Step",
    "Runner",
    "Artifact",
    "Build",
    "Secret",
    "Policy",
    "Permission",
    "ApiKey",
    "Session",
    "Webhook",
    "Notification",
    "AuditEvent",
    "Product",
    "Variant",
    "Price",
    "Cart",
    "Order",
    "Payment",
    "Invoice",
    "Membership",
    "Plan",
    "Coupon",
    "Refund",
    "Shipment",
    "Address",
    "Warehouse",
    "Inventory",
    "Supplier",
    "Customer",
    "Contact",
    "Ticket",
    "Article",
    "Document",
    "Folder",
    "Attachment",
    "Report",
    "Experiment",
    "FeatureFlag",
    "Segment",
    "Campaign",
    "Survey",
    "Workspace",
];

/// Per-entity change kinds; entity `i` gets kinds `i`, `i + 18` and `i + 36` (mod `KINDS`).
const KINDS: usize = 54;

/// The base (`revision == false`) or revised schema.
pub fn schema(revision: bool) -> String {
    let mut s = String::with_capacity(400_000);
    prelude(&mut s, revision);
    query(&mut s, revision);
    for (i, name) in ENTITIES.iter().enumerate() {
        entity(&mut s, i, name, revision);
    }
    s
}

fn lower(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn prelude(s: &mut String, r: bool) {
    if r {
        s.push_str("schema @tag(name: \"public\") @tag(name: \"v2\") {\n  query: Query\n  mutation: Mutation\n  subscription: Subscription\n}\n\n");
    } else {
        s.push_str("schema @tag(name: \"public\") @internal {\n  query: Query\n  mutation: Mutation\n}\n\n");
    }
    s.push_str(if r { "scalar Upload\n\n" } else { "scalar Upload @tag(name: \"files\")\n\n" });
    s.push_str("\"An RFC 3339 date-time.\"\nscalar DateTime @specifiedBy(url: \"https://scalars.graphql.org/andimarek/date-time\")\n\n");
    s.push_str(if r { "scalar JSON @tag(name: \"opaque\")\n\n" } else { "scalar JSON\n\n" });
    s.push_str(if r {
        "\"An object with a globally unique id.\"\ninterface Node {\n  id: ID!\n}\n\n"
    } else {
        "\"An object with an id.\"\ninterface Node {\n  id: ID!\n}\n\n"
    });
    s.push_str(if r {
        "interface Timestamped {\n  createdAt: DateTime!\n}\n\ninterface Ownable @tag(name: \"ownership\") {\n  owner: User\n}\n\n"
    } else {
        "interface Timestamped @tag(name: \"audit\") {\n  createdAt: DateTime!\n}\n\ninterface Ownable {\n  owner: User\n}\n\n"
    });
    let (more, cursor) = if r {
        ("Whether more items follow.", "@deprecated(reason: \"Use endCursor.\")")
    } else {
        ("More items follow.", "@deprecated")
    };
    let _ = writeln!(
        s,
        "type PageInfo {{\n  \"{more}\"\n  hasNextPage: Boolean!\n  hasPreviousPage: Boolean!\n  startCursor: String\n  endCursor: String\n  cursor: String {cursor}\n}}\n"
    );
    s.push_str(if r {
        "input PageArgs @tag(name: \"paging\") {\n  \"Page size, at most 100.\"\n  first: Int\n  \"Cursor after which items start.\"\n  after: String\n  before: String\n}\n\n"
    } else {
        "input PageArgs {\n  \"Page size.\"\n  first: Int\n  after: String\n  \"Cursor before which items end.\"\n  before: String @sensitive\n}\n\n"
    });
    let code = if r { "  RATE_LIMITED\n" } else { "" };
    let path = if r { "@deprecated" } else { "@deprecated(reason: \"Use field.\")" };
    let invalid = if r { "@deprecated" } else { "@deprecated(reason: \"Use a field error.\")" };
    let conflict = if r { "" } else { " @tag(name: \"http-409\")" };
    let _ = write!(
        s,
        "type UserError {{\n  field: [String!]\n  message: String!\n  code: ErrorCode\n  path: [String!] {path}\n}}\n\nenum ErrorCode {{\n  INVALID {invalid}\n  NOT_FOUND\n  FORBIDDEN\n  CONFLICT{conflict}\n{code}}}\n\n"
    );
    s.push_str(if r {
        "enum OrderDirection {\n  ASC\n  DESC\n}\n\nenum CacheScope {\n  PUBLIC\n  PRIVATE\n}\n\n\"A member's role.\"\nenum Role {\n  ADMIN\n  MEMBER\n  VIEWER\n}\n\n"
    } else {
        "\"Sort direction.\"\nenum OrderDirection {\n  ASC\n  DESC\n}\n\nenum CacheScope @tag(name: \"infra\") {\n  PUBLIC\n  PRIVATE\n}\n\nenum Role {\n  ADMIN\n  MEMBER\n  VIEWER\n}\n\n"
    });
    s.push_str(if r {
        "union Principal = User | Team | ApiKey\n\n"
    } else {
        "union Principal @tag(name: \"auth\") = User | Team | ApiKey\n\n"
    });
    let members: Vec<&str> = ENTITIES
        .iter()
        .enumerate()
        .filter(|(i, _)| if r { i % 16 != 3 } else { i % 16 != 15 })
        .map(|(_, n)| *n)
        .collect();
    let search_tag = if r { " @tag(name: \"search\")" } else { "" };
    let _ = writeln!(
        s,
        "union SearchResult @cacheControl(maxAge: 30){search_tag} = {}\n",
        members.join(" | ")
    );
    if r {
        s.push_str("type DeletePayload {\n  deletedId: ID\n  errors: [UserError!]!\n  clientMutationId: String\n}\n\n");
    } else {
        s.push_str("type DeletePayload {\n  deletedId: ID\n  errors: [UserError!]!\n}\n\n");
    }
    let auth_default = if r { "VIEWER" } else { "MEMBER" };
    let auth_locations =
        if r { "OBJECT | FIELD_DEFINITION | INTERFACE" } else { "OBJECT | FIELD_DEFINITION" };
    let auth_doc = if r { "Lowest role allowed." } else { "Minimum role." };
    let _ = writeln!(
        s,
        "directive @auth(\"{auth_doc}\" requires: Role = {auth_default}) on {auth_locations}\n"
    );
    let internal = if r { "" } else { " repeatable" };
    let _ = writeln!(s, "directive @internal{internal} on SCHEMA | FIELD_DEFINITION | OBJECT\n");
    let cost_repeatable = if r { " repeatable" } else { "" };
    let _ = writeln!(
        s,
        "directive @cost(complexity: Int!, multipliers: [String!]){cost_repeatable} on FIELD_DEFINITION\n"
    );
    let (max_age, cache_locations) = if r {
        ("Int!", "FIELD_DEFINITION | OBJECT | INTERFACE | UNION")
    } else {
        ("Int", "FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ENUM")
    };
    let _ = writeln!(
        s,
        "directive @cacheControl(maxAge: {max_age}, scope: CacheScope) on {cache_locations}\n"
    );
    let level = if r { ", level: Int" } else { ", note: String" };
    let _ = writeln!(
        s,
        "directive @sensitive(reason: String{level}) on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION\n"
    );
    let tag_doc = if r { "\"Groups schema elements for tooling.\"\n" } else { "" };
    let _ = writeln!(
        s,
        "{tag_doc}directive @tag(name: String!) repeatable on OBJECT | FIELD_DEFINITION | ENUM_VALUE | INPUT_OBJECT | SCALAR | ENUM | UNION | INTERFACE | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | SCHEMA\n"
    );
    if !r {
        s.push_str("directive @rateLimit(window: String! = \"1m\", max: Int = 100) on FIELD_DEFINITION\n\n");
    }
    let (doc, since) = if r {
        ("Experimental: may change without notice.", "(since: String! = \"2024-01\")")
    } else {
        ("Experimental.", "")
    };
    let _ = writeln!(s, "\"{doc}\"\ndirective @experimental{since} on FIELD_DEFINITION | OBJECT\n");
    if r {
        s.push_str("directive @audit(category: String) on FIELD_DEFINITION | OBJECT\n\n");
    }
}

fn query(s: &mut String, r: bool) {
    s.push_str("type Query {\n  node(id: ID!): Node\n");
    let first = if r { 20 } else { 10 };
    let _ = writeln!(s, "  search(query: String!, first: Int = {first}): [SearchResult!]!");
    for (i, name) in ENTITIES.iter().enumerate() {
        let e = lower(name);
        let k = kinds(i, r);
        let _ = writeln!(s, "  {e}(id: ID!): {name}");
        let es_first = if k.contains(&53) { 25 } else { 20 };
        let _ = writeln!(
            s,
            "  {e}s(filter: {name}Filter, first: Int = {es_first}, after: String): {name}Connection!"
        );
        if !k.contains(&52) {
            let _ = writeln!(s, "  {e}By(lookup: {name}Lookup!): {name}");
        }
    }
    s.push_str("}\n\ntype Mutation {\n");
    for (i, name) in ENTITIES.iter().enumerate() {
        let k = kinds(i, r);
        let rate = if i % 8 == 0 && !r { " @rateLimit(max: 10)" } else { "" };
        let _ =
            writeln!(s, "  create{name}(input: Create{name}Input!): Create{name}Payload!{rate}");
        let reason = if k.contains(&51) { "String!" } else { "String" };
        let _ = writeln!(s, "  archive{name}(id: ID!, reason: {reason}): {name}");
        let _ = writeln!(s, "  delete{name}(id: ID!): DeletePayload");
    }
    s.push_str("}\n\ntype Subscription {\n");
    for name in ENTITIES {
        let _ = writeln!(s, "  {}Changed(id: ID!): {name}", lower(name));
    }
    s.push_str("}\n\n");
}

/// The change kinds entity `i` gets in the revision (none in the base).
fn kinds(i: usize, revision: bool) -> Vec<usize> {
    if revision { vec![i % KINDS, (i + 18) % KINDS, (i + 36) % KINDS] } else { Vec::new() }
}

#[allow(clippy::too_many_lines)] // one entity's types, each change kind a line or two
fn entity(s: &mut String, i: usize, name: &str, r: bool) {
    let k = kinds(i, r);
    let has = |kind: usize| k.contains(&kind);
    let e = lower(name);
    // The object type.
    let doc = if has(30) {
        format!("A {e} tracked by the platform.")
    } else {
        format!("A {e} in the platform.")
    };
    let _ = writeln!(s, "\"\"\"\n{doc}\n\"\"\"");
    let mut interfaces = vec!["Node"];
    if !has(34) {
        interfaces.push("Timestamped");
    }
    if has(33) || i.is_multiple_of(4) {
        interfaces.push("Ownable");
    }
    let mut type_dirs = String::new();
    if !has(39) {
        let cache = if has(40) {
            "@cacheControl(maxAge: 300)"
        } else if has(41) {
            "@cacheControl(maxAge: 60, scope: PRIVATE)"
        } else {
            "@cacheControl(maxAge: 60)"
        };
        type_dirs.push(' ');
        type_dirs.push_str(cache);
    }
    if has(38) {
        type_dirs.push_str(" @tag(name: \"core\")");
    }
    if has(47) {
        type_dirs.push_str(" @experimental");
    }
    let _ = writeln!(s, "type {name} implements {}{type_dirs} {{", interfaces.join(" & "));
    s.push_str("  id: ID!\n  createdAt: DateTime!\n  updatedAt: DateTime\n");
    if !has(32) {
        s.push_str("  \"Display name.\"\n");
    }
    s.push_str(if has(3) { "  name: String\n" } else { "  name: String!\n" });
    if !has(0) {
        if has(31) {
            s.push_str("  \"Free text, Markdown.\"\n");
        }
        s.push_str(if has(2) { "  description: String!\n" } else { "  description: String\n" });
    }
    if !has(29) {
        let reason = if has(28) { "Use `name`; slugs are derived." } else { "Use `name`." };
        let _ = writeln!(s, "  slug: String @deprecated(reason: \"{reason}\")");
    } else {
        s.push_str("  slug: String\n");
    }
    let _ = writeln!(s, "  status: {name}Status!");
    let auth = if has(43) { " @auth(requires: ADMIN)" } else { "" };
    let _ = writeln!(s, "  owner: User{auth}");
    s.push_str(if has(4) { "  tags: [String]!\n" } else { "  tags: [String!]!\n" });
    let deprecated =
        if has(27) { " @deprecated(reason: \"Scores are computed per team.\")" } else { "" };
    let _ = writeln!(s, "  score: Float @cost(complexity: 2){deprecated}");
    if !has(35) {
        let stats = if has(50) { "JSON".to_string() } else { format!("{name}Stats") };
        let _ = writeln!(s, "  stats: {stats}");
    }
    // related(...) and its arguments.
    let mut args = Vec::new();
    args.push(if has(9) { "first: Int = 50".to_string() } else { "first: Int = 20".to_string() });
    if !has(8) {
        args.push(if has(11) { "after: ID".to_string() } else { "after: String".to_string() });
    }
    args.push(if has(10) {
        "includeArchived: Boolean = false".to_string()
    } else {
        "includeArchived: Boolean! = false".to_string()
    });
    args.push(format!("orderBy: {name}Order"));
    if has(5) {
        args.push(format!("filter: {name}Filter"));
    }
    if has(6) {
        args.push("scope: String!".to_string());
    }
    if has(7) {
        args.push("pageSize: Int! = 50".to_string());
    }
    let cost = if has(42) {
        "@cost(complexity: 10)"
    } else {
        "@cost(complexity: 10, multipliers: [\"first\"])"
    };
    let _ = writeln!(s, "  related({}): {name}Connection! {cost}", args.join(", "));
    let limit_doc = if has(12) { "Maximum entries returned." } else { "How many entries." };
    let since_dirs = match (has(45), has(13)) {
        (true, true) => " @deprecated(reason: \"Use limit.\")",
        (true, false) => "",
        (false, true) => " @sensitive @deprecated(reason: \"Use limit.\")",
        (false, false) => " @sensitive",
    };
    let _ = writeln!(
        s,
        "  history(\"{limit_doc}\" limit: Int = 10, since: DateTime{since_dirs}): [{name}Event!]!"
    );
    if has(1) {
        s.push_str("  archivedAt: DateTime\n");
    }
    if has(36) {
        let _ = writeln!(s, "  audit: [{name}AuditEntry!]");
    }
    s.push_str("}\n\n");
    // Status enum.
    let enum_dirs = if has(49) { " @tag(name: \"lifecycle\")" } else { "" };
    let _ = writeln!(s, "enum {name}Status{enum_dirs} {{");
    if has(18) {
        s.push_str("  \"Visible to everyone.\"\n");
    }
    let active = if has(48) { " @tag(name: \"default\")" } else { "" };
    let _ = writeln!(s, "  ACTIVE{active}");
    s.push_str(if has(16) {
        "  ARCHIVED @deprecated(reason: \"Archive is a flag now.\")\n"
    } else {
        "  ARCHIVED\n"
    });
    let draft = if has(17) { "Drafts moved to the editor." } else { "Drafts are gone." };
    let _ = writeln!(s, "  DRAFT @deprecated(reason: \"{draft}\")");
    if !has(15) {
        s.push_str("  PENDING\n");
    }
    if has(14) {
        s.push_str("  SUSPENDED\n");
    }
    s.push_str("}\n\n");
    // Connection, edge, event, stats.
    let _ = writeln!(
        s,
        "type {name}Connection {{\n  edges: [{name}Edge!]!\n  pageInfo: PageInfo!\n  totalCount: Int!\n}}\n"
    );
    let _ = writeln!(s, "type {name}Edge {{\n  cursor: String!\n  node: {name}!\n}}\n");
    let _ =
        writeln!(s, "type {name}Event {{\n  at: DateTime!\n  actor: User\n  action: String!\n}}\n");
    if !has(35) {
        let keyword = if has(37) { "interface" } else { "type" };
        let _ =
            writeln!(s, "{keyword} {name}Stats {{\n  count: Int!\n  lastActivity: DateTime\n}}\n");
    }
    if has(36) {
        let _ = writeln!(s, "type {name}AuditEntry {{\n  at: DateTime!\n  change: String!\n}}\n");
    }
    // Inputs.
    let _ = writeln!(s, "input {name}Filter {{\n  ids: [ID!]\n  status: {name}Status");
    s.push_str(if has(24) { "  query: [String!]\n" } else { "  query: String\n" });
    if !has(22) {
        s.push_str("  createdAfter: DateTime\n");
    }
    s.push_str(if has(25) { "  limit: Int = 100\n" } else { "  limit: Int = 20\n" });
    if has(19) {
        s.push_str("  ownerId: ID\n");
    }
    s.push_str("}\n\n");
    let _ = writeln!(s, "input Create{name}Input {{");
    s.push_str(if has(23) { "  name: String\n" } else { "  name: String!\n" });
    s.push_str(if has(44) {
        "  description: String @sensitive\n"
    } else {
        "  description: String\n"
    });
    s.push_str("  tags: [String!] = []\n  ownerId: ID @sensitive\n");
    if has(20) {
        s.push_str("  workspaceId: ID!\n");
    }
    if has(21) {
        s.push_str("  visibility: String = \"private\"\n");
    }
    s.push_str("}\n\n");
    let direction = if has(26) { "DESC" } else { "ASC" };
    let _ = writeln!(
        s,
        "input {name}Order {{\n  field: {name}OrderField!\n  direction: OrderDirection! = {direction}\n}}\n"
    );
    let _ = writeln!(s, "enum {name}OrderField {{\n  CREATED_AT\n  NAME\n  UPDATED_AT\n}}\n");
    let one_of = i.is_multiple_of(2) != has(46);
    let _ = writeln!(
        s,
        "input {name}Lookup{} {{\n  id: ID\n  slug: String\n}}\n",
        if one_of { " @oneOf" } else { "" }
    );
    let _ =
        writeln!(s, "type Create{name}Payload {{\n  record: {name}\n  errors: [UserError!]!\n}}\n");
}
