//! Hostile-input tests for the guard: one per attack, plus positive round trips.

use super::*;

use std::panic::{catch_unwind, AssertUnwindSafe};
use yrs::types::xml::{XmlFragment, XmlTextPrelim};
use yrs::types::Attrs;
use yrs::types::DeepObservable;
use yrs::Xml;
use yrs::{Any, Array, ArrayPrelim, GetString, Map, MapPrelim, Text, XmlElementPrelim};

fn limits() -> Limits {
    Limits::default()
}

/// Valid updates as yrs produces them for the editor's kinds of edits.
fn sample_updates() -> Vec<Vec<u8>> {
    let doc = Doc::with_client_id(7);
    let mut out = Vec::new();
    let sv = |d: &Doc| d.transact().state_vector();
    let push = |d: &Doc, before: &StateVector, out: &mut Vec<Vec<u8>>| {
        out.push(d.transact().encode_state_as_update_v1(before))
    };
    let text = doc.get_or_insert_text("text");
    let s0 = sv(&doc);
    text.insert(&mut doc.transact_mut(), 0, "hello wörld 👋");
    push(&doc, &s0, &mut out);
    let s1 = sv(&doc);
    let bold: Attrs = [("bold".into(), Any::Bool(true))].into_iter().collect();
    text.format(&mut doc.transact_mut(), 2, 5, bold);
    text.remove_range(&mut doc.transact_mut(), 0, 1);
    push(&doc, &s1, &mut out);
    let frag = doc.get_or_insert_xml_fragment("prosemirror");
    let s2 = sv(&doc);
    {
        let mut txn = doc.transact_mut();
        let p = frag.insert(&mut txn, 0, XmlElementPrelim::empty("paragraph"));
        p.insert_attribute(&mut txn, "align", "left");
        let t = p.insert(&mut txn, 0, XmlTextPrelim::new("some text"));
        let italic: Attrs = [("italic".into(), Any::Bool(true))].into_iter().collect();
        t.format(&mut txn, 0, 4, italic);
        let h = frag.insert(&mut txn, 1, XmlElementPrelim::empty("heading"));
        h.insert_attribute(&mut txn, "level", "2");
    }
    push(&doc, &s2, &mut out);
    let map = doc.get_or_insert_map("meta");
    let s3 = sv(&doc);
    {
        let mut txn = doc.transact_mut();
        map.insert(&mut txn, "title", "Leitbild");
        map.insert(&mut txn, "n", 42);
        map.insert(&mut txn, "f", 1.5);
        map.insert(
            &mut txn,
            "nested",
            MapPrelim::from([("k".to_string(), Any::from(vec![Any::from(1), Any::Null]))]),
        );
        map.insert(&mut txn, "list", ArrayPrelim::from([1, 2, 3]));
        map.insert(&mut txn, "title", "Leitbild 2");
    }
    push(&doc, &s3, &mut out);
    let arr = doc.get_or_insert_array("arr");
    let s4 = sv(&doc);
    arr.insert_range(
        &mut doc.transact_mut(),
        0,
        [Any::from("x"), Any::from(true)],
    );
    arr.remove(&mut doc.transact_mut(), 0);
    push(&doc, &s4, &mut out);
    out.push(
        doc.transact()
            .encode_state_as_update_v1(&StateVector::default()),
    );
    out
}

/// Exploratory mutation fuzzer: prints every mutated update that passes the scan and then
/// panics in yrs (apply or encode) without the guard. Run with `--ignored --nocapture`.
#[test]
#[ignore]
fn explore_mutations() {
    std::panic::set_hook(Box::new(|_| {}));
    let samples = sample_updates();
    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let iterations: usize = std::env::var("FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let mut found = 0;
    for _ in 0..iterations {
        let base = &samples[(next() % samples.len() as u64) as usize];
        let mut bytes = base.clone();
        for _ in 0..1 + next() % 3 {
            let i = (next() % bytes.len() as u64) as usize;
            match next() % 4 {
                0 => bytes[i] ^= 1 << (next() % 8),
                1 => bytes[i] = next() as u8,
                2 => bytes.insert(i, next() as u8),
                _ => {
                    if bytes.len() > 2 {
                        bytes.remove(i);
                    }
                }
            }
        }
        if scan::update(&bytes, &limits()).is_err() {
            continue;
        }
        // Apply onto an empty doc and onto a doc that has the base state.
        for prior in [None, Some(samples.last().unwrap())] {
            let raw = catch_unwind(AssertUnwindSafe(|| {
                let doc = Doc::with_client_id(1);
                if let Some(p) = prior {
                    doc.transact_mut()
                        .apply_update(Update::decode_v1(p).unwrap())
                        .unwrap();
                }
                if let Ok(u) = Update::decode_v1(&bytes) {
                    let _ = doc.transact_mut().apply_update(u);
                }
                let _ = doc
                    .transact()
                    .encode_state_as_update_v1(&StateVector::default());
            }));
            if raw.is_err() {
                let guarded = catch_unwind(AssertUnwindSafe(|| {
                    let doc = Doc::with_client_id(1);
                    if let Some(p) = prior {
                        apply_update(&doc, p, &limits()).unwrap();
                    }
                    let ok = apply_update(&doc, &bytes, &limits()).is_ok();
                    let enc_ok = !ok
                        || catch_unwind(AssertUnwindSafe(|| {
                            doc.transact()
                                .encode_state_as_update_v1(&StateVector::default())
                        }))
                        .is_ok();
                    (ok, enc_ok)
                }));
                found += 1;
                if found < 40 {
                    eprintln!(
                        "prior={} guarded={:?} bytes={:?}",
                        prior.is_some(),
                        guarded,
                        bytes
                    );
                }
            }
        }
    }
    eprintln!("found {found}");
}

/// Does deep type nesting hurt yrs? Run with `--ignored --nocapture`.
#[test]
#[ignore]
fn explore_deep_xml() {
    let depth: usize = std::env::var("DEPTH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7000);
    let doc = Doc::with_client_id(3);
    let frag = doc.get_or_insert_xml_fragment("f");
    {
        let mut txn = doc.transact_mut();
        let mut el = frag.insert(&mut txn, 0, XmlElementPrelim::empty("div"));
        for _ in 0..depth {
            el = el.insert(&mut txn, 0, XmlElementPrelim::empty("div"));
        }
    }
    eprintln!("built");
    let update = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    eprintln!("encoded {}", update.len());
    let doc2 = Doc::new();
    let f2 = doc2.get_or_insert_xml_fragment("f");
    f2.observe_deep("explore", |_, e| eprintln!("events {}", e.iter().count()));
    doc2.transact_mut()
        .apply_update(Update::decode_v1(&update).unwrap())
        .unwrap();
    eprintln!("applied");
    let _ = doc2
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    eprintln!("re-encoded");
    let s = f2.get_string(&doc2.transact());
    eprintln!("string {}", s.len());
    drop(doc2);
    eprintln!("dropped");
}

/// A tiny xorshift generator, so exploration is reproducible without extra crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// A structurally plausible but random v1 update: small ids and clocks, every parent and
/// origin combination, every content kind the scan admits.
fn random_update(rng: &mut Rng) -> Vec<u8> {
    use yrs::encoding::write::Write;
    let mut w: Vec<u8> = Vec::new();
    let clients = 1 + rng.below(2);
    w.write_var(clients);
    let mut used = Vec::new();
    for _ in 0..clients {
        let blocks = 1 + rng.below(4);
        w.write_var(blocks);
        let mut client = rng.pick(&[1u64, 2, 7]);
        while used.contains(&client) {
            client = rng.pick(&[1u64, 2, 7]);
        }
        used.push(client);
        w.write_var(client);
        w.write_var(rng.pick(&[0u32, 0, 1, 2, 3, 5, 12]));
        for _ in 0..blocks {
            let kind = rng.below(10);
            if kind == 0 {
                w.write_u8(0);
                w.write_var(1 + rng.below(3));
                continue;
            }
            if kind == 1 {
                w.write_u8(10);
                w.write_var(1 + rng.below(3));
                continue;
            }
            let content = rng.pick(&[1u8, 4, 4, 5, 6, 7, 7, 8]);
            let origin = rng.below(2) == 0;
            let right = rng.below(3) == 0;
            let sub = rng.below(4) == 0;
            let info = content
                | if origin { 0x80 } else { 0 }
                | if right { 0x40 } else { 0 }
                | if sub { 0x20 } else { 0 };
            w.write_u8(info);
            let id = |w: &mut Vec<u8>, rng: &mut Rng| {
                w.write_var(rng.pick(&[1u64, 2, 7]));
                w.write_var(rng.below(14));
            };
            if origin {
                id(&mut w, rng);
            }
            if right {
                id(&mut w, rng);
            }
            if !origin && !right {
                if rng.below(2) == 0 {
                    w.write_var(1u32);
                    w.write_string(rng.pick(&["text", "prosemirror", "meta", "arr"]));
                } else {
                    w.write_var(0u32);
                    id(&mut w, rng);
                }
                if sub {
                    w.write_string(rng.pick(&["k", "title"]));
                }
            }
            match content {
                1 => w.write_var(1 + rng.below(3)),
                4 => w.write_string(rng.pick(&["a", "bc", "👋"])),
                5 => w.write_string("{\"x\":1}"),
                6 => {
                    w.write_string(rng.pick(&["bold", "italic"]));
                    w.write_string(rng.pick(&["true", "null"]));
                }
                7 => {
                    let t = rng.below(7) as u8;
                    w.write_u8(t);
                    if t == 3 {
                        w.write_string("p");
                    }
                }
                _ => {
                    w.write_var(1u32);
                    w.write_u8(125);
                    w.write_u8(rng.below(60) as u8);
                }
            }
        }
    }
    let ds_clients = rng.below(2);
    w.write_var(ds_clients);
    for _ in 0..ds_clients {
        w.write_var(rng.pick(&[1u64, 2, 7]));
        w.write_var(1u32);
        w.write_var(rng.below(14));
        w.write_var(1 + rng.below(3));
    }
    w
}

/// Applies `updates` in order on a fresh doc (optionally seeded), then encodes the full
/// state; returns whether yrs panicked anywhere.
fn raw_yrs_panics(seed: Option<&[u8]>, updates: &[Vec<u8>]) -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        let doc = Doc::with_client_id(99);
        if let Some(s) = seed {
            doc.transact_mut()
                .apply_update(Update::decode_v1(s).unwrap())
                .unwrap();
        }
        for u in updates {
            if let Ok(u) = Update::decode_v1(u) {
                let _ = doc.transact_mut().apply_update(u);
            }
        }
        let _ = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
    }))
    .is_err()
}

/// The guarded path: returns Err(description) if a panic escapes or a doc whose every
/// update was accepted cannot be encoded.
fn guarded_run(seed: Option<&[u8]>, updates: &[Vec<u8>]) -> Result<(), String> {
    let doc = Doc::with_client_id(99);
    if let Some(s) = seed {
        apply_update(&doc, s, &limits()).map_err(|e| format!("seed refused: {e}"))?;
    }
    for u in updates {
        let r = catch_unwind(AssertUnwindSafe(|| apply_update(&doc, u, &limits())))
            .map_err(|_| "panic escaped apply_update".to_string())?;
        if r.is_err() {
            // Tainted: the room would reload the doc, so nothing more to check.
            return Ok(());
        }
    }
    catch_unwind(AssertUnwindSafe(|| {
        doc.transact()
            .encode_state_as_update_v1(&StateVector::default())
    }))
    .map(|_| ())
    .map_err(|_| "accepted updates left an unencodable doc".to_string())
}

#[test]
#[ignore]
fn explore_structured() {
    std::panic::set_hook(Box::new(|_| {}));
    let samples = sample_updates();
    let full = samples.last().unwrap().clone();
    let iterations: usize = std::env::var("FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let (mut raw, mut missed) = (0, 0);
    for _ in 0..iterations {
        let n = 1 + rng.below(3) as usize;
        let updates: Vec<Vec<u8>> = (0..n).map(|_| random_update(&mut rng)).collect();
        if updates.iter().any(|u| scan::update(u, &limits()).is_err()) {
            continue;
        }
        let seed = if rng.below(2) == 0 {
            Some(&full[..])
        } else {
            None
        };
        if let Ok(path) = std::env::var("FUZZ_TRACE") {
            std::fs::write(path, format!("seed={} {updates:?}", seed.is_some())).unwrap();
        }
        if raw_yrs_panics(seed, &updates) {
            raw += 1;
            let guarded = guarded_run(seed, &updates);
            if guarded.is_err() {
                missed += 1;
            }
            if raw <= 15 || (guarded.is_err() && missed <= 15) {
                eprintln!(
                    "seed={} guarded={guarded:?} updates={updates:?}",
                    seed.is_some()
                );
            }
        }
    }
    eprintln!("raw panics {raw}, missed by guard {missed}");
}

/// Replays one case from `FUZZ_CASE` ("raw" or "guarded" in `FUZZ_MODE`).
#[test]
#[ignore]
fn explore_case() {
    let case: Vec<Vec<u8>> = serde_json::from_str(&std::env::var("FUZZ_CASE").unwrap()).unwrap();
    let full = sample_updates().pop().unwrap();
    let seed = std::env::var("FUZZ_SEED").is_ok().then_some(&full[..]);
    if std::env::var("FUZZ_MODE").as_deref() == Ok("guarded") {
        eprintln!("guarded: {:?}", guarded_run(seed, &case));
    } else {
        let doc = Doc::with_client_id(99);
        if let Some(s) = seed {
            doc.transact_mut()
                .apply_update(Update::decode_v1(s).unwrap())
                .unwrap();
        }
        for u in &case {
            let r = doc
                .transact_mut()
                .apply_update(Update::decode_v1(u).unwrap());
            let txn = doc.transact();
            eprintln!(
                "applied {r:?} pending={:?} ds={:?}",
                txn.store().pending_update().map(|p| &p.missing),
                txn.store().pending_ds()
            );
        }
        eprintln!("encoding");
        let _ = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        eprintln!("encoded");
    }
}
