//! Diffs two SDL files and prints one line per change; compares the verdicts with
//! graphql-inspector's (the side-by-side).
//!
//! - `graphql_diff generate <dir>` writes the benchmark's generated pair (`old.graphql`,
//!   `new.graphql`) and the realistic pair (`realistic-old.graphql`, `realistic-new.graphql`).
//! - `graphql_diff <old> <new>` prints the changes and exits 1 when any breaks.
//! - `graphql_diff compare [--precise] <node_modules> <old> <new>` runs `@graphql-inspector/core`
//!   (installed in `<node_modules>` with `graphql`; `node` on the PATH) as its CLI does (the
//!   `simplifyChanges` rule) or, with `--precise`, without that rule but leaving out what lies
//!   inside added elements; matches its changes with ours by element and kind, prints agreement
//!   per class and every disagreement, and exits 1 when a verdict class differs.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;
use tollgate_contracts::change::{Change, Level};
use tollgate_contracts::graphql;

#[path = "../benches/support/inspector_cmp.rs"]
mod inspector_cmp;
#[path = "../benches/support/realistic_gen.rs"]
mod realistic_gen;
#[path = "../benches/support/schema_gen.rs"]
mod schema_gen;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, dir] if cmd == "generate" => {
            let dir = Path::new(dir);
            let write = |name: &str, text: String| std::fs::write(dir.join(name), text);
            if let Err(e) = write("old.graphql", schema_gen::schema(false))
                .and(write("new.graphql", schema_gen::schema(true)))
                .and(write("realistic-old.graphql", realistic_gen::schema(false)))
                .and(write("realistic-new.graphql", realistic_gen::schema(true)))
            {
                eprintln!("{}: {e}", dir.display());
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        [cmd, modules, old, new] if cmd == "compare" => {
            match compare(inspector_cmp::Mode::Default, modules, old, new) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(2)
                }
            }
        }
        [cmd, flag, modules, old, new] if cmd == "compare" && flag == "--precise" => {
            match compare(inspector_cmp::Mode::Precise, modules, old, new) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(2)
                }
            }
        }
        [old, new] => {
            let changes = match load_and_diff(old, new) {
                Ok(changes) => changes,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            for c in &changes {
                println!("{:?} {} {} {}", c.level, c.rule, c.subject, c.message);
            }
            let breaking = changes.iter().filter(|c| c.level == Level::Error).count();
            println!("{} changes, {breaking} breaking", changes.len());
            if breaking > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
        _ => {
            eprintln!(
                "usage: graphql_diff <old.graphql> <new.graphql> | graphql_diff generate <dir> | graphql_diff compare [--precise] <node_modules> <old.graphql> <new.graphql>"
            );
            ExitCode::from(2)
        }
    }
}

fn load_and_diff(old: &str, new: &str) -> Result<Vec<Change>, String> {
    let base = graphql::load(Path::new(old)).map_err(|e| e.to_string())?;
    let revision = graphql::load(Path::new(new)).map_err(|e| e.to_string())?;
    Ok(graphql::diff(&base, &revision))
}

/// Prints the side-by-side; `Ok(true)` when no verdict differs.
fn compare(mode: inspector_cmp::Mode, modules: &str, old: &str, new: &str) -> Result<bool, String> {
    let ours = load_and_diff(old, new)?;
    let comparison = inspector_cmp::compare(mode, modules, old, new, &ours)?;
    print!("{}", comparison.render());
    Ok(comparison.verdicts_agree())
}
