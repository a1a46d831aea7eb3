//! `onewindow document verify|public-key`: a sealed document (电子证照) checked offline —
//! what a bank or another city does with the code printed on a permit and the issuing
//! department's public key — and that public key exported from the server's key
//! directory.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use onewindow::audit::checkpoint;
use onewindow::audit::document::{Keys, Sealed};

/// Sealed documents.
#[derive(Subcommand)]
pub enum DocumentCommand {
    /// Check a document's seal (`OW1.…`, as printed in its QR code) with the issuing
    /// department's public key; print what it vouches for. Exit 1 when it does not hold.
    Verify {
        /// The seal.
        seal: String,
        /// The issuing department's public key (PEM, from `document public-key`).
        #[arg(long)]
        public_key: PathBuf,
    },
    /// A department's public key (SubjectPublicKeyInfo PEM), to give to whoever checks
    /// its documents.
    PublicKey {
        /// The department's id.
        #[arg(long)]
        department: String,
        /// The server's key directory.
        #[arg(long, default_value = "data/keys")]
        keys: PathBuf,
    },
}

/// Runs one document command.
pub fn run(cmd: DocumentCommand) -> Result<ExitCode> {
    match cmd {
        DocumentCommand::Verify { seal, public_key } => {
            let key = checkpoint::load_public_key(&public_key)?;
            match Sealed::verify(&seal, &key) {
                Ok(s) => {
                    println!("valid: signed by the holder of {}", public_key.display());
                    println!("project     {}", s.project);
                    println!("document    {}", s.document);
                    println!("number      {}", s.number);
                    println!("issued at   {}", s.issued_at.format("%Y-%m-%dT%H:%M:%S"));
                    println!("department  {}", s.department);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("NOT VALID: {e}");
                    // Say what it claims, so the reader knows what was forged or mistyped.
                    if let Ok((s, ..)) = Sealed::read(&seal) {
                        println!(
                            "it claims: project {}, document {}, number {}, issued {} by {}",
                            s.project, s.document, s.number, s.issued_at, s.department
                        );
                    }
                    Ok(ExitCode::from(1))
                }
            }
        }
        DocumentCommand::PublicKey { department, keys } => {
            let path = Keys::path(&keys, &department);
            let key = checkpoint::load_key(&path)?;
            print!("{}", checkpoint::public_key_pem(&key.verifying_key())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
