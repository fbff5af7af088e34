//! Co-editing through the server: convergence, late joiners, awareness.

use crate::support::{eventually, TestServer};

#[tokio::test]
async fn two_clients_converge_under_concurrent_edits() {
    let server = TestServer::start().await;
    let a = server.connect("pair").await;
    let b = server.connect("pair").await;
    for i in 0..20 {
        a.append(&format!("a{i} ")).await;
        b.insert(0, &format!("b{i} ")).await;
    }
    eventually("both have all 40 edits", || {
        a.text() == b.text() && a.text().matches(' ').count() == 40
    })
    .await;
    for i in 0..20 {
        assert!(a.text().contains(&format!("a{i} ")) && a.text().contains(&format!("b{i} ")));
    }
}
