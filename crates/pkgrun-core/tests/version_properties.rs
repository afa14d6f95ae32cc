//! Property tests: every snapshot version pkgrun can produce is valid in its ecosystem
//! and snapshots order by timestamp, for any sha (including all-digit shas with
//! leading zeros, the SemVer trap) and any timestamp, on release and prerelease bases.

use std::cmp::Ordering;
use std::str::FromStr;

use pkgrun_core::ecosystem::VersionInput;
use pkgrun_core::version::{self, Sha12, Timestamp};
use pkgrun_core::Lang;
use proptest::prelude::*;

fn sha() -> impl Strategy<Value = Sha12> {
    prop_oneof!["[0-9a-f]{12}", "[0-9]{12}", "0[0-9]{11}", "[0-9a-f]{40}",]
        .prop_map(|s| s.parse().unwrap())
}

/// 2000-01-01 .. 2099-12-31.
fn ts() -> impl Strategy<Value = Timestamp> {
    (946_684_800i64..4_102_444_799).prop_map(|s| Timestamp::from_unix(s).unwrap())
}

fn module() -> impl Strategy<Value = (String, u64)> {
    prop_oneof![
        Just(("go.packages.dev.ameide.io/ameide-sdk-go".to_string(), 0)),
        (2u64..30).prop_map(|n| (format!("example.com/m/v{n}"), n)),
    ]
}

fn snap(lang: Lang, name: &str, base: Option<&str>, at: Timestamp, sha: &Sha12) -> String {
    let input = VersionInput {
        package: name,
        name,
        base,
    };
    version::snapshot(lang, &input, at, sha).unwrap()
}

proptest! {
    #[test]
    fn go_snapshots_are_pseudo_versions_and_order((m, major) in module(), base in prop::option::of("(0|[1-9])\\.(0|[1-9])\\.(0|[1-9])(-(beta|rc)\\.[1-9])?"), a in ts(), b in ts(), s1 in sha(), s2 in sha()) {
        // A base agrees with the module path's major: `v<major>.<minor>.<patch>[-pre]`.
        let base = base.map(|b| match major {
            0 if b.starts_with(['0', '1']) => format!("v{b}"),
            0 => format!("v1{}", &b[b.find('.').unwrap()..]),
            n => format!("v{n}{}", &b[b.find('.').unwrap()..]),
        });
        let va = snap(Lang::Go, &m, base.as_deref(), a, &s1);
        let vb = snap(Lang::Go, &m, base.as_deref(), b, &s2);
        prop_assert!(gomod::version::is_pseudo_version(&va), "{}", va);
        prop_assert!(gomod::version::check_version_for_module(&m, &va).is_ok(), "{}", va);
        if let Some(base) = &base {
            prop_assert_eq!(gomod::version::compare(base, &va), Ordering::Less, "{} after its base {}", va, base);
        }
        let input = VersionInput { package: "m", name: &m, base: None };
        prop_assert!(version::validate_override(Lang::Go, &input, &va).is_ok());
        if a < b {
            prop_assert_eq!(gomod::version::compare(&va, &vb), Ordering::Less, "{} !< {}", va, vb);
        }
    }

    #[test]
    fn python_snapshots_are_pep440_and_order(base in "(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]?)(\\.(0|[1-9]))?(rc[1-9]|a[1-9]|b[1-9]|\\.post[1-9])?", a in ts(), b in ts(), s1 in sha(), s2 in sha()) {
        let va = snap(Lang::Python, "p", Some(&base), a, &s1);
        let vb = snap(Lang::Python, "p", Some(&base), b, &s2);
        let pa = pep440_rs::Version::from_str(&va).unwrap();
        let pb = pep440_rs::Version::from_str(&vb).unwrap();
        prop_assert_eq!(pa.to_string(), va.clone(), "already normalised");
        prop_assert_eq!(pa.dev(), Some(a.compact().parse::<u64>().unwrap()));
        if a < b {
            prop_assert!(pa < pb, "{} !< {}", va, vb);
        }
    }

    #[test]
    fn ts_snapshots_are_semver_and_order(major in 0u64..100, minor in 0u64..100, patch in 0u64..100, pre in prop::option::of("(alpha|beta|rc)\\.[1-8]"), a in ts(), b in ts(), s1 in sha(), s2 in sha()) {
        let release = semver::Version::new(major, minor, patch);
        let base = match &pre { Some(p) => format!("{release}-{p}"), None => release.to_string() };
        let va = snap(Lang::Ts, "t", Some(&base), a, &s1);
        let vb = snap(Lang::Ts, "t", Some(&base), b, &s2);
        let pa = semver::Version::parse(&va).unwrap();
        let pb = semver::Version::parse(&vb).unwrap();
        prop_assert_eq!(pa.to_string(), va.clone());
        prop_assert!(pa < release, "a snapshot precedes its release");
        if let Some(p) = &pre {
            let base_v = semver::Version::parse(&base).unwrap();
            let (label, n) = p.split_once('.').unwrap();
            let next = semver::Version::parse(&format!("{release}-{label}.{}", n.parse::<u64>().unwrap() + 1)).unwrap();
            prop_assert!(base_v < pa && pa < next, "{} not between {} and {}", va, base_v, next);
        }
        if a < b {
            prop_assert!(pa < pb, "{} !< {}", va, vb);
        }
    }
}

#[test]
fn all_digit_sha_with_leading_zero_is_valid_semver() {
    let sha: Sha12 = "012345678901".parse().unwrap();
    let at = Timestamp::from_unix(1_795_817_405).unwrap();
    let v = snap(Lang::Ts, "t", Some("0.1.0"), at, &sha);
    assert_eq!(v, "0.1.0-dev.20261127221005.g012345678901");
    semver::Version::parse(&v).unwrap();
}
