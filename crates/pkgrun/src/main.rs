//! The `pkgrun` binary: everything lives in the library crate so that it can be tested.

fn main() -> std::process::ExitCode {
    pkgrun::run()
}
