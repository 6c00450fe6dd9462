//! SPF, DKIM and DMARC (mail-auth) against a configurable resolver. The verdicts are
//! recorded with the message and shown to staff; they never decide whether mail is taken.

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, DkimResult, DmarcResult, MessageAuthenticator, SpfResult};
use modtag_config::model::SenderAuth;
use modtag_storage::records::SenderVerdicts;

pub struct Verifier {
    auth: MessageAuthenticator,
    hostname: String,
    timeout: Duration,
}

impl Verifier {
    /// `None` when sender authentication is off.
    pub fn new(cfg: &SenderAuth, hostname: &str) -> anyhow::Result<Option<Verifier>> {
        if !cfg.enabled {
            return Ok(None);
        }
        let mut opts = ResolverOpts::default();
        opts.timeout = Duration::from_secs(cfg.timeout_secs.max(1));
        opts.attempts = 1;
        let auth = match cfg.nameserver {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                MessageAuthenticator::new(ResolverConfig::from_name_servers(vec![ns]), opts)
            }
            None => MessageAuthenticator::new_system_conf(),
        }
        .map_err(|e| anyhow::anyhow!("sender authentication: cannot set up the resolver: {e}"))?;
        Ok(Some(Verifier {
            auth,
            hostname: hostname.to_string(),
            timeout: Duration::from_secs(cfg.timeout_secs.max(1)),
        }))
    }

    /// The verdicts for one message; `temperror` for anything that did not finish in time.
    pub async fn verify(
        &self,
        raw: &[u8],
        peer: IpAddr,
        helo: &str,
        mail_from: &str,
    ) -> SenderVerdicts {
        match tokio::time::timeout(self.timeout, self.run(raw, peer, helo, mail_from)).await {
            Ok(v) => v,
            Err(_) => SenderVerdicts {
                spf: "temperror".into(),
                dkim: "temperror".into(),
                dmarc: "temperror".into(),
            },
        }
    }

    async fn run(&self, raw: &[u8], peer: IpAddr, helo: &str, mail_from: &str) -> SenderVerdicts {
        let spf = self
            .auth
            .verify_spf(SpfParameters::verify_mail_from(
                peer,
                helo,
                &self.hostname,
                mail_from,
            ))
            .await;
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return SenderVerdicts {
                spf: spf_word(spf.result()).into(),
                dkim: "permerror".into(),
                dmarc: "none".into(),
            };
        };
        let dkim = self.auth.verify_dkim(&message).await;
        let dkim_word = if dkim.is_empty() {
            "none"
        } else if dkim.iter().any(|d| d.result() == &DkimResult::Pass) {
            "pass"
        } else {
            dkim_word(dkim[0].result())
        };
        // DMARC is evaluated for the domain of the From: header.
        let from_domain = message
            .from()
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        let dmarc = self
            .auth
            .verify_dmarc(DmarcParameters::new(&message, &dkim, &from_domain, &spf))
            .await;
        // RFC 7489 §6.6.2: with a record published, DMARC passes when SPF or DKIM passes
        // aligned, and fails otherwise; without one there is no verdict.
        let results = [dmarc.spf_result(), dmarc.dkim_result()];
        let dmarc_word = if results.contains(&&DmarcResult::Pass) {
            "pass"
        } else if let Some(err) = results
            .iter()
            .find(|r| matches!(r, DmarcResult::TempError(_) | DmarcResult::PermError(_)))
        {
            dmarc_result_word(err)
        } else if dmarc.dmarc_record().is_some() {
            "fail"
        } else {
            "none"
        };
        SenderVerdicts {
            spf: spf_word(spf.result()).into(),
            dkim: dkim_word.into(),
            dmarc: dmarc_word.into(),
        }
    }
}

fn spf_word(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

fn dkim_word(r: &DkimResult) -> &'static str {
    match r {
        DkimResult::Pass => "pass",
        // RFC 6376 §6.1.3 makes a body-hash mismatch a PERMFAIL, which RFC 8601 reports as
        // `fail`; mail-auth calls it neutral. Staff must see that the text was changed.
        DkimResult::Neutral(mail_auth::Error::Dkim(
            mail_auth::dkim::DkimError::FailedBodyHashMatch,
        )) => "fail",
        DkimResult::Neutral(_) => "neutral",
        DkimResult::Fail(_) => "fail",
        DkimResult::PermError(_) => "permerror",
        DkimResult::TempError(_) => "temperror",
        DkimResult::None => "none",
    }
}

fn dmarc_result_word(r: &DmarcResult) -> &'static str {
    match r {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}
