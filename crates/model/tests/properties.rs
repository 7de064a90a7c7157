//! Properties of the file readers, over any input: durations read back what
//! they print, and the scenario and fleet parsers never panic, on arbitrary
//! text or on mutated copies of the shipped files.

use fleetsim_model::embedded::FILES;
use fleetsim_model::scenario::FleetResolver;
use fleetsim_model::{Dur, Fleet, LoadError, Scenario, Source, format_millis, parse_duration};
use proptest::prelude::*;

/// Resolves every fleet path to the given text (a mutated fleet, say).
struct Fixed(String);

impl FleetResolver for Fixed {
    fn read(&self, _: &str) -> Result<(String, String), LoadError> {
        Ok(("fleet.toml".into(), self.0.clone()))
    }
}

fn reference_fleet() -> &'static str {
    FILES
        .iter()
        .find(|(p, _)| *p == "fleets/reference.toml")
        .map(|(_, t)| *t)
        .unwrap()
}

/// Parses `text` as a scenario (on `fleet`) and as a fleet, and renders any
/// error: none of it may panic.
fn parse_both(text: &str, fleet: &str) {
    let src = Source {
        name: "fuzzed.toml",
        text,
    };
    if let Err(e) = Scenario::parse(&src, &Fixed(fleet.to_string())) {
        let _ = e.to_string();
    }
    if let Err(e) = Fleet::from_toml(&src) {
        let _ = e.to_string();
    }
    let _ = Fleet::looks_like(text);
}

/// One edit of a text: what to put in place of a char range.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine { line: usize },
    SwapDigit { at: usize, digit: char },
}

fn edit() -> impl Strategy<Value = Edit> {
    let snippet = prop_oneof![
        any::<String>(),
        Just("\n[[server]]\n".to_string()),
        Just("\"".to_string()),
        Just("= { ".to_string()),
        Just("99999999999999999999".to_string()),
        Just("\"0ms\"".to_string()),
        Just("[calls]\nper-hour = 4294967295\n".to_string()),
    ];
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), snippet).prop_map(|(at, text)| Edit::Insert { at, text }),
        any::<usize>().prop_map(|line| Edit::DuplicateLine { line }),
        (any::<usize>(), proptest::char::range('0', '9'))
            .prop_map(|(at, digit)| Edit::SwapDigit { at, digit }),
    ]
}

fn apply(text: &str, e: &Edit) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let n = chars.len().max(1);
    match e {
        Edit::Delete { at, len } => {
            let at = at % n;
            let end = (at + len).min(chars.len());
            chars.drain(at.min(end)..end);
        }
        Edit::Insert { at, text } => {
            let at = at % (chars.len() + 1);
            chars.splice(at..at, text.chars());
        }
        Edit::DuplicateLine { line } => {
            let lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                return text.to_string();
            }
            let i = line % lines.len();
            let mut out: Vec<&str> = lines[..=i].to_vec();
            out.extend(&lines[i..]);
            return out.join("\n");
        }
        Edit::SwapDigit { at, digit } => {
            let digits: Vec<usize> = (0..chars.len())
                .filter(|i| chars[*i].is_ascii_digit())
                .collect();
            if !digits.is_empty() {
                chars[digits[at % digits.len()]] = *digit;
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_formatted_duration_parses_back_to_itself(ms in any::<u64>()) {
        let text = format_millis(ms);
        prop_assert_eq!(parse_duration(&text), Ok(Dur::millis(ms)), "{}", text);
    }

    #[test]
    fn a_parsed_duration_prints_as_a_duration_that_parses_the_same(s in "[0-9]{1,6}(ms|s|m|h|d)([0-9]{1,3}(ms|s|m|h|d))?") {
        if let Ok(d) = parse_duration(&s) {
            prop_assert_eq!(parse_duration(&d.to_string()), Ok(d));
        }
    }

    #[test]
    fn duration_parsing_never_panics(s in any::<String>()) {
        let _ = parse_duration(&s);
    }

    #[test]
    fn the_parsers_never_panic_on_arbitrary_text(text in any::<String>()) {
        parse_both(&text, reference_fleet());
    }

    #[test]
    fn the_parsers_never_panic_on_mutated_shipped_files(
        file in 0..FILES.len(),
        edits in proptest::collection::vec(edit(), 1..6),
        fleet_edits in proptest::collection::vec(edit(), 0..3),
    ) {
        let mut text = FILES[file].1.to_string();
        for e in &edits {
            text = apply(&text, e);
        }
        let mut fleet = reference_fleet().to_string();
        for e in &fleet_edits {
            fleet = apply(&fleet, e);
        }
        parse_both(&text, &fleet);
    }
}
