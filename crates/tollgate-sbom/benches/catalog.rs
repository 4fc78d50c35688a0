//! SBOM generation speed: cataloguing a 2,000-package Cargo workspace, a 5,000-package npm
//! lockfile and a 20,000-package pnpm lockfile (about 5 MB of wide YAML), and rendering the Cargo inventory as CycloneDX 1.6 and SPDX 2.3.
//!
//! The inputs are generated into a temporary directory on start (`support/mod.rs`; the same
//! trees `examples/gen_bench_trees.rs` writes for `benches/compare.sh`). `Cargo.lock` is written
//! by `cargo generate-lockfile --offline`. Run with `cargo bench -p tollgate-sbom --bench catalog`.

#![allow(clippy::print_stderr)]

mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;
use tollgate_sbom::catalog::{self, CatalogOptions};
use tollgate_sbom::format::{self, CycloneDxVersion, DocumentInfo, SbomFormat};

fn info() -> DocumentInfo {
    DocumentInfo {
        subject: "bench".to_owned(),
        timestamp: "2026-01-01T00:00:00Z".to_owned(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        ..Default::default()
    }
}

/// A Cargo home with no registry sources: the generated packages are all path packages, and
/// the benchmark must not depend on what the machine has unpacked.
fn options(cargo_home: &Path) -> CatalogOptions {
    CatalogOptions { cargo_home: Some(cargo_home.to_path_buf()), ..CatalogOptions::default() }
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cargo_root = dir.path().join("cargo");
    let npm_root = dir.path().join("npm");
    let cargo_home = dir.path().join("cargo-home");
    std::fs::create_dir_all(&cargo_home).expect("cargo home");

    let stats = support::write_cargo_workspace(&cargo_root, &support::CargoSpec::default())
        .expect("writing the Cargo workspace");
    support::generate_lockfile(&cargo_root).expect("cargo generate-lockfile");
    let npm_stats = support::write_npm_project(&npm_root, &support::NpmSpec::default())
        .expect("writing the npm project");
    let pnpm_root = dir.path().join("pnpm");
    let pnpm_packages =
        support::write_pnpm_project(&pnpm_root, 20_000, 0x9a9a).expect("writing the pnpm project");
    let pnpm_inventory =
        catalog::catalog_tree(&pnpm_root, &options(&cargo_home)).expect("cataloguing pnpm");
    assert_eq!(pnpm_inventory.components.len(), pnpm_packages + 1, "every pnpm package catalogued");

    let cargo_inventory =
        catalog::catalog_tree(&cargo_root, &options(&cargo_home)).expect("cataloguing Cargo");
    assert_eq!(cargo_inventory.components.len(), stats.packages, "every package catalogued");

    let mut group = c.benchmark_group("catalog_tree");
    group.bench_function("cargo_2000", |b| {
        b.iter(|| catalog::catalog_tree(black_box(&cargo_root), &options(&cargo_home)))
    });
    // The npm cataloguer may not be there yet: measure it only when it reads the lockfile.
    let mut npm_inventory = None;
    match catalog::catalog_tree(&npm_root, &options(&cargo_home)) {
        Ok(inventory) => {
            let libraries = inventory
                .components
                .values()
                .filter(|c| c.kind == tollgate_sbom::ComponentKind::Library)
                .count();
            assert!(
                libraries >= npm_stats.packages - npm_stats.nested,
                "npm: {libraries} libraries for {} packages",
                npm_stats.packages
            );
            group.bench_function("npm_5000", |b| {
                b.iter(|| catalog::catalog_tree(black_box(&npm_root), &options(&cargo_home)))
            });
            npm_inventory = Some(inventory);
        }
        Err(e) => eprintln!("catalog_tree/npm_5000: skipped, the npm cataloguer failed: {e}"),
    }
    group.bench_function("pnpm_20000", |b| {
        b.iter(|| catalog::catalog_tree(black_box(&pnpm_root), &options(&cargo_home)))
    });
    group.finish();

    let info = info();
    let mut group = c.benchmark_group("render_cargo_2000");
    group.bench_function("cyclonedx_1_6", |b| {
        b.iter(|| {
            format::render(
                black_box(&cargo_inventory),
                SbomFormat::CycloneDxJson,
                CycloneDxVersion::V1_6,
                &info,
            )
        })
    });
    group.bench_function("spdx_2_3", |b| {
        b.iter(|| {
            format::render(
                black_box(&cargo_inventory),
                SbomFormat::SpdxJson,
                CycloneDxVersion::default(),
                &info,
            )
        })
    });
    group.finish();

    // npm documents are larger per component (sha512 hashes, distribution references).
    if let Some(npm_inventory) = &npm_inventory {
        let mut group = c.benchmark_group("render_npm_5000");
        group.bench_function("cyclonedx_1_6", |b| {
            b.iter(|| {
                format::render(
                    black_box(npm_inventory),
                    SbomFormat::CycloneDxJson,
                    CycloneDxVersion::V1_6,
                    &info,
                )
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = catalog;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = benches
}
criterion_main!(catalog);
