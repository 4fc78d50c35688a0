//! One module per command; each returns the verdict that decides the exit code.

mod attest;
mod config;
mod contracts;
mod db;
mod db_backup;
mod evidence;
mod evidence_changes;
mod evidence_publish;
mod keys;
mod operator;
pub(crate) mod pact;
mod release;
mod rules;
mod sbom;
mod sign;
mod verify;

use crate::cli::{Command, ContractsCommand, DbCommand};
use tollgate_core::Verdict;

/// Runs a parsed command.
pub fn run(command: Command) -> anyhow::Result<Verdict> {
    match command {
        Command::Release(args) => release::run(&args),
        Command::Config(cmd) => config::run(cmd),
        Command::Sbom(args) => sbom::run(args),
        Command::Keys(cmd) => keys::run(cmd),
        Command::Attest(cmd) => attest::run(cmd),
        Command::Sign(args) => sign::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Db(cmd) => match cmd {
            DbCommand::Migrate(args) => db::migrate(&args),
            DbCommand::Plan(args) => db::plan(&args),
            DbCommand::Status(args) => db::status(&args),
            DbCommand::Backup(args) => db_backup::backup(&args),
            DbCommand::List(args) => db_backup::list(&args),
            DbCommand::Retention(args) => db_backup::retention(&args),
            DbCommand::Verify(args) => db_backup::verify(&args),
            DbCommand::Restore(args) => db_backup::restore(&args),
        },
        Command::Evidence(cmd) => evidence::run(cmd),
        Command::Operator(cmd) => operator::run(cmd),
        Command::Rules(args) => rules::run(&args),
        Command::Contracts(cmd) => match cmd {
            ContractsCommand::Diff(args) => contracts::diff(&args),
            ContractsCommand::Check(args) => contracts::check(&args),
            ContractsCommand::Rules(args) => contracts::rules(&args),
            ContractsCommand::Changelog(args) => contracts::changelog(&args),
            ContractsCommand::VerifyPacts(args) => pact::verify_pacts(&args),
            ContractsCommand::CanIDeploy(args) => pact::can_i_deploy(&args),
        },
    }
}
