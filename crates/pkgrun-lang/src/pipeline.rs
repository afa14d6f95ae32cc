//! publish → smoke → state, the same for every language.
//!
//! [`Run::prepare`] checks everything a command needs before anything is touched
//! (the language's environment variables, the source sha, every package's version
//! or override, and the ecosystem tools on `PATH`) and fails with all problems at
//! once (exit 2). [`Run::publish`] then
//! publishes the packages in dependency order, each from a throwaway copy; a package
//! whose sibling failed is not published, and a dependent is only built once its
//! sibling is visible through the URL consumers use. [`Run::smoke`] checks what was
//! published: the registry's protocol view, a real consumer install and import, and
//! the upstream probe. Builds and consumer checks (the CPU-heavy steps) each hold one of
//! the process's [`cpu_slots`] while they run. State documents are written atomically after publish (smoke
//! `not-run`) and again after smoke; a package that failed to publish keeps its
//! previous state file untouched.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use pkgrun_core::config::{Config, LangSection, Package};
use pkgrun_core::env::{EnvSource, Problems, Resolved};
use pkgrun_core::log::Logger;
use pkgrun_core::plan::{self, VersionPlan};
use pkgrun_core::state::{
    CheckStatus, DependencyPin, Publish, Smoke, SmokeCheckResult, SmokeStatus, StateDocument,
    StateStore, UpstreamProbe,
};
use pkgrun_core::version::{Timestamp, VersionSource};
use pkgrun_core::Lang;

use crate::adapter::{Adapter, BuildJob, Context, Pin, ProbeEvidence};
use crate::cpu_slots;
use crate::failure::{Failure, FailureKind};
use crate::http::{RegistryHttp, RetryPolicy};
use crate::workspace;

/// How long a dependent waits for its freshly published sibling to become visible.
pub const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(60);

/// The outcome of a phase: the documents it produced and the failures it met.
#[derive(Debug, Default)]
pub struct Outcome {
    pub documents: Vec<StateDocument>,
    pub failures: Vec<Failure>,
}

impl Outcome {
    /// The failure that decides the exit code, if any.
    pub fn worst(&self) -> Option<&Failure> {
        self.failures.iter().max_by_key(|f| f.rank())
    }
}

/// One language's run, prepared and checked.
pub struct Run<'a, A: Adapter> {
    adapter: A,
    config: &'a Config,
    section: &'a LangSection,
    env: Resolved,
    /// state_key → version to publish and where it came from (only for publish).
    versions: BTreeMap<String, (String, VersionSource)>,
    sha: Option<String>,
    logger: Logger,
    http: RegistryHttp,
    scratch: tempfile::TempDir,
    /// A signal removes the scratch directory (its `Drop` would not run).
    _scratch_on_signal: pkgrun_core::shutdown::TempRegistration,
}

/// What a command is about to do; decides what `prepare` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Publish,
    Smoke,
}

/// Checks everything the commands for `langs` need before anything is touched: the
/// environment contract of every language, and for publish the source sha and every
/// package's version or override. All problems come back in one usage failure (exit 2).
pub fn preflight(
    config: &Config,
    langs: &[Lang],
    source: &dyn EnvSource,
    phase: Phase,
) -> Result<(Resolved, Option<VersionPlan>), Failure> {
    let result = match phase {
        Phase::Publish => plan::preflight(config, langs, source, Timestamp::now())
            .map(|p| (p.env, Some(p.versions))),
        Phase::Smoke => plan::environment(config, langs, source).map(|env| (env, None)),
    };
    let missing_tools: Vec<String> = langs
        .iter()
        .flat_map(|l| missing_tools(*l, config, phase))
        .collect();
    let result = match (result, missing_tools.is_empty()) {
        (result, true) => result,
        (result, false) => {
            let mut problems = Problems::new();
            if let Err(e) = result {
                problems.extend(e);
            }
            for problem in missing_tools {
                problems.push(
                    "PATH",
                    problem,
                    "install the tool in the runner image or put it on PATH",
                );
            }
            Err(problems.into_result().expect_err("there are problems"))
        }
    };
    result.map_err(|e| {
        let what = match phase {
            Phase::Publish => "publish",
            Phase::Smoke => "smoke-test",
        };
        let langs: Vec<&str> = langs.iter().map(|l| l.as_str()).collect();
        Failure::usage(format!("cannot {what} {}", langs.join(", ")))
            .with_detail(e.to_string())
            .with_hint("fix the problems listed above (see the README's environment contract); nothing was touched")
    })
}

/// The tools a language's adapter needs for `phase` that are missing.
fn missing_tools(lang: Lang, config: &Config, phase: Phase) -> Vec<String> {
    struct MissingTools<'a>(&'a Config, Phase);
    impl crate::AdapterVisitor for MissingTools<'_> {
        type Output = Vec<String>;
        fn visit<A: Adapter>(self, adapter: A) -> Vec<String> {
            adapter.missing_tools(self.0, self.1)
        }
    }
    crate::with_adapter(lang, MissingTools(config, phase))
}

impl<'a, A: Adapter> Run<'a, A> {
    /// A run of one language with the environment (and, to publish, the versions) that
    /// [`preflight`] checked.
    pub fn new(
        adapter: A,
        config: &'a Config,
        env: Resolved,
        plan: Option<&VersionPlan>,
        logger: &Logger,
    ) -> Result<Self, Failure> {
        let lang = adapter.lang();
        let section = config.section(lang).ok_or_else(|| {
            Failure::usage(format!("{} has no [{lang}] section", config.path().display()))
                .with_hint(format!("add a [{lang}] section with at least one [[{lang}.packages]] entry (see the README's configuration reference)"))
        })?;
        let versions = plan
            .map(|plan| {
                plan.packages
                    .iter()
                    .filter(|p| p.lang == lang)
                    .map(|p| (p.state_key.clone(), (p.version.clone(), p.source.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let scratch = tempfile::Builder::new()
            .prefix(&format!("pkgrun-{lang}-"))
            .tempdir()
            .map_err(|e| Failure::internal(format!("cannot create a temporary directory: {e}")))?;
        Ok(Run {
            adapter,
            config,
            section,
            env,
            versions,
            sha: plan.map(|p| p.sha.to_string()),
            logger: logger.clone(),
            http: RegistryHttp::new(RetryPolicy::default())?,
            _scratch_on_signal: pkgrun_core::shutdown::register_temp_dir(scratch.path()),
            scratch,
        })
    }

    fn lang(&self) -> Lang {
        self.adapter.lang()
    }

    fn context(&self, phase: &str) -> Context<'_> {
        let log = self
            .logger
            .scoped(format!("packages:{}-{phase}", self.lang()));
        Context {
            config: self.config,
            env: &self.env,
            // The phase's logger reports the client's retries; the connection pool is shared.
            http: self.http.clone().with_logger(log.clone()),
            log,
            scratch: self.scratch.path(),
        }
    }

    fn store(&self) -> StateStore {
        StateStore::new(self.config.state_dir())
    }

    /// Publishes every package of the language in dependency order and writes their
    /// state documents (smoke `not-run`).
    pub fn publish(&self) -> Outcome {
        let ctx = self.context("publish");
        let mut outcome = Outcome::default();
        let mut published: BTreeMap<&str, String> = BTreeMap::new();
        let mut failed: BTreeSet<&str> = BTreeSet::new();
        for package in self.section.publish_order() {
            let siblings = self.section.siblings(package);
            if let Some(dep) = siblings
                .iter()
                .find(|s| failed.contains(s.state_key.as_str()))
            {
                ctx.log.warn(&format!(
                    "skip {}: it depends on {}, which was not published",
                    package.name, dep.name
                ));
                failed.insert(&package.state_key);
                continue;
            }
            let pins = siblings
                .iter()
                .map(|s| Pin {
                    package: s,
                    version: published[s.state_key.as_str()].clone(),
                })
                .collect();
            match self.publish_one(&ctx, package, pins) {
                Ok(doc) => {
                    published.insert(&package.state_key, doc.version.clone());
                    outcome.documents.push(doc);
                }
                Err(failure) => {
                    ctx.log.fail(&format!("{}: {failure}", package.name));
                    failed.insert(&package.state_key);
                    outcome
                        .failures
                        .push(failure.for_package(&package.state_key));
                }
            }
        }
        self.record(&mut outcome, "publish");
        outcome
    }

    /// The job of `package`: its version (an override is said so in the log) and a
    /// throwaway copy of its directory to build in.
    fn prepare_job<'p>(
        &self,
        ctx: &Context,
        package: &'p Package,
        pins: Vec<Pin<'p>>,
    ) -> Result<BuildJob<'p>, Failure> {
        let (version, source) = self.versions[&package.state_key].clone();
        if let VersionSource::Override { variable } = &source {
            // The language variable is what `pkgrun env` prints, so an
            // `eval "$(pkgrun env)"` left in a shell silently re-publishes the previous
            // version: say so.
            ctx.log.info(&format!(
                "{}: version {version} from {variable} (release override, not a snapshot)",
                package.name,
            ));
        }
        let workdir = ctx.scratch_dir(&package.state_key)?;
        workspace::copy_package(&package.dir, &workdir, self.adapter.skipped_dirs())?;
        Ok(BuildJob {
            package,
            version,
            pins,
            workdir,
        })
    }

    fn publish_one(
        &self,
        ctx: &Context,
        package: &Package,
        pins: Vec<Pin>,
    ) -> Result<StateDocument, Failure> {
        let started = Instant::now();
        let job = self.prepare_job(ctx, package, pins)?;
        let mut durations = BTreeMap::new();

        let what = format!("build {} {}", package.name, job.version);
        let slot = cpu_slots::slots().acquire(&ctx.log, &what);
        let step = ctx.log.step(what);
        let mut build = finish(step, self.adapter.build(ctx, &job))?;
        drop(slot);
        durations.insert("build".to_string(), ms(started.elapsed()));

        let upload_started = Instant::now();
        let step = ctx
            .log
            .step(format!("upload {} {}", package.name, job.version));
        let outcome = finish(step, self.adapter.upload(ctx, &job, &mut build))?;
        durations.insert("upload".to_string(), ms(upload_started.elapsed()));

        let visible_started = Instant::now();
        let step = ctx.log.step(format!(
            "wait until {} {} is visible",
            package.name, job.version
        ));
        finish(step, self.wait_visible(ctx, package, &job.version))?;
        durations.insert("visible".to_string(), ms(visible_started.elapsed()));
        durations.insert("total".to_string(), ms(started.elapsed()));

        Ok(StateDocument {
            schema: Default::default(),
            language: self.lang(),
            package: package.name.clone(),
            state_key: package.state_key.clone(),
            version: job.version.clone(),
            registry: self.adapter.registry_url(&self.env),
            git_sha: self.sha.clone().unwrap_or_default(),
            published_at: Timestamp::now().rfc3339(),
            publish: Publish { outcome },
            dependencies: job
                .pins
                .iter()
                .map(|p| DependencyPin {
                    package: p.package.name.clone(),
                    version: p.version.clone(),
                })
                .collect(),
            artifacts: self.adapter.artifacts(&build),
            smoke: Smoke::not_run(),
            durations_ms: durations,
        })
    }

    fn wait_visible(&self, ctx: &Context, package: &Package, version: &str) -> Result<(), Failure> {
        let deadline = Instant::now() + VISIBILITY_TIMEOUT;
        let mut pause = Duration::from_millis(200);
        loop {
            if self.adapter.is_visible(ctx, package, version)? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Failure::publish(format!(
                    "{} {version} was uploaded but is not listed by the registry after {}s",
                    package.name,
                    VISIBILITY_TIMEOUT.as_secs()
                ))
                .with_hint("the registry accepted the upload but does not serve it: check its logs and caching"));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// Smoke-tests the documents `published` (from this run), or the ones in the state
    /// directory when `None`, and records the results in them.
    pub fn smoke(&self, published: Option<Vec<StateDocument>>) -> Outcome {
        let ctx = self.context("smoke");
        let mut outcome = Outcome::default();
        let documents = match published {
            Some(docs) => docs,
            None => match self.load_documents() {
                Ok(docs) => docs,
                Err(failure) => {
                    outcome.failures.push(failure);
                    return outcome;
                }
            },
        };
        if documents.is_empty() {
            return outcome;
        }
        let probe = self.section.upstream_probe.as_deref().map(|target| {
            let started = Instant::now();
            let step = ctx.log.step(format!("upstream probe {target}"));
            let result = finish(step, self.adapter.probe_upstream(&ctx, target));
            (target, result, started.elapsed())
        });
        for mut doc in documents {
            let package = self
                .section
                .packages
                .iter()
                .find(|p| p.state_key == doc.state_key)
                .expect("documents are loaded for configured packages");
            let started = Instant::now();
            let mut checks = Vec::new();
            let protocol = self.check(&ctx, "protocol", &doc, &mut checks, || {
                self.adapter.check_protocol(&ctx, package, &doc)
            });
            let what = format!("consumer check {} {}", doc.package, doc.version);
            let slot = cpu_slots::slots().acquire(&ctx.log, &what);
            let consumer = self.check(&ctx, "consumer", &doc, &mut checks, || {
                self.adapter.check_consumer(&ctx, package, &doc)
            });
            drop(slot);
            let mut failures: Vec<Failure> = [protocol, consumer].into_iter().flatten().collect();
            let upstream_probe = probe
                .as_ref()
                .map(|(target, result, _)| probe_record(target, result, &mut failures));
            doc.smoke = Smoke {
                status: if failures.is_empty() {
                    SmokeStatus::Passed
                } else {
                    SmokeStatus::Failed
                },
                checks,
                upstream_probe,
            };
            let probe_took = probe.as_ref().map(|(_, _, took)| *took);
            record_durations(&mut doc, started.elapsed(), probe_took);
            let key = &doc.state_key;
            outcome
                .failures
                .extend(failures.into_iter().map(|f| f.for_package(key)));
            outcome.documents.push(doc);
        }
        self.record(&mut outcome, "smoke");
        outcome
    }

    /// Runs one smoke check as a step and records it; returns its failure, if any.
    fn check(
        &self,
        ctx: &Context,
        name: &str,
        doc: &StateDocument,
        checks: &mut Vec<SmokeCheckResult>,
        f: impl FnOnce() -> Result<String, Failure>,
    ) -> Option<Failure> {
        let step = ctx
            .log
            .step(format!("{name} check {} {}", doc.package, doc.version));
        let started = Instant::now();
        let result = finish(step, f());
        let duration_ms = ms(started.elapsed());
        match result {
            Ok(detail) => {
                checks.push(SmokeCheckResult {
                    name: name.to_string(),
                    status: CheckStatus::Passed,
                    duration_ms,
                    detail: Some(detail),
                });
                None
            }
            Err(failure) => {
                let failure = failure.reclassify(FailureKind::Publish, FailureKind::Smoke);
                checks.push(SmokeCheckResult {
                    name: name.to_string(),
                    status: CheckStatus::Failed,
                    duration_ms,
                    detail: Some(failure.to_string()),
                });
                Some(Failure {
                    message: format!("{name} check of {} {} failed", doc.package, doc.version),
                    detail: Some(failure.to_string()),
                    ..failure
                })
            }
        }
    }

    fn load_documents(&self) -> Result<Vec<StateDocument>, Failure> {
        let store = self.store();
        let mut docs = Vec::new();
        let mut missing = Vec::new();
        for package in self.section.publish_order() {
            match store.read_document(&package.state_key)? {
                Some(doc) => docs.push(doc),
                None => missing.push(package.state_key.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(Failure::usage(format!(
                "no state document for {} in {}",
                missing.join(", "),
                store.dir().display()
            ))
            .with_hint(format!(
                "run `pkgrun publish {}` first (or `pkgrun run {}`)",
                self.lang(),
                self.lang()
            )));
        }
        Ok(docs)
    }

    /// Writes the phase's documents, and the `<lang>-version` file when every package
    /// of the language got through the phase.
    fn record(&self, outcome: &mut Outcome, phase: &str) {
        if outcome.documents.is_empty() {
            return;
        }
        let log = self
            .logger
            .scoped(format!("packages:{}-state", self.lang()));
        let store = self.store();
        let step = log.step(format!("record {phase} state in {}", store.dir().display()));
        let result = (|| -> Result<(), Failure> {
            for doc in &outcome.documents {
                store.write_document(doc)?;
            }
            if outcome.failures.is_empty() && outcome.documents.len() == self.section.packages.len()
            {
                let primary = primary_version(self.section, &outcome.documents);
                store.write_version(self.lang(), &primary)?;
            }
            Ok(())
        })();
        if let Err(failure) = finish(step, result) {
            outcome.failures.push(failure);
        }
    }
}

/// The language's version for `<lang>-version` and `{PREFIX}_{LANG}_SDK_VERSION`: the
/// version of the last package in publish order, i.e. the one that depends on the
/// others (the SDK rather than its telemetry helper).
fn primary_version(section: &LangSection, documents: &[StateDocument]) -> String {
    let last = section.publish_order().last().map(|p| p.state_key.clone());
    documents
        .iter()
        .find(|d| Some(&d.state_key) == last.as_ref())
        .or(documents.last())
        .map(|d| d.version.clone())
        .unwrap_or_default()
}

/// Finishes a logged step with the result's outcome.
fn finish<T>(step: pkgrun_core::log::Step, result: Result<T, Failure>) -> Result<T, Failure> {
    match &result {
        Ok(_) => {
            step.ok();
        }
        Err(f) => {
            step.fail(&f.to_string());
        }
    }
    result
}

fn ms(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

/// The state's record of the run's upstream probe; a failed probe also fails the
/// package's smoke (a probe is a smoke check, never a publish failure).
fn probe_record(
    target: &str,
    result: &Result<ProbeEvidence, Failure>,
    failures: &mut Vec<Failure>,
) -> UpstreamProbe {
    match result {
        Ok(evidence) => UpstreamProbe {
            target: target.to_string(),
            status: CheckStatus::Passed,
            first_ms: evidence.first_ms,
            second_ms: evidence.second_ms,
            evidence: evidence.evidence.clone(),
        },
        Err(failure) => {
            failures.push(
                failure
                    .clone()
                    .reclassify(FailureKind::Publish, FailureKind::Smoke),
            );
            UpstreamProbe {
                target: target.to_string(),
                status: CheckStatus::Failed,
                first_ms: 0,
                second_ms: 0,
                evidence: failure.to_string(),
            }
        }
    }
}

/// Records the smoke's duration (the probe's included) and the total with the publish's.
fn record_durations(doc: &mut StateDocument, smoke: Duration, probe: Option<Duration>) {
    let smoke_ms = ms(smoke) + probe.map(ms).unwrap_or(0);
    doc.durations_ms.insert("smoke".to_string(), smoke_ms);
    let publish_total = doc.durations_ms.get("build").copied().unwrap_or(0)
        + doc.durations_ms.get("upload").copied().unwrap_or(0)
        + doc.durations_ms.get("visible").copied().unwrap_or(0);
    doc.durations_ms
        .insert("total".to_string(), publish_total + smoke_ms);
}
