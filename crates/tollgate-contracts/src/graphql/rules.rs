//! The GraphQL rule table: stable ids, default levels (graphql-inspector's criticality).

use crate::change::{Level, RuleDoc, rule};

use Level::{Error, Info, Warning};

/// Every rule the GraphQL diff emits.
pub const RULES: &[RuleDoc] = &[
    rule(
        "graphql/type-removed",
        Error,
        "type",
        "both",
        "A named type was removed; operations and fragments naming it fail validation.",
    ),
    rule(
        "graphql/type-kind-changed",
        Error,
        "type",
        "both",
        "A type changed kind (e.g. object to interface); selections and inputs on it break.",
    ),
    rule("graphql/type-added", Info, "type", "both", "A named type was added."),
    rule(
        "graphql/field-removed",
        Error,
        "field",
        "response",
        "A field of an object or interface was removed; queries selecting it fail validation.",
    ),
    rule(
        "graphql/field-added",
        Info,
        "field",
        "response",
        "A field was added to an object or interface.",
    ),
    rule(
        "graphql/field-type-changed",
        Error,
        "field",
        "response",
        "A field's type changed in a way clients cannot absorb (other named type, lost non-null, changed list shape).",
    ),
    rule(
        "graphql/field-type-changed-safe",
        Info,
        "field",
        "response",
        "A field's type became stricter for the server only (added non-null).",
    ),
    rule(
        "graphql/argument-removed",
        Error,
        "argument",
        "request",
        "An argument was removed from a field; queries passing it fail validation.",
    ),
    rule(
        "graphql/argument-required-added",
        Error,
        "argument",
        "request",
        "A non-null argument without default was added; existing queries omit it.",
    ),
    rule(
        "graphql/argument-optional-added",
        Warning,
        "argument",
        "request",
        "An optional argument was added; harmless unless clients relied on the field's old behaviour.",
    ),
    rule(
        "graphql/argument-type-changed",
        Error,
        "argument",
        "request",
        "An argument's type changed in a way existing queries may violate (other type, became non-null, changed list shape).",
    ),
    rule(
        "graphql/argument-type-changed-safe",
        Info,
        "argument",
        "request",
        "An argument's type became more permissive (lost non-null).",
    ),
    rule(
        "graphql/argument-default-changed",
        Warning,
        "argument",
        "request",
        "An argument's default value changed; clients omitting it get other results.",
    ),
    rule(
        "graphql/input-field-removed",
        Error,
        "input-field",
        "request",
        "A field of an input object was removed; inputs setting it are rejected.",
    ),
    rule(
        "graphql/input-field-required-added",
        Error,
        "input-field",
        "request",
        "A non-null input field without default was added; existing inputs lack it.",
    ),
    rule(
        "graphql/input-field-optional-added",
        Info,
        "input-field",
        "request",
        "A nullable input field without default was added; existing inputs omit it and mean what they meant.",
    ),
    rule(
        "graphql/input-field-with-default-added",
        Warning,
        "input-field",
        "request",
        "An input field with a default value was added; inputs omitting it now get the default, which may change what they do.",
    ),
    rule(
        "graphql/input-field-type-changed",
        Error,
        "input-field",
        "request",
        "An input field's type changed in a way existing inputs may violate.",
    ),
    rule(
        "graphql/input-field-type-changed-safe",
        Info,
        "input-field",
        "request",
        "An input field's type became more permissive (lost non-null).",
    ),
    rule(
        "graphql/input-field-default-changed",
        Warning,
        "input-field",
        "request",
        "An input field's default value changed.",
    ),
    rule(
        "graphql/enum-value-removed",
        Error,
        "enum",
        "both",
        "An enum value was removed; clients sending or expecting it break.",
    ),
    rule(
        "graphql/enum-value-added",
        Warning,
        "enum",
        "response",
        "An enum value was added; clients with exhaustive switches may not handle it.",
    ),
    rule(
        "graphql/union-member-removed",
        Error,
        "union",
        "response",
        "A member was removed from a union; fragments on it no longer validate.",
    ),
    rule(
        "graphql/union-member-added",
        Warning,
        "union",
        "response",
        "A member was added to a union; clients may receive an unhandled __typename.",
    ),
    rule(
        "graphql/object-interface-removed",
        Error,
        "interface",
        "response",
        "An object no longer implements an interface; fragments spreading the interface on it break.",
    ),
    rule(
        "graphql/object-interface-added",
        Warning,
        "interface",
        "response",
        "An object now implements an interface; interface selections may return a new __typename.",
    ),
    rule(
        "graphql/interface-interface-removed",
        Error,
        "interface",
        "response",
        "An interface no longer implements another interface.",
    ),
    rule(
        "graphql/interface-interface-added",
        Warning,
        "interface",
        "response",
        "An interface now implements another interface; selections on that interface may return new possible types.",
    ),
    rule(
        "graphql/directive-removed",
        Error,
        "directive",
        "request",
        "A directive definition was removed; documents using it fail validation.",
    ),
    rule(
        "graphql/directive-added",
        Info,
        "directive",
        "request",
        "A directive definition was added.",
    ),
    rule(
        "graphql/directive-location-removed",
        Error,
        "directive",
        "request",
        "A directive may no longer be used at a location.",
    ),
    rule(
        "graphql/directive-location-added",
        Info,
        "directive",
        "request",
        "A directive may now be used at another location.",
    ),
    rule(
        "graphql/directive-argument-removed",
        Error,
        "directive",
        "request",
        "An argument was removed from a directive.",
    ),
    rule(
        "graphql/directive-argument-required-added",
        Error,
        "directive",
        "request",
        "A non-null argument was added to a directive; graphql-inspector counts it breaking even with a default, as existing uses were written without it.",
    ),
    rule(
        "graphql/directive-argument-optional-added",
        Info,
        "directive",
        "request",
        "A nullable argument was added to a directive.",
    ),
    rule(
        "graphql/directive-argument-type-changed",
        Error,
        "directive",
        "request",
        "A directive argument's type changed incompatibly.",
    ),
    rule(
        "graphql/directive-argument-type-changed-safe",
        Info,
        "directive",
        "request",
        "A directive argument's type became more permissive.",
    ),
    rule(
        "graphql/directive-argument-default-changed",
        Warning,
        "directive",
        "request",
        "A directive argument's default value changed; uses omitting it behave differently.",
    ),
    rule(
        "graphql/directive-repeatable-added",
        Info,
        "directive",
        "request",
        "A directive became repeatable.",
    ),
    rule(
        "graphql/directive-repeatable-removed",
        Warning,
        "directive",
        "request",
        "A directive is no longer repeatable; an element or document using it twice becomes invalid.",
    ),
    rule(
        "graphql/directive-usage-added",
        Warning,
        "directive-usage",
        "both",
        "A directive was applied to an existing type, field, argument, input field, enum value or the schema; tools and servers acting on it may change behaviour.",
    ),
    rule(
        "graphql/directive-usage-removed",
        Warning,
        "directive-usage",
        "both",
        "A directive was removed from a schema element; behaviour it drove may change.",
    ),
    rule(
        "graphql/directive-usage-argument-added",
        Info,
        "directive-usage",
        "both",
        "An argument was added to an applied directive.",
    ),
    rule(
        "graphql/directive-usage-argument-removed",
        Warning,
        "directive-usage",
        "both",
        "An argument was removed from an applied directive; behaviour it drove may change.",
    ),
    rule(
        "graphql/directive-usage-argument-changed",
        Warning,
        "directive-usage",
        "both",
        "An argument of an applied directive changed value; behaviour it drives may change.",
    ),
    rule(
        "graphql/one-of-added",
        Error,
        "input-object",
        "request",
        "`@oneOf` was applied to an existing input object; inputs setting more or fewer than one field are now rejected.",
    ),
    rule(
        "graphql/one-of-removed",
        Info,
        "input-object",
        "request",
        "`@oneOf` was removed from an input object; every input it accepted is still accepted.",
    ),
    rule(
        "graphql/schema-root-changed",
        Error,
        "schema",
        "both",
        "A root operation type (query, mutation, subscription) was changed or removed.",
    ),
    rule("graphql/schema-root-added", Info, "schema", "both", "A root operation type was added."),
    rule(
        "graphql/deprecation-added",
        Info,
        "deprecation",
        "both",
        "A field, argument, input field, directive argument or enum value was deprecated.",
    ),
    rule(
        "graphql/deprecation-removed",
        Info,
        "deprecation",
        "both",
        "A deprecation was withdrawn.",
    ),
    rule(
        "graphql/deprecation-reason-changed",
        Info,
        "deprecation",
        "both",
        "A deprecation reason changed.",
    ),
    rule(
        "graphql/description-changed",
        Info,
        "description",
        "both",
        "A description (of a type, field, argument, input field, enum value, directive or directive argument) was added, removed or changed.",
    ),
];

/// graphql-inspector's change types (`@graphql-inspector/core` 8) and the rules that report
/// them, with the same class (breaking = error, dangerous = warning, safe = info); a type whose
/// class depends on the change maps to one rule per class. `DIRECTIVE_USAGE_FIELD_*` (a
/// directive on a field selection) cannot occur in SDL, so nothing reports it.
pub const INSPECTOR_CHANGE_TYPES: &[(&str, &[&str])] = &[
    ("FIELD_ARGUMENT_DESCRIPTION_CHANGED", &["graphql/description-changed"]),
    ("FIELD_ARGUMENT_DEFAULT_CHANGED", &["graphql/argument-default-changed"]),
    (
        "FIELD_ARGUMENT_TYPE_CHANGED",
        &["graphql/argument-type-changed", "graphql/argument-type-changed-safe"],
    ),
    ("DIRECTIVE_REMOVED", &["graphql/directive-removed"]),
    ("DIRECTIVE_ADDED", &["graphql/directive-added"]),
    ("DIRECTIVE_DESCRIPTION_CHANGED", &["graphql/description-changed"]),
    ("DIRECTIVE_LOCATION_ADDED", &["graphql/directive-location-added"]),
    ("DIRECTIVE_LOCATION_REMOVED", &["graphql/directive-location-removed"]),
    (
        "DIRECTIVE_ARGUMENT_ADDED",
        &["graphql/directive-argument-required-added", "graphql/directive-argument-optional-added"],
    ),
    ("DIRECTIVE_ARGUMENT_REMOVED", &["graphql/directive-argument-removed"]),
    ("DIRECTIVE_ARGUMENT_DESCRIPTION_CHANGED", &["graphql/description-changed"]),
    ("DIRECTIVE_ARGUMENT_DEFAULT_VALUE_CHANGED", &["graphql/directive-argument-default-changed"]),
    (
        "DIRECTIVE_ARGUMENT_TYPE_CHANGED",
        &[
            "graphql/directive-argument-type-changed",
            "graphql/directive-argument-type-changed-safe",
        ],
    ),
    ("DIRECTIVE_REPEATABLE_ADDED", &["graphql/directive-repeatable-added"]),
    ("DIRECTIVE_REPEATABLE_REMOVED", &["graphql/directive-repeatable-removed"]),
    ("ENUM_VALUE_REMOVED", &["graphql/enum-value-removed"]),
    ("ENUM_VALUE_ADDED", &["graphql/enum-value-added"]),
    ("ENUM_VALUE_DESCRIPTION_CHANGED", &["graphql/description-changed"]),
    ("ENUM_VALUE_DEPRECATION_REASON_CHANGED", &["graphql/deprecation-reason-changed"]),
    (
        "ENUM_VALUE_DEPRECATION_REASON_ADDED",
        &["graphql/deprecation-added", "graphql/deprecation-reason-changed"],
    ),
    (
        "ENUM_VALUE_DEPRECATION_REASON_REMOVED",
        &["graphql/deprecation-removed", "graphql/deprecation-reason-changed"],
    ),
    ("FIELD_REMOVED", &["graphql/field-removed"]),
    ("FIELD_ADDED", &["graphql/field-added"]),
    ("FIELD_DESCRIPTION_CHANGED", &["graphql/description-changed"]),
    ("FIELD_DESCRIPTION_ADDED", &["graphql/description-changed"]),
    ("FIELD_DESCRIPTION_REMOVED", &["graphql/description-changed"]),
    ("FIELD_DEPRECATION_ADDED", &["graphql/deprecation-added"]),
    ("FIELD_DEPRECATION_REMOVED", &["graphql/deprecation-removed"]),
    ("FIELD_DEPRECATION_REASON_CHANGED", &["graphql/deprecation-reason-changed"]),
    ("FIELD_DEPRECATION_REASON_ADDED", &["graphql/deprecation-reason-changed"]),
    ("FIELD_DEPRECATION_REASON_REMOVED", &["graphql/deprecation-reason-changed"]),
    ("FIELD_TYPE_CHANGED", &["graphql/field-type-changed", "graphql/field-type-changed-safe"]),
    (
        "FIELD_ARGUMENT_ADDED",
        &["graphql/argument-required-added", "graphql/argument-optional-added"],
    ),
    ("FIELD_ARGUMENT_REMOVED", &["graphql/argument-removed"]),
    ("INPUT_FIELD_REMOVED", &["graphql/input-field-removed"]),
    (
        "INPUT_FIELD_ADDED",
        &[
            "graphql/input-field-required-added",
            "graphql/input-field-with-default-added",
            "graphql/input-field-optional-added",
        ],
    ),
    ("INPUT_FIELD_DESCRIPTION_ADDED", &["graphql/description-changed"]),
    ("INPUT_FIELD_DESCRIPTION_REMOVED", &["graphql/description-changed"]),
    ("INPUT_FIELD_DESCRIPTION_CHANGED", &["graphql/description-changed"]),
    ("INPUT_FIELD_DEFAULT_VALUE_CHANGED", &["graphql/input-field-default-changed"]),
    (
        "INPUT_FIELD_TYPE_CHANGED",
        &["graphql/input-field-type-changed", "graphql/input-field-type-changed-safe"],
    ),
    (
        "OBJECT_TYPE_INTERFACE_ADDED",
        &["graphql/object-interface-added", "graphql/interface-interface-added"],
    ),
    (
        "OBJECT_TYPE_INTERFACE_REMOVED",
        &["graphql/object-interface-removed", "graphql/interface-interface-removed"],
    ),
    ("SCHEMA_QUERY_TYPE_CHANGED", &["graphql/schema-root-changed", "graphql/schema-root-added"]),
    ("SCHEMA_MUTATION_TYPE_CHANGED", &["graphql/schema-root-changed", "graphql/schema-root-added"]),
    (
        "SCHEMA_SUBSCRIPTION_TYPE_CHANGED",
        &["graphql/schema-root-changed", "graphql/schema-root-added"],
    ),
    ("TYPE_REMOVED", &["graphql/type-removed"]),
    ("TYPE_ADDED", &["graphql/type-added"]),
    ("TYPE_KIND_CHANGED", &["graphql/type-kind-changed"]),
    ("TYPE_DESCRIPTION_CHANGED", &["graphql/description-changed"]),
    ("TYPE_DESCRIPTION_REMOVED", &["graphql/description-changed"]),
    ("TYPE_DESCRIPTION_ADDED", &["graphql/description-changed"]),
    ("UNION_MEMBER_REMOVED", &["graphql/union-member-removed"]),
    ("UNION_MEMBER_ADDED", &["graphql/union-member-added"]),
    ("DIRECTIVE_USAGE_UNION_MEMBER_ADDED", &["graphql/directive-usage-added"]),
    ("DIRECTIVE_USAGE_UNION_MEMBER_REMOVED", &["graphql/directive-usage-removed"]),
    ("DIRECTIVE_USAGE_ENUM_ADDED", &["graphql/directive-usage-added"]),
    ("DIRECTIVE_USAGE_ENUM_REMOVED", &["graphql/directive-usage-removed"]),
    (
        "DIRECTIVE_USAGE_ENUM_VALUE_ADDED",
        &["graphql/directive-usage-added", "graphql/deprecation-added"],
    ),
    (
        "DIRECTIVE_USAGE_ENUM_VALUE_REMOVED",
        &["graphql/directive-usage-removed", "graphql/deprecation-removed"],
    ),
    (
        "DIRECTIVE_USAGE_INPUT_OBJECT_ADDED",
        &["graphql/directive-usage-added", "graphql/one-of-added"],
    ),
    (
        "DIRECTIVE_USAGE_INPUT_OBJECT_REMOVED",
        &["graphql/directive-usage-removed", "graphql/one-of-removed"],
    ),
    ("DIRECTIVE_USAGE_FIELD_ADDED", &[]),
    ("DIRECTIVE_USAGE_FIELD_REMOVED", &[]),
    ("DIRECTIVE_USAGE_SCALAR_ADDED", &["graphql/directive-usage-added"]),
    ("DIRECTIVE_USAGE_SCALAR_REMOVED", &["graphql/directive-usage-removed"]),
    ("DIRECTIVE_USAGE_OBJECT_ADDED", &["graphql/directive-usage-added"]),
    ("DIRECTIVE_USAGE_OBJECT_REMOVED", &["graphql/directive-usage-removed"]),
    ("DIRECTIVE_USAGE_INTERFACE_ADDED", &["graphql/directive-usage-added"]),
    ("DIRECTIVE_USAGE_INTERFACE_REMOVED", &["graphql/directive-usage-removed"]),
    (
        "DIRECTIVE_USAGE_ARGUMENT_DEFINITION_ADDED",
        &["graphql/directive-usage-added", "graphql/deprecation-added"],
    ),
    (
        "DIRECTIVE_USAGE_ARGUMENT_DEFINITION_REMOVED",
        &["graphql/directive-usage-removed", "graphql/deprecation-removed"],
    ),
    ("DIRECTIVE_USAGE_SCHEMA_ADDED", &["graphql/directive-usage-added"]),
    ("DIRECTIVE_USAGE_SCHEMA_REMOVED", &["graphql/directive-usage-removed"]),
    (
        "DIRECTIVE_USAGE_FIELD_DEFINITION_ADDED",
        &["graphql/directive-usage-added", "graphql/deprecation-added"],
    ),
    (
        "DIRECTIVE_USAGE_FIELD_DEFINITION_REMOVED",
        &["graphql/directive-usage-removed", "graphql/deprecation-removed"],
    ),
    (
        "DIRECTIVE_USAGE_INPUT_FIELD_DEFINITION_ADDED",
        &["graphql/directive-usage-added", "graphql/deprecation-added"],
    ),
    (
        "DIRECTIVE_USAGE_INPUT_FIELD_DEFINITION_REMOVED",
        &["graphql/directive-usage-removed", "graphql/deprecation-removed"],
    ),
    (
        "DIRECTIVE_USAGE_ARGUMENT_ADDED",
        &["graphql/directive-usage-argument-added", "graphql/directive-usage-argument-changed"],
    ),
    (
        "DIRECTIVE_USAGE_ARGUMENT_REMOVED",
        &["graphql/directive-usage-argument-removed", "graphql/directive-usage-argument-changed"],
    ),
];

/// The default level of a rule id emitted by the diff.
pub(crate) fn level(id: &str) -> Level {
    RULES.iter().find(|r| r.id == id).map_or(Level::Error, |r| r.level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inspector_change_type_maps_to_rules_and_every_rule_to_a_change_type() {
        assert_eq!(INSPECTOR_CHANGE_TYPES.len(), 80, "graphql-inspector 8 has 80 change types");
        for (change_type, ids) in INSPECTOR_CHANGE_TYPES {
            for id in *ids {
                assert!(RULES.iter().any(|r| r.id == *id), "{change_type}: no rule {id}");
            }
        }
        for rule in RULES {
            assert!(
                INSPECTOR_CHANGE_TYPES.iter().any(|(_, ids)| ids.contains(&rule.id)),
                "{} reports no graphql-inspector change type",
                rule.id
            );
        }
    }
}
