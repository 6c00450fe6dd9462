//! `modtag users add|list|disable|reset|token|set-roles`.

use anyhow::Result;
use modtag_intake::api::types::{Enrolment, NewToken, NewUser, Roles, TokenRequest, UserView};

use super::Ctx;
use crate::cli::UsersCommand;
use crate::render;

pub async fn run(ctx: &Ctx<'_>, command: &UsersCommand) -> Result<()> {
    let api = ctx.api()?;
    match command {
        UsersCommand::Add {
            id,
            email,
            roles,
            json,
        } => {
            let body = NewUser {
                id: id.clone(),
                email: email.clone(),
                roles: roles.clone(),
            };
            let e: Enrolment = api.post("/api/v1/users", &body).await?;
            enrolment(&e, *json);
        }
        UsersCommand::List { json } => {
            let users: Vec<UserView> = api.get("/api/v1/users").await?;
            if *json {
                render::json(&users);
            } else {
                for u in &users {
                    println!(
                        "{:<24} {:<36} {}{}",
                        u.id,
                        u.email,
                        u.roles.join(","),
                        if u.disabled { "  (disabled)" } else { "" }
                    );
                }
            }
        }
        UsersCommand::Disable { id } => {
            let _: UserView = api
                .post_file(&format!("/api/v1/users/{id}/disable"), None)
                .await?;
            println!("{id}: disabled; its sessions have ended");
        }
        UsersCommand::Reset { id, json } => {
            let e: Enrolment = api
                .post_file(&format!("/api/v1/users/{id}/reset"), None)
                .await?;
            enrolment(&e, *json);
        }
        UsersCommand::Token { id, days } => {
            let path = match id {
                Some(id) => format!("/api/v1/users/{id}/token"),
                None => "/api/v1/token".to_string(),
            };
            let t: NewToken = api.post(&path, &TokenRequest { days: Some(*days) }).await?;
            eprintln!("a token that works until {} (shown only now):", t.expires);
            println!("{}", t.token);
        }
        UsersCommand::SetRoles { id, roles } => {
            let body = Roles {
                roles: roles.clone(),
            };
            let u: UserView = api
                .post(&format!("/api/v1/users/{id}/roles"), &body)
                .await?;
            println!(
                "{id}: roles {}; its sessions have ended",
                u.roles.join(", ")
            );
        }
    }
    Ok(())
}

fn enrolment(e: &Enrolment, json: bool) {
    if json {
        render::json(e);
    } else {
        println!(
            "{}: give the person this enrolment link (shown only now; it works once, until {}).\n\
             There they choose their own password and set up their authenticator app:",
            e.id, e.expires
        );
        println!("{}", e.enrolment_url);
    }
}
