//! `probe completions SHELL` and `probe man`: shell completions and manual
//! pages generated from the clap definitions, so they never drift from the
//! real options.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{CommandFactory, ValueEnum};

use super::Cli;

#[derive(Clone, Copy, ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: ShellArg,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write one page per command (probe.1, probe-record.1, …) into DIR
    /// instead of printing probe(1) on stdout.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Replace pages that exist in DIR (a symlink there is replaced, never
    /// written through).
    #[arg(long, requires = "dir")]
    force: bool,
}

/// Runs `probe completions`.
pub fn completions(args: CompletionsArgs) -> Result<u8> {
    use clap_complete::Shell;
    let shell = match args.shell {
        ShellArg::Bash => Shell::Bash,
        ShellArg::Zsh => Shell::Zsh,
        ShellArg::Fish => Shell::Fish,
        ShellArg::Powershell => Shell::PowerShell,
        ShellArg::Elvish => Shell::Elvish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "probe", &mut buf);
    super::emit(&String::from_utf8_lossy(&buf))?;
    Ok(0)
}

fn render(cmd: clap::Command) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .context("rendering the manual page")?;
    Ok(buf)
}

/// Runs `probe man`.
pub fn man(args: ManArgs) -> Result<u8> {
    let cmd = Cli::command();
    let Some(dir) = args.dir else {
        std::io::stdout()
            .lock()
            .write_all(&render(cmd)?)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .context("writing to stdout")?;
        return Ok(0);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut pages = vec![("probe.1".to_string(), render(cmd.clone())?)];
    for sub in cmd.get_subcommands() {
        let name = format!("probe-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .version(cmd.get_version().unwrap_or_default().to_string());
        pages.push((format!("{name}.1"), render(page)?));
    }
    // Every page goes through the shared output path (a temporary file
    // renamed into place, never through a symlink); without --force all
    // are checked first, so a refusal writes none of them.
    for (name, _) in &pages {
        crate::output::check_target(&dir.join(name), args.force)?;
    }
    for (name, bytes) in &pages {
        crate::output::write_file(&dir.join(name), bytes, args.force)?;
    }
    eprintln!(
        "probe: wrote {} manual pages into {} (read one with: man -l {})",
        pages.len(),
        dir.display(),
        dir.join("probe.1").display()
    );
    Ok(0)
}
