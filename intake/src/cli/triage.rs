//! `modtag triage ...`: the queue of a running daemon.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum TriageCommand {
    /// List open intakes (CPR masked).
    #[command(
        after_help = "Examples:\n  modtag triage list\n  modtag triage list --channel trivselplus --json"
    )]
    List {
        /// Only this channel: underretning, trivselplus or postfordeling.
        #[arg(long)]
        channel: Option<String>,
        /// Include closed intakes.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one intake in full (audited as a view).
    Show {
        reference: String,
        #[arg(long)]
        json: bool,
    },
    /// Save one attachment of an intake to a new file (0600), checked against the hash
    /// recorded at intake. Audited. `triage show` lists them, numbered from 0.
    #[command(
        after_help = "Example:\n  modtag triage attachment MT-2026-000001 0 --out bilag.pdf --purpose vurdering"
    )]
    Attachment {
        reference: String,
        index: usize,
        /// A new file to write (an existing one is not overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Also a flagged attachment (outside the allow-list, or not what it claims to be).
        #[arg(long)]
        allow_flagged: bool,
    },
    /// Confirm who an unverified sender is (audited, with how you know): what depends on
    /// the sender (a professional's tilbagemelding and original, a participant list) then
    /// applies as for one the transport proved.
    #[command(
        after_help = "Example:\n  modtag triage confirm-sender MT-2026-000001 --how \"ringet tilbage til skolens kontor\""
    )]
    ConfirmSender {
        reference: String,
        #[arg(long)]
        how: String,
    },
    /// Write a note on an intake, for the desk's own use (kept in order, audited without its
    /// text; never in a copy or on a recipient's page).
    Note {
        reference: String,
        #[arg(long)]
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// Record where an assessed intake was filed in the case system (audited): retention
    /// rules with `require_journalised` wait for it.
    #[command(
        after_help = "Example:\n  modtag triage journalised MT-2026-000001 --system eDoc --document 2026-004711"
    )]
    Journalised {
        reference: String,
        /// The case system ("eDoc", "DUBU", "Nexus"...).
        #[arg(long)]
        system: String,
        /// The document's id there.
        #[arg(long)]
        document: String,
        #[arg(long)]
        json: bool,
    },
    /// Write an assessed intake's journal package (the record as PDF/A, the attachments,
    /// metadata.json and metadata.xml with every file's SHA-256) into a new directory,
    /// for filing in the case system (audited, purpose "journalisering").
    #[command(
        after_help = "Example:\n  modtag triage journal MT-2026-000001 --out /srv/journal/MT-2026-000001"
    )]
    Journal {
        reference: String,
        /// A directory that does not exist yet (or an empty one).
        #[arg(long)]
        out: PathBuf,
    },
    /// Drop an assessed intake's journal package, encrypted, for the case system
    /// (`[journal.hook]`); its receipt marks the intake journalised.
    JournalSend {
        reference: String,
        #[arg(long)]
        json: bool,
    },
    /// Close an assessed intake (audited, with the reason).
    Close {
        reference: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Erase an intake for good (crypto-shredding: its key is destroyed, so no copy opens
    /// again, in any backup either), with the reason the audit log keeps. For a mistaken
    /// intake or a data subject's request; the `[retention]` rules erase the rest.
    #[command(
        after_help = "Example:\n  modtag triage erase MT-2026-000001 --reason 'Sendt til forkert kommune'"
    )]
    Erase {
        reference: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Record that a task on an intake is done: kvittering (sent by hand), tilbagemelding
    /// (feedback to a professional reporter, or --withhold with a reason if it would harm the
    /// child) or indkald_underretningsmoede.
    #[command(
        after_help = "Examples:\n  modtag triage task MT-2026-000001 kvittering --done\n  modtag triage task MT-2026-000001 tilbagemelding --withhold --reason 'Vil skade barnet'"
    )]
    Task {
        reference: String,
        kind: String,
        #[arg(long, conflicts_with = "withhold")]
        done: bool,
        /// Feedback only: not given, because it would harm the child (needs --reason).
        #[arg(long)]
        withhold: bool,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Correct the kind reading gave an intake (audited, with the reason).
    #[command(
        after_help = "Example:\n  modtag triage kind MT-2026-000003 lae165 --reason 'Lægens brev er en LÆ 165'"
    )]
    Kind {
        reference: String,
        /// underretning, trivselplus, postfordeling or lae165.
        kind: String,
        /// Why, for the audit log and the item's history.
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Record an assessment and route the intake.
    #[command(
        after_help = "Examples:\n  modtag triage decide MT-2026-000001 --trin 4\n  modtag triage decide MT-2026-000002 --trin 2 --consent --consent-by forældre --consent-how mundtligt --area dagtilbud --institution solsikken\n\nTrivselsbarometeret (--trin):\n  0  børn i trivsel: positiv udvikling\n  1  moderat trivsel: perioder med faldende trivsel, begyndende bekymring\n  2  faldende trivsel: tydelige tegn på faldende trivsel\n  3  udsatte trivselspositioner: tydelige tegn på mistrivsel, bekymrende vanskeligheder\n  4  truede trivselspositioner: alvorlig mistrivsel og/eller omsorgssvigt\nTrin 3 og 4 er underretninger til Modtagelsen; trin 0-2 håndteres lokalt med samtykke."
    )]
    Decide {
        reference: String,
        #[command(flatten)]
        decision: DecisionArgs,
        /// Assess an intake that was already decided again, saying why. The earlier decision
        /// is kept; only people the new one adds get a copy.
        #[arg(long, value_name = "REASON")]
        revise: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct DecisionArgs {
    /// The child has an open case (give --case, or rely on the auto-link).
    #[arg(long)]
    pub existing_case: bool,
    /// Case number of the existing case.
    #[arg(long = "case")]
    pub case_number: Option<String>,
    /// Trin on the TRIVSEL+ ladder, 0 to 4.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub trin: Option<u8>,
    /// Parental (or the young person's) consent is recorded.
    #[arg(long)]
    pub consent: bool,
    /// dagpleje, dagtilbud, skole, privat_dagtilbud or privat_skole.
    #[arg(long)]
    pub area: Option<String>,
    /// Directory id of the child's institution.
    #[arg(long)]
    pub institution: Option<String>,
    #[arg(long)]
    pub akut: bool,
    #[arg(long)]
    pub out_of_hours: bool,
    #[arg(long)]
    pub udskoling: bool,
    #[arg(long, default_value = "")]
    pub note: String,
    /// With --consent: who gave it (forældre, mor, far, den unge ...).
    #[arg(long)]
    pub consent_by: Option<String>,
    /// With --consent: how (skriftligt, mundtligt, digitalt ...).
    #[arg(long)]
    pub consent_how: Option<String>,
    /// With --consent: when it was given (RFC 3339); now when left out.
    #[arg(long)]
    pub consent_at: Option<String>,
    /// With --consent: to what (default: contact with the lokal leder / Børneskolerådgivere).
    #[arg(long)]
    pub consent_scope: Option<String>,
    /// The screening's outcome: afdaekning, boernefaglig_undersoegelse, ingen_yderligere or
    /// trivselplus_anbefalet.
    #[arg(long)]
    pub outcome: Option<String>,
    /// Send the original to a lokal leder or the Børneskolerådgivere too (trin 0-2; never
    /// when the reporter is a citizen). Without it they get the screening only.
    #[arg(long)]
    pub attach_original: bool,
}
