//! `modtag keys init`: the store and blind-index keys made apart from the data directory
//! (issue 17), with how to seal them as systemd credentials; `modtag keys rotate`.

use std::os::unix::fs::PermissionsExt;

use anyhow::{Context, Result};

use crate::cli::KeysCommand;

pub async fn run(ctx: &super::Ctx<'_>, command: &KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Rotate {
            key: crate::cli::RotatedKey::BlindIndex,
        } => {
            let v: serde_json::Value = ctx
                .api()?
                .post("/api/v1/keys/rotate/blind-index", &serde_json::json!({}))
                .await?;
            println!(
                "blind-index key replaced: {} index entries and cases written again under it{}",
                v["entries_rewritten"],
                if v["apart"] == true {
                    "; now seal the new key as the blind-index credential ([keys] blind_index_key), remove next_blind_index_key, and give the auditors a copy for `audit subject-access`"
                } else {
                    ""
                }
            );
            Ok(())
        }
        KeysCommand::Rotate {
            key: crate::cli::RotatedKey::Store,
        } => {
            let v: serde_json::Value = ctx
                .api()?
                .post("/api/v1/keys/rotate/store", &serde_json::json!({}))
                .await?;
            let old = match v["retired"].as_str() {
                Some(name) => format!(
                    "the old key is {}: take it to the escrow and delete it here",
                    ctx.cli.data.join(name).display()
                ),
                None => "keep the old key in escrow".into(),
            };
            println!(
                "store key replaced: {} records, {} outbox files and {} ring keys sealed again to it.{}\nBackups taken before need the old store key: {old}, as long as they are kept.",
                v["records"],
                v["files"],
                v["ring_keys"],
                if v["apart"] == true {
                    " Now seal the new key as the store key credential ([keys] store_key) and remove next_store_key."
                } else {
                    ""
                }
            );
            Ok(())
        }
        KeysCommand::Rotate {
            key: crate::cli::RotatedKey::Checkpoint,
        } => {
            let v: serde_json::Value = ctx
                .api()?
                .post("/api/v1/keys/rotate/checkpoint", &serde_json::json!({}))
                .await?;
            println!(
                "checkpoint key replaced; the hand-over checkpoint (signed by the old key and the new, mailed to the auditors):\n\n{}",
                v["checkpoint"].as_str().unwrap_or_default()
            );
            Ok(())
        }
        KeysCommand::Init { dir } => {
            if !dir.exists() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
            let apart = modtag_storage::keys::make_apart(dir)
                .with_context(|| format!("cannot make the keys in {}", dir.display()))?;
            println!(
                "made {} and {} (0600). Seal them for this host (TPM2 where present) and remove\n\
                 the clear files:\n\n  \
                 systemd-creds encrypt --name=modtag-store-key {} /etc/credstore.encrypted/modtag-store-key\n  \
                 systemd-creds encrypt --name=modtag-blind-index-key {} /etc/credstore.encrypted/modtag-blind-index-key\n  \
                 shred -u {} {}\n\n\
                 In the unit (deploy/systemd/modtag.service):\n\n  \
                 LoadCredentialEncrypted=modtag-store-key\n  \
                 LoadCredentialEncrypted=modtag-blind-index-key\n\n\
                 In modtag.toml:\n\n  \
                 [keys]\n  \
                 store_key = \"credential:modtag-store-key\"\n  \
                 blind_index_key = \"credential:modtag-blind-index-key\"\n  \
                 ring_dir = \"/var/lib/modtag-ring\"\n\n\
                 (ring_dir: where the ring keys live, which erasure rotates; the unit's\n\
                 StateDirectory=modtag modtag-ring makes it. It is left out of the data directory's\n\
                 backups, so a copy taken before an erasure cannot open what was erased.)\n\n\
                 Keep a copy of both keys where the backups are not (the kommune's key escrow): a\n\
                 backup of the data directory alone opens nothing, and neither does it without them.",
                apart.store.display(),
                apart.blind.display(),
                apart.store.display(),
                apart.blind.display(),
                apart.store.display(),
                apart.blind.display(),
            );
            Ok(())
        }
    }
}
