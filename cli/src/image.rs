//! `keel image import|ls|rm|pull`: the node-local image store.

use anyhow::{Context, Result};
use keel_node_agent::image::{ImageStore, ImportProgress};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum ImageCmd {
    /// Import images from docker-save or OCI-layout archives (.tar, .tar.gz).
    Import {
        files: Vec<PathBuf>,
        #[arg(long, default_value = "/var/lib/keel/agent")]
        data_dir: PathBuf,
    },
    /// Pull an image from an OCI registry.
    Pull {
        reference: String,
        /// Registry user name (the password comes from KEEL_REGISTRY_PASSWORD).
        #[arg(long)]
        username: Option<String>,
        /// Allow plain HTTP for this registry.
        #[arg(long)]
        insecure: bool,
        #[arg(long, default_value = "/var/lib/keel/agent")]
        data_dir: PathBuf,
    },
    /// List the images on this node.
    #[command(alias = "list")]
    Ls {
        #[arg(long, default_value = "/var/lib/keel/agent")]
        data_dir: PathBuf,
    },
    /// Remove images (layers no other image uses go too).
    #[command(alias = "remove")]
    Rm {
        references: Vec<String>,
        #[arg(long, default_value = "/var/lib/keel/agent")]
        data_dir: PathBuf,
    },
}

fn open(data_dir: &std::path::Path) -> Result<ImageStore> {
    let root = data_dir.join("images");
    ImageStore::open(&root).with_context(|| format!("opening the image store at {}", root.display()))
}

fn show(p: ImportProgress) {
    match p {
        ImportProgress::Layer { digest, index, total, bytes } => {
            let short: String = digest.trim_start_matches("sha256:").chars().take(12).collect();
            println!("  layer {index}/{total} {short} ({:.1} MiB)", bytes as f64 / (1024.0 * 1024.0));
        }
        ImportProgress::Image { reference } => println!("  image {reference}"),
    }
    let _ = std::io::stdout().flush();
}

pub async fn run(cmd: ImageCmd) -> Result<()> {
    match cmd {
        ImageCmd::Import { files, data_dir } => {
            anyhow::ensure!(!files.is_empty(), "give at least one archive to import");
            let store = open(&data_dir)?;
            for f in files {
                println!("importing {}", f.display());
                let imported = store.import(&f, &mut show).with_context(|| format!("importing {}", f.display()))?;
                for i in imported {
                    println!("imported {} {}", i.reference, i.digest);
                }
            }
            Ok(())
        }
        ImageCmd::Pull { reference, username, insecure, data_dir } => {
            let store = open(&data_dir)?;
            let creds = username.map(|u| (u, std::env::var("KEEL_REGISTRY_PASSWORD").unwrap_or_default()));
            println!("pulling {reference}");
            let mut progress = show;
            let got = store.pull(&reference, creds, insecure, &mut progress).await?;
            println!("pulled {} {}", got.reference, got.digest);
            Ok(())
        }
        ImageCmd::Ls { data_dir } => {
            let store = open(&data_dir)?;
            println!("{:<50} {:<20} {:>10}", "IMAGE", "DIGEST", "SIZE");
            for i in store.list()? {
                let digest: String = i.digest.trim_start_matches("sha256:").chars().take(12).collect();
                println!("{:<50} sha256:{digest:<13} {:>8.1}MiB", i.reference, i.size as f64 / (1024.0 * 1024.0));
            }
            Ok(())
        }
        ImageCmd::Rm { references, data_dir } => {
            let store = open(&data_dir)?;
            for r in references {
                store.remove(&r).with_context(|| format!("removing {r}"))?;
                println!("removed {r}");
            }
            Ok(())
        }
    }
}
