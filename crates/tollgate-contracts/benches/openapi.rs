//! Diff of two generated ~10 MB OpenAPI documents (the second with a change in every tenth
//! operation), loading included.

#![allow(missing_docs)]
// A bench binary: printing the document size it measured is its job.
#![allow(clippy::print_stderr)]

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::hint::black_box;
use tollgate_contracts::openapi;

/// A JSON document of `paths` resources, each with GET and POST over its own component
/// schemas; `revise` breaks every tenth resource in a different way.
fn generate(paths: usize, revise: bool) -> String {
    let mut path_items = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for i in 0..paths {
        let changed = revise && i % 10 == 0;
        let mut props = serde_json::Map::new();
        for p in 0..12 {
            let ty = if changed && p == 3 { "integer" } else { "string" };
            props.insert(
                format!("field{p}"),
                json!({"type": ty, "maxLength": 64, "description": "a field of the resource"}),
            );
        }
        props.insert(
            "status".into(),
            json!({"type": "string", "enum": if changed { json!(["a", "b", "c"]) } else { json!(["a", "b"]) }}),
        );
        props.insert(
            "children".into(),
            json!({"type": "array", "items": {"$ref": format!("#/components/schemas/Res{i}")}}),
        );
        let required = if changed { json!(["field0"]) } else { json!(["field0", "field1"]) };
        schemas.insert(
            format!("Res{i}"),
            json!({"type": "object", "required": required, "properties": props}),
        );
        let mut params = vec![
            json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}),
            json!({"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": if changed { 50 } else { 100 }}}),
        ];
        if changed {
            params.push(json!({"name": "tenant", "in": "header", "required": true, "schema": {"type": "string"}}));
        }
        let body = json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/Res{i}")}}}});
        path_items.insert(
            format!("/resources{i}/{{id}}"),
            json!({
                "get": {
                    "operationId": format!("get{i}"),
                    "parameters": params,
                    "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/Res{i}")}}}}, "404": {"description": "missing"}}
                },
                "post": {
                    "operationId": format!("post{i}"),
                    "requestBody": body,
                    "responses": {"201": {"description": "created", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/Res{i}")}}}}}
                }
            }),
        );
    }
    let doc: Value = json!({
        "openapi": "3.0.3",
        "info": {"title": "bench", "version": if revise { "2.0.0" } else { "1.0.0" }},
        "paths": path_items,
        "components": {"schemas": schemas}
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let paths = 3_300;
    let base_text = generate(paths, false);
    let rev_text = generate(paths, true);
    let base =
        openapi::load_str("base.json", &base_text, |_| Err(String::new())).expect("base loads");
    let rev = openapi::load_str("revision.json", &rev_text, |_| Err(String::new()))
        .expect("revision loads");
    let mb = (base_text.len() as f64) / 1e6;
    let found = openapi::diff(&base, &rev).len();
    eprintln!("openapi bench: {mb:.1} MB per document, {found} changes");
    let mut group = c.benchmark_group("openapi");
    group.sample_size(10);
    group.bench_function("diff 10MB", |b| b.iter(|| black_box(openapi::diff(&base, &rev))));
    group.bench_function("load+diff 10MB", |b| {
        b.iter(|| {
            let base =
                openapi::load_str("base.json", &base_text, |_| Err(String::new())).expect("loads");
            let rev = openapi::load_str("revision.json", &rev_text, |_| Err(String::new()))
                .expect("loads");
            black_box(openapi::diff(&base, &rev))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
