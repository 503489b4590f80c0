//! Topic names and patterns, as AMQP topic exchanges have them: words
//! separated by dots; in a pattern, `*` stands for exactly one word and
//! `#` for zero or more.

use super::TopicError;

/// The longest topic name or pattern, in bytes (an AMQP routing key's
/// limit).
pub const MAX_TOPIC_LEN: usize = 255;

/// Checks a topic name or pattern: 1 to [`MAX_TOPIC_LEN`] bytes, no `|`
/// (which the subscription tables keep for themselves), no empty word.
pub(crate) fn check(name: &str) -> Result<(), TopicError> {
    let invalid = |why: &'static str| TopicError::Invalid {
        name: name.chars().take(64).collect(),
        why,
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.len() > MAX_TOPIC_LEN {
        return Err(invalid("it is over 255 bytes"));
    }
    if name.contains('|') {
        return Err(invalid("it holds a '|'"));
    }
    if name.split('.').any(str::is_empty) {
        return Err(invalid("it has an empty word"));
    }
    Ok(())
}

/// Whether `name` has a wildcard word (`*` or `#`): a pattern, which can
/// be subscribed to but not published on.
pub(crate) fn is_pattern(name: &str) -> bool {
    name.split('.').any(|word| word == "*" || word == "#")
}

/// Whether the topic `topic` matches `pattern`. Dynamic programming over
/// the words, so a pattern of many `#` costs words × words, never more.
pub(crate) fn matches(pattern: &str, topic: &str) -> bool {
    if !pattern.contains(['*', '#']) {
        return pattern == topic;
    }
    let topic: Vec<&str> = topic.split('.').collect();
    // `now[j]`: the pattern's words so far match the topic's first `j`.
    let mut now = vec![false; topic.len() + 1];
    now[0] = true;
    let mut next = vec![false; topic.len() + 1];
    for word in pattern.split('.') {
        match word {
            "#" => {
                let mut any = false;
                for j in 0..=topic.len() {
                    any |= now[j];
                    next[j] = any;
                }
            }
            _ => {
                next[0] = false;
                for j in 1..=topic.len() {
                    next[j] = now[j - 1] && (word == "*" || word == topic[j - 1]);
                }
            }
        }
        std::mem::swap(&mut now, &mut next);
    }
    now[topic.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_wildcards_match_as_amqp_topic_exchanges_do() {
        let cases = [
            ("user.signed_up", "user.signed_up", true),
            ("user.signed_up", "user.deleted", false),
            ("user.*", "user.signed_up", true),
            ("user.*", "user", false),
            ("user.*", "user.a.b", false),
            ("user.#", "user", true),
            ("user.#", "user.a.b", true),
            ("user.#", "users.a", false),
            ("#", "anything.at.all", true),
            ("*.signed_up", "user.signed_up", true),
            ("#.signed_up", "eu.user.signed_up", true),
            ("#.signed_up", "signed_up", true),
            ("a.#.b.*", "a.x.y.b.z", true),
            ("a.#.b.*", "a.b.z", true),
            ("a.#.b.*", "a.b", false),
            ("*", "a", true),
            ("*", "a.b", false),
        ];
        for (pattern, topic, expected) in cases {
            assert_eq!(matches(pattern, topic), expected, "{pattern} ~ {topic}");
        }
    }

    #[test]
    fn many_hashes_cost_little() {
        let pattern = vec!["#"; 100].join(".") + ".z";
        let topic = vec!["a"; 120].join(".");
        assert!(!matches(&pattern, &topic));
        assert!(matches(&pattern, &(topic + ".z")));
    }

    #[test]
    fn names_are_checked() {
        assert!(check("user.signed_up").is_ok());
        assert!(check("user.#").is_ok());
        assert!(check("").is_err());
        assert!(check("a..b").is_err());
        assert!(check("a.").is_err());
        assert!(check("a|b").is_err());
        assert!(check(&"a".repeat(256)).is_err());
        assert!(is_pattern("user.*") && is_pattern("#") && !is_pattern("user.x*"));
    }
}
