//! `modtag-router`: modtag's decisions, as pure functions. No IO, no clock of its own.
//!
//! - [`route`]: (facts, beslutningstræ, directory) → recipients, actions and refusals, each
//!   with the rule and reason that produced it. The consent gate lives here.
//! - [`deadline`]: the 24-hour assessment deadline; [`calendar`]: Danish holidays, hverdage,
//!   office hours.
//! - [`cpr`]: CPR number validation and masking by DOMAIN.md's rules; [`cvr`]: CVR numbers.
//! - [`names`]: Trivsel+ subjects and the tolerant matching of their names to the directory.
//! - [`meetings`]: the school year's statusmøder for each lederteam, from the tree;
//!   [`startmoede`]: a TRIVSEL+ forløb's first meeting in the allotted slots.
//!
//! Callers pass `now` and the configuration in; the same inputs always give the same output,
//! which is what makes `route explain` and replays trustworthy.

pub mod calendar;
pub mod cpr;
pub mod cvr;
pub mod deadline;
pub mod meetings;
pub mod names;
pub mod route;
pub mod startmoede;
pub mod why;

pub use route::{route, Decision, Facts, Recipient, Withheld};
pub use why::Why;
