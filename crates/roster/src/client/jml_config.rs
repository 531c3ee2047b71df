//! The `jml mappings` and `jml policies` commands: mappings and policies stored on the server, which
//! `roster jml plan --mapping-name/--policy-name` then names.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;
use std::path::PathBuf;

use super::api::{ApiClient, ClientArgs, encode_segment};
use super::output::{Format, Table, cell};

/// `roster jml mappings ...` or `roster jml policies ...`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Store a TOML file under a name, or replace the stored one. The server parses it as a plan would and
    /// rejects a file a plan would reject.
    Put {
        /// The name: 1 to 64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit.
        name: String,
        /// The TOML file.
        file: PathBuf,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// List the stored files with name, version, SHA-256, last update time and the token that stored them.
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Print a stored file. The table format prints the TOML text itself, so the output can be saved as a file.
    Get {
        name: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Delete a stored file. Plans made with it keep its name, version and hash.
    Delete { name: String },
}

/// The collection a command works on.
#[derive(Debug, Clone, Copy)]
pub enum ConfigKind {
    Mapping,
    Policy,
}

impl ConfigKind {
    fn noun(self) -> &'static str {
        match self {
            Self::Mapping => "mapping",
            Self::Policy => "policy",
        }
    }

    fn collection(self) -> &'static str {
        match self {
            Self::Mapping => "/core/jml/mappings",
            Self::Policy => "/core/jml/policies",
        }
    }
}

/// Runs a `jml mappings` or `jml policies` command.
pub async fn run_config(kind: ConfigKind, args: ConfigArgs) -> anyhow::Result<()> {
    let api = ApiClient::new(&args.client)?;
    let item_path = |name: &str| format!("{}/{}", kind.collection(), encode_segment(name.trim()));
    match args.command {
        ConfigCommand::Put { name, file, format } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read the {} file {}: {e}", kind.noun(), file.display()))?;
            let document = api.send_text(Method::PUT, &item_path(&name), "application/toml", text).await?;
            let attributes = &document["data"]["attributes"];
            print_configs(std::slice::from_ref(&document["data"]), Format::resolve(format), &document)?;
            eprintln!("stored {} {} version {}", kind.noun(), cell(&attributes["name"]), cell(&attributes["version"]));
            Ok(())
        }
        ConfigCommand::List { format } => {
            let document = api.get(kind.collection()).await?;
            let items = document["data"].as_array().cloned().unwrap_or_default();
            print_configs(&items, Format::resolve(format), &document)
        }
        ConfigCommand::Get { name, format } => {
            let document = api.get(&item_path(&name)).await?;
            match Format::resolve(format) {
                Format::Table => {
                    print!("{}", document["data"]["attributes"]["body"].as_str().unwrap_or_default());
                    Ok(())
                }
                other => print_configs(std::slice::from_ref(&document["data"]), other, &document),
            }
        }
        ConfigCommand::Delete { name } => {
            api.send(Method::DELETE, &item_path(&name), None).await?;
            eprintln!("deleted {} {}", kind.noun(), name.trim());
            Ok(())
        }
    }
}

fn print_configs(items: &[Value], format: Format, document: &Value) -> anyhow::Result<()> {
    let mut table = Table::new(&["NAME", "VERSION", "SHA256", "UPDATED AT", "UPDATED BY"]);
    for item in items {
        let attributes = &item["attributes"];
        table.push(vec![
            cell(&attributes["name"]),
            cell(&attributes["version"]),
            cell(&attributes["sha256"]),
            cell(&attributes["updated_at"]),
            cell(&attributes["updated_by"]),
        ]);
    }
    table.print(format, document)
}
