//! `many`: placeholder.
use anyhow::Result;
#[derive(clap::Args)]
pub struct ManyArgs {}
pub async fn run(_args: ManyArgs, _files: u64) -> Result<()> {
    Ok(())
}
