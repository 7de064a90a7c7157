//! Human durations: `"500ms"`, `"30s"`, `"3m"`, `"1h30m"`, `"30d"`.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A duration written the way people write them in scenario files.
///
/// Units: `ms`, `s`, `m`, `h`, `d`; several may follow each other (`"1h30m"`).
/// A bare `0` is zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Duration);

impl Dur {
    /// Zero.
    pub const ZERO: Dur = Dur(Duration::ZERO);

    /// From whole seconds.
    pub const fn secs(s: u64) -> Dur {
        Dur(Duration::from_secs(s))
    }

    /// From whole minutes.
    pub const fn mins(m: u64) -> Dur {
        Dur(Duration::from_secs(m * 60))
    }

    /// From whole hours.
    pub const fn hours(h: u64) -> Dur {
        Dur(Duration::from_secs(h * 3600))
    }

    /// From whole days.
    pub const fn days(d: u64) -> Dur {
        Dur(Duration::from_secs(d * 86_400))
    }

    /// From milliseconds.
    pub const fn millis(ms: u64) -> Dur {
        Dur(Duration::from_millis(ms))
    }

    /// Whole milliseconds.
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }
}

impl From<Dur> for Duration {
    fn from(d: Dur) -> Duration {
        d.0
    }
}

/// Why a duration string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: {reason}; write e.g. \"500ms\", \"30s\", \"3m\", \"1h30m\" or \"30d\""
)]
pub struct DurationError {
    input: String,
    reason: String,
}

/// Parses a human duration (see [`Dur`]).
pub fn parse_duration(input: &str) -> Result<Dur, DurationError> {
    let err = |reason: &str| DurationError {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("it is empty"));
    }
    if s == "0" {
        return Ok(Dur::ZERO);
    }
    if s.starts_with('-') {
        return Err(err("a duration cannot be negative"));
    }
    if s.starts_with("fault") {
        return Err(err(
            "a time relative to a fault (\"fault 0 + 5m\") is for the windows of never, eventually, count and state, and the `after` of takeover and failback; here write a time in the run",
        ));
    }
    let mut total: u128 = 0;
    let mut rest = s;
    // Each unit smaller than the one before: "1h30m", never "30s1m".
    let mut last_unit = u128::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err("expected a number"));
        }
        let value: u128 = rest[..digits]
            .parse()
            .map_err(|_| err("number too large"))?;
        rest = &rest[digits..];
        if rest.starts_with(['.', ',']) {
            let example = whole_units(value, &rest[1..])
                .unwrap_or_else(|| "\"90m\", not \"1.5h\"".to_string());
            return Err(err(&format!(
                "fractions are not written: use a smaller unit ({example})"
            )));
        }
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let ms_per: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" if rest.starts_with(char::is_whitespace) => {
                return Err(err(
                    "no spaces: a number and its unit's letter, \"3m\", \"500ms\"",
                ));
            }
            "" => return Err(err("a number needs a unit (ms, s, m, h, d)")),
            _ => {
                return Err(err(
                    "unknown unit (use ms, s, m, h or d, a letter: \"3m\", not \"3min\")",
                ));
            }
        };
        if ms_per >= last_unit {
            return Err(err(
                "units go from largest to smallest, each once (\"1h30m\", not \"30m1h\" or \"1m1m\")",
            ));
        }
        last_unit = ms_per;
        total = value
            .checked_mul(ms_per)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err("too large"))?;
    }
    let ms = u64::try_from(total).map_err(|_| err("too large"))?;
    Ok(Dur(Duration::from_millis(ms)))
}

/// Formats milliseconds as a short human duration (`"3m41s"`, `"250ms"`).
pub fn format_millis(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if rest >= size {
            out.push_str(&format!("{}{}", rest / size, unit));
            rest %= size;
        }
    }
    if rest > 0 {
        out.push_str(&format!("{rest}ms"));
    }
    out
}

/// `"90s", not "1.5m"`: the fraction `value.frac` (`frac` is what follows
/// the point: digits, then a unit) in the largest unit that holds it whole.
fn whole_units(value: u128, frac: &str) -> Option<String> {
    let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
    let unit = &frac[digits..];
    let per: u128 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    let scale = 10u128.checked_pow(u32::try_from(digits).ok()?)?;
    let fraction: u128 = frac[..digits].parse().ok()?;
    let scaled = value
        .checked_mul(scale)?
        .checked_add(fraction)?
        .checked_mul(per)?;
    let ms = scaled / scale;
    // Finer than a millisecond: round it, one way or the other.
    if scaled % scale != 0 {
        return Some(format!(
            "1ms is the finest: \"{ms}ms\" or \"{}ms\", not \"{value}.{frac}\"",
            ms + 1
        ));
    }
    let (n, u) = [(3_600_000, "h"), (60_000, "m"), (1_000, "s"), (1, "ms")]
        .into_iter()
        .find(|(p, _)| ms % p == 0 && *p < per)?;
    Some(format!("\"{}{u}\", not \"{value}.{frac}\"", ms / n))
}

/// Formats milliseconds for prose: whole seconds from 10 s up (`"2m31s"`),
/// tenths below (`"4.2s"`), milliseconds under a second (`"250ms"`).
pub fn human_ms(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 10_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        filled(ms.saturating_add(500) / 1000)
    }
}

/// Whole seconds as [`format_millis`] writes them, but with every unit
/// between the first and the last said, zero or not: "23h0m25s", never a
/// "23h25s" that a reader takes for 23 hours 25 minutes.
fn filled(secs: u64) -> String {
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let parts: Vec<(u64, &str)> = {
        let mut rest = secs;
        units
            .iter()
            .map(|(u, size)| {
                let n = rest / size;
                rest %= size;
                (n, *u)
            })
            .collect()
    };
    let first = parts.iter().position(|(n, _)| *n > 0);
    let last = parts.iter().rposition(|(n, _)| *n > 0);
    match (first, last) {
        (Some(a), Some(b)) => parts[a..=b]
            .iter()
            .map(|(n, u)| format!("{n}{u}"))
            .collect(),
        _ => "0s".into(),
    }
}

/// [`human_ms`] of `ms`, precise enough to tell it from `bound`: a silence
/// of 2m59.6s against a 3m rule reads `"2m59.6s"`, never a `"3m"` that
/// looks equal to the bound (rounded toward `ms`'s side of it).
pub fn human_ms_beside(ms: u64, bound: u64) -> String {
    let plain = human_ms(ms);
    if ms == bound || plain != human_ms(bound) {
        return plain;
    }
    // Tenths, rounded away from the bound: never onto it.
    let tenths = if ms < bound {
        ms / 100
    } else {
        ms.div_ceil(100)
    };
    let minutes = tenths / 600 * 60_000;
    let head = if minutes > 0 {
        format_millis(minutes)
    } else {
        String::new()
    };
    let rest = tenths % 600;
    format!("{head}{}.{}s", rest / 10, rest % 10)
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_millis(self.as_millis()))
    }
}

impl std::str::FromStr for Dur {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"30s\", \"3m\" or \"30d\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                parse_duration(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                if v == 0 {
                    Ok(Dur::ZERO)
                } else {
                    Err(E::custom(format!(
                        "a duration needs a unit: write \"{v}s\" or \"{v}m\", in quotes"
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_combinations() {
        assert_eq!(parse_duration("500ms").unwrap(), Dur::millis(500));
        assert_eq!(parse_duration("30s").unwrap(), Dur::secs(30));
        assert_eq!(parse_duration("3m").unwrap(), Dur::mins(3));
        assert_eq!(parse_duration("1h30m").unwrap(), Dur::mins(90));
        assert_eq!(parse_duration("30d").unwrap(), Dur::secs(30 * 86_400));
        assert_eq!(parse_duration("0").unwrap(), Dur::ZERO);
    }

    #[test]
    fn rejects_missing_or_unknown_units() {
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        let why = |s: &str| parse_duration(s).unwrap_err().to_string();
        assert!(
            why("3 minutes").contains("no spaces"),
            "{}",
            why("3 minutes")
        );
        assert!(why("3min").contains("unknown unit"), "{}", why("3min"));
        assert!(why("30").contains("needs a unit"), "{}", why("30"));
    }

    #[test]
    fn says_what_is_wrong_with_a_fraction_a_sign_or_units_out_of_order() {
        let why = |s: &str| parse_duration(s).unwrap_err().to_string();
        assert!(
            why("1.5h").contains("fractions are not written"),
            "{}",
            why("1.5h")
        );
        assert!(why("0.5s").contains("fractions are not written"));
        assert!(
            why("1.5m").contains(r#"("90s", not "1.5m")"#),
            "{}",
            why("1.5m")
        );
        assert!(why("2.25h").contains(r#"("135m", not "2.25h")"#));
        assert!(why("0.5s").contains(r#"("500ms", not "0.5s")"#));
        assert!(why("1.0001s").contains(r#""1000ms" or "1001ms", not "1.0001s""#));
        assert!(why("2.5ms").contains(r#""2ms" or "3ms", not "2.5ms""#));
        assert!(why("-300ms").contains("cannot be negative"));
        for s in ["1m1m", "30s1m", "500ms2s"] {
            assert!(
                why(s).contains("from largest to smallest"),
                "{s}: {}",
                why(s)
            );
        }
        assert_eq!(
            parse_duration("1d2h3m4s5ms").unwrap().as_millis(),
            93_784_005
        );
    }

    #[test]
    fn formats_back_to_human_units() {
        assert_eq!(format_millis(221_000), "3m41s");
        assert_eq!(format_millis(250), "250ms");
        assert_eq!(format_millis(0), "0s");
        assert_eq!(Dur::mins(90).to_string(), "1h30m");
        assert_eq!(human_ms(151_619), "2m32s");
        assert_eq!(human_ms(4_210), "4.2s");
        assert_eq!(human_ms(250), "250ms");
        // Prose says every unit between the first and the last.
        assert_eq!(human_ms((23 * 3600 + 25) * 1000), "23h0m25s");
        assert_eq!(human_ms(((31 * 24 + 23) * 3600 + 29) * 1000), "31d23h0m29s");
        assert_eq!(human_ms(2 * 3600 * 1000), "2h");
        assert_eq!(human_ms(90 * 60 * 1000), "1h30m");
    }

    #[test]
    fn a_duration_beside_a_bound_never_rounds_onto_it() {
        assert_eq!(human_ms_beside(179_600, 180_000), "2m59.6s");
        assert_eq!(human_ms_beside(180_400, 180_000), "3m0.4s");
        assert_eq!(human_ms_beside(179_960, 180_000), "2m59.9s");
        assert_eq!(human_ms_beside(180_001, 180_000), "3m0.1s");
        assert_eq!(human_ms_beside(172_000, 180_000), "2m52s");
        assert_eq!(human_ms_beside(180_000, 180_000), "3m");
    }
}
