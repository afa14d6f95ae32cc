//! The publish → smoke → state pipeline and its language adapters.
//!
//! * [`pipeline`]: what is the same for every language (environment and version
//!   checks, dependency order, visibility waits, smoke bookkeeping, state writes).
//! * [`adapter`]: the [`Adapter`] trait each language implements.
//! * [`http`]: registry HTTP with bounded retries (unreachable ⇒ exit 5).
//! * [`workspace`]: throwaway copies of package directories (the workspace is never
//!   mutated).
//! * [`failure`]: failures classified by exit code.
//! * [`digest`]: sha256, npm integrity and shasum.
//! * [`tool`]: finding the ecosystem tools on `PATH`.
//! * [`go`], [`python`], [`ts`]: the adapters.

pub mod adapter;
pub mod digest;
pub mod failure;
pub mod http;
pub mod pipeline;
pub mod tool;
pub mod workspace;

pub mod go;
pub mod python;
pub mod ts;

pub use adapter::{Adapter, BuildJob, Context, Pin, ProbeEvidence};
pub use failure::{Failure, FailureKind};
pub use pipeline::{preflight, Outcome, Phase, Run};
