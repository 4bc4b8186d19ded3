//! `handler org list|create`: the organizations in storage.

use std::process::ExitCode;

use super::OrgCommand;
use crate::app::App;
use crate::orgs;

/// `handler org list|create`.
pub async fn run(app: &App, command: OrgCommand) -> anyhow::Result<ExitCode> {
    match command {
        OrgCommand::List => {
            for org in orgs::list(&app.storage).await? {
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
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(2));
                }
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
