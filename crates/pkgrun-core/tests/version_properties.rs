//! Property tests: every snapshot version pkgrun can produce is valid in its ecosystem
//! and snapshots order by timestamp, for any sha (including all-digit shas with
//! leading zeros, the SemVer trap) and any timestamp.

use std::str::FromStr;

use pkgrun_core::version::{self, is_go_canonical, Sha12, Timestamp};
use proptest::prelude::*;

fn sha() -> impl Strategy<Value = Sha12> {
    prop_oneof!["[0-9a-f]{12}", "[0-9]{12}", "0[0-9]{11}", "[0-9a-f]{40}",]
        .prop_map(|s| s.parse().unwrap())
}

/// 2000-01-01 .. 2099-12-31.
fn ts() -> impl Strategy<Value = Timestamp> {
    (946_684_800i64..4_102_444_799).prop_map(|s| Timestamp::from_unix(s).unwrap())
}

fn module() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("go.packages.dev.ameide.io/ameide-sdk-go".to_string()),
        (2u64..30).prop_map(|n| format!("example.com/m/v{n}")),
    ]
}

fn go_semver(v: &str) -> semver::Version {
    semver::Version::parse(v.strip_prefix('v').unwrap()).unwrap()
}

proptest! {
    #[test]
    fn go_snapshots_are_canonical_and_order(m in module(), a in ts(), b in ts(), s1 in sha(), s2 in sha()) {
        let va = version::go_snapshot(&m, a, &s1);
        let vb = version::go_snapshot(&m, b, &s2);
        prop_assert!(is_go_canonical(&va), "{}", va);
        let major = version::go_major_suffix(&m).unwrap_or(0);
        prop_assert_eq!(go_semver(&va).major, major);
        prop_assert!(version::validate_override("m", version::Base::GoModule(&m), &va).is_ok());
        if a < b {
            prop_assert!(go_semver(&va) < go_semver(&vb), "{} !< {}", va, vb);
        }
    }

    #[test]
    fn python_snapshots_are_pep440_and_order(base in "(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]?)(\\.(0|[1-9]))?(rc[1-9]|a[1-9]|\\.post[1-9])?", a in ts(), b in ts(), s1 in sha(), s2 in sha()) {
        let va = version::python_snapshot("p", &base, a, &s1).unwrap();
        let vb = version::python_snapshot("p", &base, b, &s2).unwrap();
        let pa = pep440_rs::Version::from_str(&va).unwrap();
        let pb = pep440_rs::Version::from_str(&vb).unwrap();
        prop_assert_eq!(pa.to_string(), va.clone(), "already normalised");
        prop_assert_eq!(pa.dev(), Some(a.compact().parse::<u64>().unwrap()));
        if a < b {
            prop_assert!(pa < pb, "{} !< {}", va, vb);
        }
    }

    #[test]
    fn ts_snapshots_are_semver_and_order(major in 0u64..100, minor in 0u64..100, patch in 0u64..100, a in ts(), b in ts(), s1 in sha(), s2 in sha()) {
        let base = format!("{major}.{minor}.{patch}");
        let va = version::ts_snapshot("t", &base, a, &s1).unwrap();
        let vb = version::ts_snapshot("t", &base, b, &s2).unwrap();
        let pa = semver::Version::parse(&va).unwrap();
        let pb = semver::Version::parse(&vb).unwrap();
        prop_assert_eq!(pa.to_string(), va.clone());
        prop_assert!(pa < semver::Version::new(major, minor, patch), "a snapshot precedes its release");
        if a < b {
            prop_assert!(pa < pb, "{} !< {}", va, vb);
        }
    }
}

#[test]
fn all_digit_sha_with_leading_zero_is_valid_semver() {
    let sha: Sha12 = "012345678901".parse().unwrap();
    let at = Timestamp::from_unix(1_795_817_405).unwrap();
    let v = version::ts_snapshot("t", "0.1.0", at, &sha).unwrap();
    assert_eq!(v, "0.1.0-dev.20261127221005.g012345678901");
    semver::Version::parse(&v).unwrap();
}
