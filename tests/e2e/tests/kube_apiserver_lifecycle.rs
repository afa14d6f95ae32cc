//! The test kube-apiserver never outlives its owner. One test in a binary of its own: a second
//! server starting in the same process could race it for etcd's ports (its test harness picks
//! them by binding and releasing).

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use pkgrun_e2e::KubeApiServer;

#[test]
fn the_server_exits_by_itself_when_its_stdin_closes_and_removes_its_directory() -> Result<()> {
    let server = KubeApiServer::start()?;
    let addr = server
        .url()
        .strip_prefix("https://")
        .context("https url")?
        .to_string();
    ensure!(
        std::net::TcpStream::connect(&addr).is_ok(),
        "serving on {addr}"
    );
    ensure!(server.dir().join("admin.kubeconfig").is_file());

    // What happens to a shared server when its test process exits: no signal, only EOF.
    server.close_stdin_and_wait(Duration::from_secs(20))?;
    ensure!(
        std::net::TcpStream::connect(&addr).is_err(),
        "{addr} still accepts connections"
    );
    ensure!(
        !server.dir().exists(),
        "the server removes its directory on exit"
    );
    Ok(())
}
