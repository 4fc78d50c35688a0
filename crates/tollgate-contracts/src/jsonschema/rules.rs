//! The JSON Schema rule table. Levels are those of a change that breaks the chosen mode;
//! a change compatible with the mode is reported at [`Level::Info`].

use crate::change::{Level, RuleDoc};

/// Every JSON Schema rule is in the `schema` area.
const fn rule(
    id: &'static str,
    level: Level,
    direction: &'static str,
    description: &'static str,
) -> RuleDoc {
    crate::change::rule(id, level, "schema", direction, description)
}

use Level::{Error, Info};

/// Every rule the JSON Schema check emits. `direction` says which mode the change breaks:
/// `narrowed` breaks BACKWARD, `widened` breaks FORWARD, `both` breaks every mode.
pub const RULES: &[RuleDoc] = &[
    rule(
        "jsonschema/type-narrowed",
        Error,
        "narrowed",
        "Fewer instance types are allowed (e.g. number to integer, a type array lost `null`).",
    ),
    rule(
        "jsonschema/type-widened",
        Error,
        "widened",
        "More instance types are allowed (e.g. integer to number, `null` added).",
    ),
    rule(
        "jsonschema/type-changed",
        Error,
        "both",
        "The instance type changed to an unrelated one.",
    ),
    rule(
        "jsonschema/enum-narrowed",
        Error,
        "narrowed",
        "Values were removed from `enum` (or `enum`/`const` was added).",
    ),
    rule(
        "jsonschema/enum-widened",
        Error,
        "widened",
        "Values were added to `enum` (or `enum`/`const` was removed).",
    ),
    rule("jsonschema/enum-changed", Error, "both", "`enum` both lost and gained values."),
    rule(
        "jsonschema/range-tightened",
        Error,
        "narrowed",
        "`minimum`/`maximum`/exclusive bounds/`multipleOf` accept fewer numbers.",
    ),
    rule("jsonschema/range-loosened", Error, "widened", "Numeric bounds accept more numbers."),
    rule(
        "jsonschema/range-changed",
        Error,
        "both",
        "`multipleOf` changed to an unrelated divisor.",
    ),
    rule(
        "jsonschema/length-tightened",
        Error,
        "narrowed",
        "Length or count bounds (`minLength`, `maxItems`, `minProperties`, `uniqueItems`, …) accept less.",
    ),
    rule("jsonschema/length-loosened", Error, "widened", "Length or count bounds accept more."),
    rule("jsonschema/pattern-added", Error, "narrowed", "A `pattern` was added."),
    rule("jsonschema/pattern-removed", Error, "widened", "A `pattern` was removed."),
    rule(
        "jsonschema/pattern-changed",
        Error,
        "both",
        "A `pattern` changed (regular expressions are not compared, so both directions may break).",
    ),
    rule(
        "jsonschema/property-added-open-model",
        Error,
        "narrowed",
        "A constrained property was added where additional properties were allowed: old data may carry it with another value.",
    ),
    rule(
        "jsonschema/property-added-closed-model",
        Error,
        "widened",
        "A property was added to a closed content model (`additionalProperties: false`).",
    ),
    rule(
        "jsonschema/property-removed-open-model",
        Error,
        "widened",
        "A property was removed from an open content model: it may now hold any value.",
    ),
    rule(
        "jsonschema/property-removed-closed-model",
        Error,
        "narrowed",
        "A property was removed from a closed content model: data carrying it is rejected.",
    ),
    rule(
        "jsonschema/additional-properties-narrowed",
        Error,
        "narrowed",
        "`additionalProperties` became `false` or a constraining schema.",
    ),
    rule(
        "jsonschema/additional-properties-widened",
        Error,
        "widened",
        "`additionalProperties` was relaxed.",
    ),
    rule(
        "jsonschema/required-added",
        Error,
        "narrowed",
        "A property became required without a default.",
    ),
    rule(
        "jsonschema/required-added-with-default",
        Info,
        "none",
        "A property became required but has a default (registries accept this).",
    ),
    rule("jsonschema/required-removed", Error, "widened", "A property is no longer required."),
    rule(
        "jsonschema/schema-closed",
        Error,
        "narrowed",
        "A subschema became `false` (rejects every value).",
    ),
    rule("jsonschema/schema-opened", Error, "widened", "A `false` subschema now accepts values."),
    rule(
        "jsonschema/subschema-added",
        Error,
        "both",
        "`anyOf`/`oneOf` gained an alternative (widened) or `allOf` a conjunct (narrowed).",
    ),
    rule(
        "jsonschema/subschema-removed",
        Error,
        "both",
        "`anyOf`/`oneOf` lost an alternative (narrowed) or `allOf` a conjunct (widened).",
    ),
    rule(
        "jsonschema/keyword-narrowed",
        Error,
        "narrowed",
        "A 2020-12 keyword now rejects data the base accepted: `const`-like or count bounds \
         (`minContains`/`maxContains`), `dependentRequired`, `contentEncoding`/`contentMediaType`, \
         or a sub-schema added under `contains`, `propertyNames`, `not`, `if`/`then`/`else`, \
         `dependentSchemas`, `patternProperties`, `prefixItems`, `unevaluatedProperties`/`Items`.",
    ),
    rule(
        "jsonschema/keyword-widened",
        Error,
        "widened",
        "A 2020-12 keyword now accepts data the base rejected (the same keywords, loosened or removed).",
    ),
    rule(
        "jsonschema/keyword-changed",
        Error,
        "both",
        "A 2020-12 keyword changed both ways (an `if` condition, a `contentMediaType` replaced): \
         some old data is rejected and some new data was not valid before.",
    ),
];
