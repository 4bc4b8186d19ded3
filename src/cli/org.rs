//! `handler org list|create`: the organizations in storage.

use std::process::ExitCode;

use super::OrgCommand;
use crate::app::App;
use crate::orgs;

/// `handler org list|create`.
pub async fn run(app: &App, command: OrgCommand) -> anyhow::Result<ExitCode> {
    match command {
        OrgCommand::List => {
            let all = orgs::list(&app.storage).await?;
            if all.is_empty() {
                eprintln!("{}", no_organizations(&app.storage.describe()));
            }
            for org in all {
                println!("{}", serde_json::to_string(&org)?);
            }
        }
        OrgCommand::Create {
            org_id,
            name,
            node_persistent_id,
            timezone,
            excluded_numbers,
        } => {
            let new = orgs::NewOrganization {
                org_id,
                name,
                node_persistent_id,
                timezone,
                is_active: Some(true),
                excluded_numbers: Some(excluded_numbers),
                notifications: None,
            };
            let org = match new.validate(app.clock.now()).await {
                Ok(org) => org,
                Err(e) => return Ok(super::usage_error(&e, &[("excluded_numbers", "--exclude")])),
            };
            match orgs::create(&app.storage, &org).await {
                Ok(_) => println!("created {} ({})", org.name, org.org_id),
                Err(orgs::OrgError::Exists(id)) => println!("{id} already exists; left as it is"),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `org list` says on stderr when `storage` (as [`Storage::describe`] names it) holds no
/// organization: that there is none, and the two ways to add one.
///
/// [`Storage::describe`]: crate::storage::Storage::describe
fn no_organizations(storage: &str) -> String {
    format!(
        "No organizations in {storage}. Add one with:\n  \
         handler org create --org-id <uuid> --name <name> --node-persistent-id <uuid> \
         --timezone <IANA zone>\n\
         or set ORG_ID and BROKER_NODE_PERSISTENT_ID (and CLIENT_NAME, DEFAULT_TIMEZONE): the \
         handler creates that organization when it starts."
    )
}
