//! `tollgate config show`.

use crate::cli::ConfigCommand;
use tollgate_core::Verdict;
use tollgate_release::Config;

pub fn run(command: ConfigCommand) -> anyhow::Result<Verdict> {
    match command {
        ConfigCommand::Show { root } => {
            let config = Config::load(&root)?;
            crate::output::emit(None, &config.to_toml())?;
            Ok(Verdict::Pass)
        }
    }
}
