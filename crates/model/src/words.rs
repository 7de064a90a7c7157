//! Counts in words, for messages every view shows: "1 event", "2 events".

/// `n` and the noun that agrees with it: `counted(1, "event", "events")` is
/// "1 event", `counted(3, …)` "3 events".
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(counted(1, "finding", "findings"), "1 finding");
        assert_eq!(counted(0, "finding", "findings"), "0 findings");
        assert_eq!(counted(2, "change", "changes"), "2 changes");
    }
}
