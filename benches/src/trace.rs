//! An editing trace (gzip'd JSON, josephg/editing-traces format) and its pre-encoding into
//! one yrs v1 update per transaction, done before any socket is opened so that encoding
//! never competes with the measurement.

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;
use std::path::Path;
use std::sync::{Arc, Mutex};
use yrs::{ClientID, Doc, GetString, OffsetKind, Options, ReadTxn, Text, Transact};

/// The root type every benchmark document uses.
pub const TEXT: &str = "text";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    pub start_content: String,
    pub end_content: String,
    pub txns: Vec<Txn>,
}

#[derive(Deserialize)]
pub struct Txn {
    /// `[pos, del, ins]`, pos and del counted in Unicode code points.
    pub patches: Vec<(u32, u32, String)>,
}

/// The trace as the writer sends it.
pub struct EncodedTrace {
    /// One v1 update per transaction, as emitted by `observe_update_v1`.
    pub updates: Vec<Vec<u8>>,
    /// The writer's clock (its entry in the state vector) after each transaction. A delete
    /// leaves it unchanged, so only clock-advancing updates have a measurable latency.
    pub clock_after: Vec<u32>,
    pub end_content: String,
}

impl Trace {
    pub fn load(path: &Path) -> Result<Self> {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
        let trace: Trace = serde_json::from_reader(reader)
            .with_context(|| format!("parsing {} as a gzip'd JSON trace", path.display()))?;
        ensure!(
            !trace.txns.is_empty(),
            "trace {} has no transactions",
            path.display()
        );
        // yrs counts text offsets in UTF-8 bytes or UTF-16 units, the trace in code points;
        // the two agree (with UTF-16) as long as every character is in the BMP.
        let beyond_bmp = |s: &str| s.chars().any(|c| c as u32 > 0xFFFF);
        ensure!(
            !beyond_bmp(&trace.start_content)
                && !beyond_bmp(&trace.end_content)
                && !trace
                    .txns
                    .iter()
                    .flat_map(|t| &t.patches)
                    .any(|p| beyond_bmp(&p.2)),
            "trace {} has characters outside the BMP; code-point offsets are not supported",
            path.display()
        );
        Ok(trace)
    }

    /// Replay the trace on one doc owned by `client`, one transaction per txn, and collect
    /// the update each transaction emits. The start content, if any, goes into a first
    /// update of its own.
    pub fn encode(self, client: ClientID) -> Result<EncodedTrace> {
        let doc = Doc::with_options(Options {
            client_id: client,
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        });
        let text = doc.get_or_insert_text(TEXT);
        let collected: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let sink = collected.clone();
        doc.observe_update_v1("bench", move |_, event| {
            sink.lock().unwrap().push(event.update.clone())
        })
        .map_err(|e| anyhow::anyhow!("observing updates: {e:?}"))?;

        let mut clock_after = Vec::with_capacity(self.txns.len() + 1);
        let mut replay = |patches: &[(u32, u32, String)]| -> Result<()> {
            let expected = collected.lock().unwrap().len() + 1;
            {
                let mut txn = doc.transact_mut();
                for (pos, del, ins) in patches {
                    if *del > 0 {
                        text.remove_range(&mut txn, *pos, *del);
                    }
                    if !ins.is_empty() {
                        text.insert(&mut txn, *pos, ins);
                    }
                }
            }
            if collected.lock().unwrap().len() != expected {
                bail!("a trace transaction produced no update (empty patch?)");
            }
            clock_after.push(doc.transact().state_vector().get(&client));
            Ok(())
        };
        if !self.start_content.is_empty() {
            replay(&[(0, 0, self.start_content.clone())])?;
        }
        for txn in &self.txns {
            replay(&txn.patches)?;
        }

        let text_now = text.get_string(&doc.transact());
        ensure!(
            text_now == self.end_content,
            "replaying the trace locally does not give its endContent ({} vs {} chars)",
            text_now.chars().count(),
            self.end_content.chars().count()
        );
        let updates = std::mem::take(&mut *collected.lock().unwrap());
        Ok(EncodedTrace {
            updates,
            clock_after,
            end_content: self.end_content,
        })
    }
}
