//! The one "already present / other bytes" decision every adapter makes before (or
//! after a refused) upload: versions are immutable, so a version the registry already
//! holds with the bytes this build made counts as published, and one it holds with
//! other bytes is a publish failure naming both digests.
//!
//! Each adapter feeds it its own digests (npm `dist.integrity`, a file's sha256, a Go
//! zip's `h1:`) as it shows them; the comparison and the wording are shared.

/// What the registry holds for the artifact, as the adapter read it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held<'a> {
    /// Not in the registry: upload it.
    Absent,
    /// In the registry with this digest.
    Digest(&'a str),
    /// In the registry, but its digest could not be read; the text says why. It is
    /// never taken for identical bytes.
    Unknown(&'a str),
}

/// What to do with an artifact the registry may already hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The registry does not have it.
    Upload,
    /// The registry has it with identical bytes: it counts as published.
    AlreadyPresent,
    /// The registry has it with other bytes; the text names both digests.
    OtherBytes(String),
}

/// Decides for `what` (e.g. `name@version` or a file name) built with digest `built`.
pub fn decide(what: &str, built: &str, held: Held) -> Decision {
    let theirs = match held {
        Held::Absent => return Decision::Upload,
        Held::Digest(theirs) if theirs == built => return Decision::AlreadyPresent,
        Held::Digest(theirs) | Held::Unknown(theirs) => theirs,
    };
    Decision::OtherBytes(format!(
        "{what} already exists in the registry with different content (different bytes): registry has {theirs}, this build has {built}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_is_uploaded() {
        assert_eq!(
            decide("a@1.0.0", "sha512-x", Held::Absent),
            Decision::Upload
        );
    }

    #[test]
    fn identical_bytes_are_already_present() {
        assert_eq!(
            decide("a@1.0.0", "h1:abc=", Held::Digest("h1:abc=")),
            Decision::AlreadyPresent
        );
    }

    #[test]
    fn other_bytes_name_both_digests() {
        let Decision::OtherBytes(text) = decide("a.whl", "sha256 new", Held::Digest("sha256 old"))
        else {
            panic!("other bytes must be refused");
        };
        assert!(text.starts_with("a.whl already exists"), "{text}");
        assert!(text.contains("different bytes"), "{text}");
        assert!(text.contains("registry has sha256 old"), "{text}");
        assert!(text.contains("this build has sha256 new"), "{text}");
    }

    #[test]
    fn an_unreadable_digest_is_never_identical() {
        let decision = decide("m@v1.0.0", "h1:x=", Held::Unknown("h1:x="));
        assert!(matches!(decision, Decision::OtherBytes(t) if t.contains("registry has h1:x=")));
        let decision = decide("m@v1.0.0", "h1:x=", Held::Unknown("(not readable)"));
        assert!(matches!(decision, Decision::OtherBytes(t) if t.contains("(not readable)")));
    }
}
