//! "Did you mean …?": the known name nearest to a misspelt one.

/// The name in `known` nearest to `word` by edit distance, when it is near
/// enough to be a likely misspelling: at most a third of the longer name's
/// characters differ (and at least two may). Ties go to the first in `known`.
pub fn nearest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // A glob that matched nothing is no misspelling of one name.
    if word.contains(['*', '?', '[']) {
        return None;
    }
    let known: Vec<&str> = known.into_iter().collect();
    if let Some(k) = abbreviated(word, &known) {
        return Some(k);
    }
    let mut best: Option<(usize, &str)> = None;
    for k in known {
        let d = strsim::damerau_levenshtein(word, k);
        if near_enough(word, k, d) && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

/// The one name in `known` that `word` begins (`expansion-l` for
/// `expansion-linux`), when it is long enough to mean it.
fn abbreviated<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    if known.contains(&word) {
        return None;
    }
    let mut starting = known
        .iter()
        .filter(|k| k.len() > word.len() && k.starts_with(word));
    match (starting.next(), starting.next()) {
        (Some(k), None) if word.chars().count() >= 3 => Some(k),
        _ => None,
    }
}

/// Whether `d` edits between `a` and `b` still read as a misspelling.
fn near_enough(a: &str, b: &str, d: usize) -> bool {
    let longer = a.chars().count().max(b.chars().count());
    d > 0 && d <= (longer / 3).max(2)
}

/// ` (did you mean NAME?)` after a message, or nothing.
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, known).map_or(String::new(), |k| format!(" (did you mean {k}?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_finds_the_name_it_was_meant_to_be() {
        let known = ["primary-crash", "primary-isolated", "expansion-crash"];
        assert_eq!(nearest("primary-crsh", known), Some("primary-crash"));
        assert_eq!(nearest("primery-isolatd", known), Some("primary-isolated"));
    }

    #[test]
    fn a_name_cut_short_finds_the_one_name_it_begins() {
        let known = ["expansion-linux", "expansion-v2", "primary"];
        assert_eq!(nearest("expansion-l", known), Some("expansion-linux"));
        assert_eq!(nearest("pri", known), Some("primary"));
    }

    #[test]
    fn a_glob_that_matched_nothing_suggests_no_name() {
        assert_eq!(nearest("phones@exp-*", ["phones@apps"]), None);
    }

    #[test]
    fn an_unrelated_word_or_the_name_itself_suggests_nothing() {
        let known = ["primary-crash", "reference"];
        assert_eq!(nearest("voicemail", known), None);
        assert_eq!(nearest("reference", known), None);
        assert_eq!(did_you_mean("xyz", known), "");
    }
}
