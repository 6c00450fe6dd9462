//! End-to-end tests: the real `modtag` binary, real SMTP peers (swaks, smtp-sink), real gpg,
//! a real sled directory. One binary with a module per concern.

mod access;
mod api;
mod audit;
mod backup;
mod cases;
mod config;
mod crash;
mod deploy;
mod desk;
mod disk_full;
mod dpo;
mod erasure;
mod forloeb;
mod forms;
mod keys;
mod layout;
mod oidc;
mod pages;
mod path;
mod ready;
mod recipients;
mod relay;
mod reload;
mod restart;
mod sender_auth;
mod shutdown;
mod signin;
mod smtp;
mod socket;
mod standby;
mod tls;
mod triage;
mod trivsel;
mod understand;
mod upgrade;
