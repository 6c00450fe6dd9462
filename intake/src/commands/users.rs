//! `modtag users add|list|disable|reset-totp|set-roles`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{bail, Context, Result};
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
            let password = read_password()?;
            let body = NewUser {
                id: id.clone(),
                email: email.clone(),
                roles: roles.clone(),
                password,
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
        UsersCommand::ResetTotp { id, json } => {
            let e: Enrolment = api
                .post_file(&format!("/api/v1/users/{id}/reset-totp"), None)
                .await?;
            enrolment(&e, *json);
        }
        UsersCommand::Token { id, days } => {
            let t: NewToken = api
                .post(
                    &format!("/api/v1/users/{id}/token"),
                    &TokenRequest { days: Some(*days) },
                )
                .await?;
            eprintln!(
                "{id}: a token that works until {} (shown only now):",
                t.expires
            );
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
            "{}: scan this into an authenticator app (it is shown only now):",
            e.id
        );
        if std::io::stdout().is_terminal() {
            if let Ok(code) = qrcode::QrCode::new(e.otpauth_uri.as_bytes()) {
                use qrcode::render::unicode::Dense1x2;
                let image = code
                    .render::<Dense1x2>()
                    .dark_color(Dense1x2::Light)
                    .light_color(Dense1x2::Dark)
                    .build();
                println!("{image}");
            }
        }
        println!("{}", e.otpauth_uri);
    }
}

/// The first line of standard input; at a terminal, asked for twice without echo.
fn read_password() -> Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let p = line.trim_end_matches(['\r', '\n']).to_string();
        if p.is_empty() {
            bail!("no password on standard input (give it as the first line)");
        }
        return Ok(p);
    }
    let first = prompt("Adgangskode: ")?;
    let again = prompt("Gentag adgangskode: ")?;
    if first != again {
        bail!("the two passwords differ");
    }
    Ok(first)
}

/// Reads a line at the terminal with echo off.
fn prompt(text: &str) -> Result<String> {
    eprint!("{text}");
    std::io::stderr().flush()?;
    let fd = libc::STDIN_FILENO;
    // SAFETY: tcgetattr/tcsetattr on standard input with a termios we own; the original
    // settings are put back before returning.
    let mut t = unsafe { std::mem::zeroed::<libc::termios>() };
    let got = unsafe { libc::tcgetattr(fd, &mut t) } == 0;
    let original = t;
    if got {
        t.c_lflag &= !libc::ECHO;
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if got {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &original) };
    }
    eprintln!();
    read.context("cannot read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
