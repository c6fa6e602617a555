//! `completions` and `man`: generated from the clap definitions, never hand-written.
//!
//! Both are rendered into memory first: clap_complete panics when its writer
//! fails, and `paytrack completions bash | head` must end quietly, not panic.

use std::io::Write;

use anyhow::Result;

use crate::error::exit;

pub fn completions(shell: clap_complete::Shell) -> Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(
        shell,
        &mut crate::i18n::help::command(crate::output::Lang::En),
        "paytrack",
        &mut script,
    );
    print(&script)
}

/// The manual: the top-level page, then one page per command (git-style
/// names such as paytrack-bookings-list), so every option is documented.
/// `man -l -` shows them one after the other.
pub fn man() -> Result<u8> {
    let mut cmd = crate::i18n::help::command(crate::output::Lang::En);
    cmd.build();
    let mut pages = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut pages)?;
    render_subcommands(&cmd, "paytrack", &mut pages)?;
    print(&pages)
}

fn render_subcommands(parent: &clap::Command, prefix: &str, pages: &mut Vec<u8>) -> Result<()> {
    for sub in parent.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("{prefix}-{}", sub.get_name());
        let page = sub.clone().name(name.clone());
        clap_mangen::Man::new(page).render(pages)?;
        render_subcommands(sub, &name, pages)?;
    }
    Ok(())
}

fn print(bytes: &[u8]) -> Result<u8> {
    let mut out = crate::output::stdout();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(exit::OK)
}
