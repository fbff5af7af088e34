//! Durability: content survives restarts, and a killed server loses nothing anyone saw.

use crate::support::TestServer;

#[tokio::test]
async fn content_survives_a_restart() {
    let server = TestServer::start_with(|c| c.checkpoint_every = 7).await;
    {
        let a = server.connect("keep").await;
        for i in 0..30 {
            a.append(&format!("{i},")).await;
        }
        let b = server.connect("keep").await;
        b.wait_for(|b| b.text().ends_with("29,")).await;
    }
    let expected: String = (0..30).map(|i| format!("{i},")).collect();
    let server = server.restart().await;
    let c = server.connect("keep").await;
    assert_eq!(c.text(), expected);
}
