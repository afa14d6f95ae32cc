//! The publish → smoke → state pipeline and its language adapters.
//!
//! * [`pipeline`]: what is the same for every language (environment and version
//!   checks, dependency order, visibility waits, smoke bookkeeping, state writes).
//! * [`adapter`]: the [`Adapter`] trait each language implements.
//! * [`cpu_slots`]: how many builds and consumer installs run at once (`--cpu-jobs`).
//! * [`http`]: registry HTTP with bounded retries (unreachable ⇒ exit 5).
//! * [`workspace`]: throwaway copies of package directories (the workspace is never
//!   mutated).
//! * [`failure`]: failures classified by exit code.
//! * [`digest`]: sha256, npm integrity and shasum.
//! * [`existing`]: the shared "already present / other bytes" decision.
//! * [`archive`]: comparing two archives by contents (re-runs of non-reproducible builds).
//! * [`tool`]: finding the ecosystem tools on `PATH`.
//! * [`go`], [`python`], [`ts`]: the adapters, registered once in [`with_adapter`].

pub mod adapter;
pub mod archive;
pub mod cpu_slots;
pub mod digest;
pub mod existing;
pub mod failure;
pub mod health;
pub mod http;
pub mod pipeline;
pub mod tool;
pub mod workspace;

pub mod go;
pub mod python;
pub mod ts;

pub use adapter::{Adapter, AdapterVisitor, BuildJob, Context, Pin, ProbeEvidence};

use pkgrun_core::Lang;

/// The one place a language is tied to its adapter (its non-I/O rules are tied to it
/// in [`Lang::ecosystem`]): calls `visitor` with the adapter of `lang`.
pub fn with_adapter<V: AdapterVisitor>(lang: Lang, visitor: V) -> V::Output {
    match lang {
        Lang::Go => visitor.visit(go::Go),
        Lang::Python => visitor.visit(python::Python),
        Lang::Ts => visitor.visit(ts::Ts),
    }
}
pub use failure::{Failure, FailureKind};
pub use pipeline::{preflight, Outcome, Phase, Run};

/// The directories `lang`'s adapter never copies from a package (its build outputs,
/// dependency trees and environments): what [`workspace::package_walk`] skips for it.
pub fn skipped_dirs(lang: Lang) -> &'static [&'static str] {
    struct Skipped;
    impl AdapterVisitor for Skipped {
        type Output = &'static [&'static str];
        fn visit<A: Adapter>(self, adapter: A) -> Self::Output {
            adapter.skipped_dirs()
        }
    }
    with_adapter(lang, Skipped)
}
