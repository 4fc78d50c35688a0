//! Diffs two SDL files and prints one line per change (the side-by-side with graphql-inspector).
//!
//! `graphql_diff generate <dir>` writes the benchmark's generated pair as `old.graphql` and
//! `new.graphql`; `graphql_diff <old> <new>` prints the changes and exits 1 when any breaks.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;
use tollgate_contracts::change::Level;
use tollgate_contracts::graphql;

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
            {
                eprintln!("{}: {e}", dir.display());
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        [old, new] => {
            let loaded = graphql::load(Path::new(old))
                .and_then(|b| graphql::load(Path::new(new)).map(|r| (b, r)));
            let (base, revision) = match loaded {
                Ok(pair) => pair,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            let changes = graphql::diff(&base, &revision);
            for c in &changes {
                println!("{:?} {} {} {}", c.level, c.rule, c.subject, c.message);
            }
            let breaking = changes.iter().filter(|c| c.level == Level::Error).count();
            println!("{} changes, {breaking} breaking", changes.len());
            if breaking > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
        _ => {
            eprintln!(
                "usage: graphql_diff <old.graphql> <new.graphql> | graphql_diff generate <dir>"
            );
            ExitCode::from(2)
        }
    }
}
