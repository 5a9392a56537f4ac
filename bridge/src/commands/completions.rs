//! `clm-bridge completions SHELL` and `clm-bridge man`: generated from the clap definition of
//! this very binary, so they always match its flags and its transports. (A man page committed
//! to the repository would need a test to keep it fresh, and would still describe the default
//! build, not the one installed.)

use std::io::Write;

use clap::CommandFactory as _;

use crate::cli::{Cli, CompletionsArgs};
use crate::commands::Outcome;
use crate::error::Error;

/// Writes the completion script for `args.shell`.
pub fn completions(args: CompletionsArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "clm-bridge", out);
    out.flush().map_err(Error::Output)?;
    Ok(Outcome::Done)
}

/// Writes the man page: the top-level page, then one section per subcommand, so `man
/// clm-bridge` holds every flag.
pub fn man(out: &mut dyn Write) -> Result<Outcome, Error> {
    let command = Cli::command().version(crate::cli::long_version().replace('\n', ", "));
    let page = man_page(&command).map_err(Error::Output)?;
    out.write_all(&page).and_then(|()| out.flush()).map_err(Error::Output)?;
    Ok(Outcome::Done)
}

/// The roff text: clap_mangen's page for the command, with a SUBCOMMAND section per
/// subcommand (and per nested one, such as `chat add`).
fn man_page(command: &clap::Command) -> std::io::Result<Vec<u8>> {
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    render_subcommands(command, "clm-bridge", &mut page)?;
    man.render_extra_section(&mut page)?;
    man.render_version_section(&mut page)?;
    Ok(page)
}

fn render_subcommands(command: &clap::Command, prefix: &str, page: &mut Vec<u8>) -> std::io::Result<()> {
    for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
        let name = format!("{prefix} {}", sub.get_name());
        writeln!(page, ".SH \"{}\"", name.to_uppercase())?;
        let man = clap_mangen::Man::new(sub.clone().name(name.clone()));
        man.render_synopsis_section(page)?;
        man.render_description_section(page)?;
        man.render_options_section(page)?;
        render_subcommands(sub, &name, page)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("UTF-8")
    }

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
            clap_complete::Shell::Elvish,
            clap_complete::Shell::PowerShell,
        ] {
            let mut script = Vec::new();
            completions(CompletionsArgs { shell }, &mut script).unwrap();
            let script = text(script);
            for word in ["clm-bridge", "send", "outbox", "passphrase-file", "weak-passphrase"] {
                assert!(script.contains(word), "{shell:?} lacks {word}");
            }
        }
    }

    #[test]
    fn the_man_page_covers_nested_subcommands_environment_and_exit_status() {
        let mut page = Vec::new();
        man(&mut page).unwrap();
        let page = text(page);
        assert!(page.starts_with(".ie"), "roff: {}", &page[..40]);
        for needle in
            [".TH clm-bridge 1", "CLM-BRIDGE CHAT ADD", "CLM_BRIDGE_PASSPHRASE", "Exit status", "transports:"]
        {
            assert!(page.contains(needle), "man page lacks {needle:?}");
        }
    }
}
