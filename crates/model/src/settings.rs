//! Service and resilience settings of a fleet (`[resilience]` in a fleet
//! file): licence grace, voicemail, one-X Portal and phone failback modes,
//! media connection preservation, IP DECT timers. Every docs/domain-coverage.md figure
//! marked *(default)* is one of these, with that default; items docs/domain-coverage.md
//! marks unconfirmed say so here and in docs/file-format.md.

use serde::{Deserialize, Serialize};

use crate::duration::Dur;

/// Which release's licence grace rule applies (docs/domain-coverage.md §4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenceRule {
    /// Current releases: 30 days of grace, kept across restarts.
    #[default]
    Current,
    /// Older releases: 15 days of grace, and only while the server is not
    /// restarted: a server restarted in grace comes up restricted.
    Older,
}

/// How the backup Voicemail Pro hands back to the primary's (docs/domain-coverage.md §4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VoicemailFailback {
    /// Only when an operator says so (`failback = "voicemail"`).
    Manual,
    /// Once the primary is back and the last active voicemail call has ended.
    #[default]
    Graceful,
    /// As graceful, but at the latest `voicemail-failback-timeout` after the
    /// primary is back, cutting calls still in progress (they are kept).
    Automatic,
}

/// Automatic or manual failback of a service or of H.323 phones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailbackMode {
    /// As soon as the rules allow.
    #[default]
    Automatic,
    /// Only on an operator action (a portal failback, or an H.323 phone
    /// logged out or rebooted). SIP phones always fail back automatically.
    Manual,
}

/// The `[resilience]` table of a fleet file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Resilience {
    /// Licence grace rule: `current` (30 days, survives restarts) or `older`
    /// (15 days, ends on restart).
    pub licence_rule: LicenceRule,
    /// Length of the licence grace period; unset: 30d (current) or 15d (older).
    pub licence_grace: Option<Dur>,
    /// How often a server renews its licences with the primary
    /// (**unconfirmed**: 5 min). Grace starts at the first failed renewal.
    pub licence_renew: Dur,
    /// The backup one-X Portal takes over after the primary's portal has
    /// been silent this long (3 min).
    pub portal_failover_after: Dur,
    /// one-X Portal failback: automatic (default) or manual.
    pub portal_failback: FailbackMode,
    /// Voicemail Pro failback: manual, graceful (default) or automatic.
    pub voicemail_failback: VoicemailFailback,
    /// Automatic voicemail failback happens at the latest this long after the
    /// primary is back (at most 60 min; **unconfirmed** default: 30 min).
    pub voicemail_failback_timeout: Dur,
    /// H.323 phone failback: automatic (default) or manual. SIP phones
    /// always fail back automatically.
    pub phone_failback: FailbackMode,
    /// After failback starts, a phone may register on either system for this
    /// long: the homeless-prevention window (5 min).
    pub homeless_prevention: Dur,
    /// IP DECT master base poll interval (30 s).
    pub dect_poll: Dur,
    /// IP DECT base switches to its backup after failing polls this long (2 min).
    pub dect_switch_after: Dur,
    /// Media connection preservation: connected two-party and conference
    /// calls survive the loss of their server (**unconfirmed** default: on).
    pub media_preservation: bool,
    /// A preserved call lasts at most this long (2 h).
    pub preservation_limit: Dur,
    /// How often the primary's Media Manager collects recordings kept by the
    /// secondary's voicemail (**unconfirmed**: 1 min).
    pub media_collect_interval: Dur,
}

impl Default for Resilience {
    fn default() -> Self {
        Resilience {
            licence_rule: LicenceRule::Current,
            licence_grace: None,
            licence_renew: Dur::mins(5),
            portal_failover_after: Dur::mins(3),
            portal_failback: FailbackMode::Automatic,
            voicemail_failback: VoicemailFailback::Graceful,
            voicemail_failback_timeout: Dur::mins(30),
            phone_failback: FailbackMode::Automatic,
            homeless_prevention: Dur::mins(5),
            dect_poll: Dur::secs(30),
            dect_switch_after: Dur::mins(2),
            media_preservation: true,
            preservation_limit: Dur::hours(2),
            media_collect_interval: Dur::mins(1),
        }
    }
}

impl Resilience {
    /// The grace period in force: the setting, or the rule's default.
    pub fn grace(&self) -> Dur {
        self.licence_grace.unwrap_or(match self.licence_rule {
            LicenceRule::Current => Dur::days(30),
            LicenceRule::Older => Dur::days(15),
        })
    }

    /// Whether a server restarted during grace keeps its grace.
    pub fn grace_survives_restart(&self) -> bool {
        self.licence_rule == LicenceRule::Current
    }

    /// Checks the settings; `Err((field, message, hint))`.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String, String)> {
        let positive = [
            ("resilience.licence-renew", self.licence_renew),
            (
                "resilience.portal-failover-after",
                self.portal_failover_after,
            ),
            ("resilience.dect-poll", self.dect_poll),
            ("resilience.dect-switch-after", self.dect_switch_after),
            ("resilience.preservation-limit", self.preservation_limit),
            (
                "resilience.media-collect-interval",
                self.media_collect_interval,
            ),
            ("resilience.licence-grace", self.grace()),
        ];
        for (field, d) in positive {
            let periodic = !matches!(
                field,
                "resilience.preservation-limit" | "resilience.licence-grace"
            );
            if periodic && d < crate::limits::MIN_INTERVAL {
                return Err((
                    field,
                    format!(
                        "{d} is shorter than the {} fleetsim allows for this interval",
                        crate::limits::MIN_INTERVAL
                    ),
                    "see docs/file-format.md, \"Limits\"".into(),
                ));
            }
            if d.0.is_zero() {
                return Err((
                    field,
                    "must be greater than zero".into(),
                    "see docs/file-format.md for every setting and its default".into(),
                ));
            }
            if d > Dur::days(400) {
                return Err((
                    field,
                    format!("{d} is longer than the 400 days fleetsim runs"),
                    "see docs/file-format.md for every setting and its default".into(),
                ));
            }
        }
        if self.voicemail_failback_timeout > Dur::mins(60)
            || self.voicemail_failback_timeout.0.is_zero()
        {
            return Err((
                "resilience.voicemail-failback-timeout",
                format!(
                    "{} is out of range: Voicemail Pro's automatic failback timeout is from 1s to 60 min",
                    self.voicemail_failback_timeout
                ),
                "write e.g. voicemail-failback-timeout = \"30m\"".into(),
            ));
        }
        if self.homeless_prevention > Dur::days(1) {
            return Err((
                "resilience.homeless-prevention",
                format!(
                    "{} is not a window: guests would never go home",
                    self.homeless_prevention
                ),
                "the default is homeless-prevention = \"5m\"; at most \"1d\"".into(),
            ));
        }
        if self.dect_switch_after < self.dect_poll {
            return Err((
                "resilience.dect-switch-after",
                format!(
                    "dect-switch-after ({}) is shorter than dect-poll ({}): the base would switch before its first failed poll",
                    self.dect_switch_after, self.dect_poll
                ),
                "the defaults are dect-poll = \"30s\", dect-switch-after = \"2m\"".into(),
            ));
        }
        Ok(())
    }
}

/// A hunt group: stored on its home system and advertised to every peer;
/// the home's backup runs it while failed over when the line backs up hunt
/// groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HuntGroup {
    /// Name, unique in the fleet.
    pub name: String,
    /// The system it is stored on.
    pub home: String,
}

/// Users plus extensions a server of `role` can hold, guests included, when
/// the fleet file does not say (docs/domain-coverage.md §7, R9.0 figures: 384 on an IP500
/// V2, 1500 on a DL360-class Linux server). Later releases raise these: set
/// `capacity` per server.
pub fn default_capacity(role: crate::fleet::Role) -> u32 {
    match role {
        crate::fleet::Role::ExpansionV2 => 384,
        _ => 1500,
    }
}

/// Concurrent calls a server of `role` handles when the fleet file does not
/// say (docs/domain-coverage.md §7: a small Linux server handles 750 direct-media calls;
/// large servers 2000, Select 3000 — set `max-calls`). No figure is given for
/// an IP500 V2 or an application server: no limit (**unconfirmed**).
pub fn default_max_calls(role: crate::fleet::Role) -> Option<u32> {
    use crate::fleet::Role::*;
    match role {
        Primary | Secondary | ExpansionLinux => Some(750),
        ExpansionV2 | ApplicationServer | Ucm => None,
    }
}
