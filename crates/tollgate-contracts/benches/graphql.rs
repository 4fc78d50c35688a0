//! Diffing two generated ~1 MB GraphQL schemas (parse both, then diff), and the realistic
//! ~720-type pair the side-by-side with graphql-inspector uses.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tollgate_contracts::graphql;

#[path = "support/realistic_gen.rs"]
mod realistic_gen;
#[path = "support/schema_gen.rs"]
mod schema_gen;

fn bench(c: &mut Criterion) {
    let (old, new) = (schema_gen::schema(false), schema_gen::schema(true));
    let mut group = c.benchmark_group("graphql");
    group.sample_size(20);
    group.bench_function("parse_1mb", |b| {
        b.iter(|| graphql::parse("old.graphql", black_box(&old)).map(|s| s.type_count()))
    });
    let (base, revision) =
        match (graphql::parse("old.graphql", &old), graphql::parse("new.graphql", &new)) {
            (Ok(b), Ok(r)) => (b, r),
            (Err(e), _) | (_, Err(e)) => panic!("generated schema does not parse: {e}"),
        };
    group.bench_function("diff_1mb", |b| {
        b.iter(|| graphql::diff(black_box(&base), black_box(&revision)).len())
    });
    group.bench_function("parse_and_diff_1mb", |b| {
        b.iter(|| {
            let base = graphql::parse("old.graphql", black_box(&old)).map_err(|e| e.to_string());
            let revision =
                graphql::parse("new.graphql", black_box(&new)).map_err(|e| e.to_string());
            base.and_then(|b| revision.map(|r| graphql::diff(&b, &r).len()))
        })
    });
    let (old, new) = (realistic_gen::schema(false), realistic_gen::schema(true));
    group.bench_function("parse_and_diff_realistic", |b| {
        b.iter(|| {
            let base = graphql::parse("old.graphql", black_box(&old)).map_err(|e| e.to_string());
            let revision =
                graphql::parse("new.graphql", black_box(&new)).map_err(|e| e.to_string());
            base.and_then(|b| revision.map(|r| graphql::diff(&b, &r).len()))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
