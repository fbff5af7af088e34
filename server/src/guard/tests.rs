//! Hostile-input tests for the guard: one per attack, plus positive round trips.

use super::*;

use std::panic::{catch_unwind, AssertUnwindSafe};
use yrs::types::xml::{XmlFragment, XmlTextPrelim};
use yrs::types::Attrs;
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

// ---- fuzzing ---------------------------------------------------------------------------
//
// Two generators, mutated real updates and random structured updates, shared by the
// exploratory fuzzers (ignored, long, chatty) and the seeded run every `cargo test` does.
// Both check the guard's promise with `guarded_run`.

/// A tiny xorshift generator, so fuzzing is reproducible without extra crates.
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

/// `FUZZ_ITERS` from the environment, or `default`.
fn fuzz_iterations(default: usize) -> usize {
    std::env::var("FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// `base` with one to three random bit flips, byte changes, insertions or removals.
fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for _ in 0..1 + rng.below(3) {
        let i = rng.below(bytes.len() as u64) as usize;
        match rng.below(4) {
            0 => bytes[i] ^= 1 << rng.below(8),
            1 => bytes[i] = rng.next() as u8,
            2 => bytes.insert(i, rng.next() as u8),
            _ => {
                if bytes.len() > 2 {
                    bytes.remove(i);
                }
            }
        }
    }
    bytes
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
/// state; returns whether yrs panicked anywhere. Exploration only: the panic messages go to
/// stderr.
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

/// Whether `update` holds a struct that starts past `doc`'s clock for its client, after a
/// gap. Yjs keeps such structs pending; yrs keeps them pending only if they depend on what
/// is missing, and otherwise integrates them out of order, covering the gap with a Skip.
fn opens_a_gap(doc: &Doc, update: &[u8]) -> bool {
    let Ok(update) = Update::decode_v1(update) else {
        return false;
    };
    let sv = doc.transact().state_vector();
    let insertions = update.insertions(true);
    let gap = insertions.iter().any(|(client, ranges)| {
        let mut clock = sv.get(client);
        ranges.iter().any(|r| {
            let gap = r.start > clock;
            clock = clock.max(r.end);
            gap
        })
    });
    gap
}

/// The guard's promise for one sequence of updates from peers, applied in order to a fresh
/// document (after the seed state, if given): no panic escapes `parse_message` or
/// `apply_update`, and when every update was accepted, the document still encodes, and its
/// encoding decodes and applies to a replica. A refused update ends the run: the room would
/// drop the (tainted) document.
///
/// When no update opened a gap in a client's clocks, the replica must also be the same
/// document: the same state vector and content. (Not necessarily the same deletions: yrs
/// deletes formatting marks made redundant when it integrates text, so a replica may have
/// deleted one the document still keeps.) After a gap it need not be: yrs integrates
/// structs past a gap out of order (see `gc_then_gap_then_fill_is_refused_at_the_gap`), and the
/// encoding of such a document does not rebuild it exactly.
///
/// Returns whether every update was accepted, or what broke the promise.
fn guarded_run(seed: Option<&[u8]>, updates: &[Vec<u8>]) -> Result<bool, String> {
    let doc = Doc::with_client_id(99);
    if let Some(s) = seed {
        apply_update(&doc, s, &limits()).map_err(|e| format!("seed refused: {e}"))?;
    }
    let mut gap = false;
    for u in updates {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            parse_message(&sync_update(u), &limits())
        }))
        .map_err(|_| "panic escaped parse_message".to_string())?;
        gap |= opens_a_gap(&doc, u);
        let r = catch_unwind(AssertUnwindSafe(|| apply_update(&doc, u, &limits())))
            .map_err(|_| "panic escaped apply_update".to_string())?;
        if r.is_err() {
            return Ok(false);
        }
    }
    // What a fresh client gets in sync step 2, and what a snapshot holds (in v2): the
    // integrated state, without pending structs.
    let state = catch_unwind(AssertUnwindSafe(|| {
        doc.transact().encode_diff_v1(&StateVector::default())
    }))
    .map_err(|_| "accepted updates left an unencodable doc".to_string())?;
    let decoded =
        Update::decode_v1(&state).map_err(|e| format!("the doc's state does not decode: {e}"))?;
    let replica = Doc::with_client_id(98);
    catch_unwind(AssertUnwindSafe(|| {
        replica.transact_mut().apply_update(decoded)
    }))
    .map_err(|_| "the doc's state panics a replica".to_string())?
    .map_err(|e| format!("the doc's state does not apply: {e}"))?;
    if gap {
        return Ok(true);
    }
    let (a, b) = (doc.transact(), replica.transact());
    if a.state_vector() != b.state_vector() {
        return Err("the replica has another state vector".into());
    }
    let content = |txn: &yrs::Transaction<'_>| {
        let mut roots: Vec<(String, String)> = txn
            .root_refs()
            .map(|(name, value)| (name.to_owned(), value.to_string(txn)))
            // A root exists once anything names it, even in a struct since deleted.
            .filter(|(_, value)| !value.is_empty())
            .collect();
        roots.sort();
        roots
    };
    if content(&a) != content(&b) {
        return Err(format!(
            "the replica has other content: {:?} vs {:?}",
            content(&a),
            content(&b)
        ));
    }
    Ok(true)
}

/// What a fuzz run saw.
#[derive(Debug, Default)]
struct FuzzStats {
    /// Cases (sequences of updates) tried.
    cases: usize,
    /// Cases whose every update passed the scan.
    scanned: usize,
    /// Cases the guard accepted completely (and so checked the round trip of).
    accepted: usize,
    /// Scanned cases that panicked yrs without the guard (counted only when exploring).
    raw_panics: usize,
    /// Cases that broke the guard's promise: why, whether seeded, the updates.
    missed: Vec<(String, bool, Vec<Vec<u8>>)>,
}

impl FuzzStats {
    fn run(&mut self, explore: bool, seed: Option<&[u8]>, updates: Vec<Vec<u8>>) {
        self.cases += 1;
        if let Ok(path) = std::env::var("FUZZ_TRACE") {
            // The case about to run, in case it takes the process down.
            std::fs::write(path, format!("seed={} {updates:?}", seed.is_some())).unwrap();
        }
        let scanned = updates.iter().all(|u| scan::update(u, &limits()).is_ok());
        if scanned {
            self.scanned += 1;
            // Raw yrs can segfault on out-of-order structs (which the guard refuses), and
            // that cannot be caught: compare with raw yrs only when asked, FUZZ_RAW=1.
            let raw = explore && std::env::var("FUZZ_RAW").is_ok();
            if raw && raw_yrs_panics(seed, &updates) {
                self.raw_panics += 1;
                if self.raw_panics <= 15 {
                    eprintln!("raw yrs panics: seed={} {updates:?}", seed.is_some());
                }
            }
        }
        match guarded_run(seed, &updates) {
            Ok(true) => self.accepted += 1,
            Ok(false) => {}
            Err(why) => {
                if explore {
                    eprintln!("MISSED ({why}): seed={} {updates:?}", seed.is_some());
                }
                self.missed.push((why, seed.is_some(), updates));
            }
        }
    }

    fn assert_held(&self) {
        for m in &self.missed {
            eprintln!("MISSED {m:?}");
        }
        assert!(
            self.missed.is_empty(),
            "{} cases broke the guard's promise, first: {:?}",
            self.missed.len(),
            self.missed.first()
        );
    }
}

/// Mutated real updates, each applied alone to an empty document and to one holding the
/// seed state.
fn fuzz_mutations(rng: &mut Rng, iterations: usize, explore: bool) -> FuzzStats {
    let samples = sample_updates();
    let full = samples.last().unwrap();
    let mut stats = FuzzStats::default();
    for _ in 0..iterations {
        let base = &samples[rng.below(samples.len() as u64) as usize];
        let bytes = mutate(rng, base);
        for seed in [None, Some(&full[..])] {
            stats.run(explore, seed, vec![bytes.clone()]);
        }
    }
    stats
}

/// Sequences of one to three random structured updates, on an empty document or one
/// holding the seed state. With `seed_last`, some sequences end with the seed state
/// instead: hostile structs first, then a real peer's content for the same clients.
fn fuzz_structured(rng: &mut Rng, iterations: usize, explore: bool, seed_last: bool) -> FuzzStats {
    let full = sample_updates().pop().unwrap();
    let mut stats = FuzzStats::default();
    for _ in 0..iterations {
        let n = 1 + rng.below(3) as usize;
        let mut updates: Vec<Vec<u8>> = (0..n).map(|_| random_update(rng)).collect();
        let seed = match rng.below(if seed_last { 3 } else { 2 }) {
            0 => None,
            1 => Some(&full[..]),
            _ => {
                updates.push(full.clone());
                None
            }
        };
        stats.run(explore, seed, updates);
    }
    stats
}

/// Both fuzzers with a fixed seed and a few thousand cases, so that every test run
/// exercises them (well under two seconds in a debug build).
///
/// The structured fuzzer also runs with the seed state last: the order that found the
/// SIGSEGV of [`gc_then_gap_then_fill_is_refused_at_the_gap`] before gaps were refused.
#[test]
fn fuzz_with_a_fixed_seed() {
    let mut rng = Rng(0x5EED_0007_2545_F491);
    let mutations = fuzz_mutations(&mut rng, 1500, false);
    mutations.assert_held();
    let structured = fuzz_structured(&mut rng, 3000, false, false);
    structured.assert_held();
    // With the seed state last too: the order that once reached a yrs segfault.
    fuzz_structured(&mut rng, 3000, false, true).assert_held();
    // Not vacuous: many cases got past the scan, and many were accepted whole.
    assert!(
        mutations.scanned >= 100 && mutations.accepted >= 50,
        "{mutations:?}"
    );
    assert!(
        structured.scanned >= 300 && structured.accepted >= 150,
        "{structured:?}"
    );
}

/// Exploratory mutation fuzzer: `FUZZ_ITERS` mutated real updates (default 200,000); fails
/// on any case that breaks the guard's promise, and prints the cases where yrs alone would
/// have panicked. Run with `--ignored --nocapture`.
#[test]
#[ignore]
fn explore_mutations() {
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(0x2545F4914F6CDD1D);
    let stats = fuzz_mutations(&mut rng, fuzz_iterations(200_000), true);
    eprintln!(
        "cases {}, scanned {}, accepted {}, raw yrs panics {}, missed by the guard {}",
        stats.cases,
        stats.scanned,
        stats.accepted,
        stats.raw_panics,
        stats.missed.len()
    );
    stats.assert_held();
}

/// Exploratory structured fuzzer: `FUZZ_ITERS` sequences (default 100,000), including the
/// seed state arriving last. `FUZZ_TRACE=file` writes each case there before running it,
/// for cases that kill the process. Run with `--ignored --nocapture`.
#[test]
#[ignore]
fn explore_structured() {
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let stats = fuzz_structured(&mut rng, fuzz_iterations(100_000), true, true);
    eprintln!(
        "cases {}, scanned {}, accepted {}, raw yrs panics {}, missed by the guard {}",
        stats.cases,
        stats.scanned,
        stats.accepted,
        stats.raw_panics,
        stats.missed.len()
    );
    stats.assert_held();
}

/// Deep XML in one update (`DEPTH` levels, default 7000): yrs applies and encodes it, the
/// guard refuses it. With `RENDER=1` it also renders the raw document, which overflows the
/// stack at a few thousand levels (why the guard bounds depth). Run with `--ignored`.
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
    let update = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());

    let raw = Doc::new();
    let f2 = raw.get_or_insert_xml_fragment("f");
    raw.transact_mut()
        .apply_update(Update::decode_v1(&update).unwrap())
        .unwrap();
    let again = raw
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    assert_eq!(
        Update::decode_v1(&again).unwrap().state_vector(),
        Update::decode_v1(&update).unwrap().state_vector(),
        "yrs alone applies and re-encodes {depth} levels"
    );

    let expected = if depth > limits().max_depth {
        Err(Rejection::Unsafe("xml nested too deep"))
    } else {
        Ok(())
    };
    assert_eq!(
        apply_update(&Doc::new(), &update, &limits()).map(|_| ()),
        expected
    );

    if std::env::var("RENDER").is_ok() {
        let s = f2.get_string(&raw.transact());
        eprintln!("rendered {} bytes", s.len());
    }
}

/// Replays one case from `FUZZ_CASE` (a JSON list of updates, on the seed state with
/// `FUZZ_SEED`): through the guard, which must hold, or with `FUZZ_MODE=raw` through yrs
/// alone, printing what happens. Run with `--ignored --nocapture`.
#[test]
#[ignore]
fn explore_case() {
    let case: Vec<Vec<u8>> = serde_json::from_str(&std::env::var("FUZZ_CASE").unwrap()).unwrap();
    let full = sample_updates().pop().unwrap();
    let seed = std::env::var("FUZZ_SEED").is_ok().then_some(&full[..]);
    if std::env::var("FUZZ_MODE").as_deref() != Ok("raw") {
        let result = guarded_run(seed, &case);
        eprintln!("guarded: {result:?}");
        assert!(result.is_ok(), "{result:?}");
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

// ---- helpers -------------------------------------------------------------------------

use super::attacks::{awareness_message, nested_any_update, string_update, sync_update};

use yrs::encoding::write::Write as _;
use yrs::updates::encoder::Encode as _;

fn assert_rejected(bytes: &[u8], expected: Rejection) {
    assert_eq!(parse_message(bytes, &limits()).unwrap_err(), expected);
}

// ---- hostile inputs ------------------------------------------------------------------

#[test]
fn huge_length_prefix_in_update_is_malformed() {
    // 1 client section claiming 2^32-1 structs in a 10-byte update.
    let mut u: Vec<u8> = Vec::new();
    u.write_var(1u32);
    u.write_var(u32::MAX);
    u.write_var(1u64);
    u.write_var(0u32);
    assert_rejected(
        &sync_update(&u),
        Rejection::Malformed("count exceeds message"),
    );
    // A string whose length prefix runs past the end.
    let mut s = string_update(1, 0, "abc");
    let at = s.len() - 5; // the content string's length byte
    s[at] = 0x7f;
    assert_eq!(
        apply_update(&Doc::new(), &s, &limits()).unwrap_err(),
        Rejection::Malformed("truncated")
    );
}

#[test]
fn huge_client_count_in_state_vector_is_malformed() {
    let mut sv: Vec<u8> = Vec::new();
    sv.write_var(u32::MAX);
    let msg = Message::Sync(SyncMessage::SyncStep2(vec![])).encode_v1();
    let mut step1: Vec<u8> = vec![0, 0];
    step1.write_buf(&sv);
    assert_rejected(&step1, Rejection::Malformed("count exceeds message"));
    assert_rejected(&msg, Rejection::Malformed("empty update"));
}

#[test]
fn awareness_huge_count_prefix_is_malformed() {
    let mut payload: Vec<u8> = Vec::new();
    payload.write_var(u32::MAX);
    let mut msg: Vec<u8> = vec![1];
    msg.write_buf(&payload);
    assert_rejected(&msg, Rejection::Malformed("count exceeds message"));
}

#[test]
fn seven_thousand_levels_of_any_nesting_are_unsafe() {
    let u = nested_any_update(7000);
    assert_rejected(&sync_update(&u), Rejection::Unsafe("nesting too deep"));
    // Just inside the limit is fine.
    let ok = nested_any_update(limits().max_depth);
    assert!(apply_update(&Doc::new(), &ok, &limits()).unwrap().is_some());
}

#[test]
fn deep_json_in_format_and_awareness_is_unsafe() {
    let deep = "[".repeat(7000) + &"]".repeat(7000);
    let msg = awareness_message(&[(1, 1, &deep)]);
    let limits = Limits {
        max_awareness_state_bytes: 1 << 20,
        ..Limits::default()
    };
    assert_eq!(
        parse_message(&msg, &limits).unwrap_err(),
        Rejection::Unsafe("nesting too deep")
    );
}

#[test]
fn deeply_nested_xml_elements_are_refused() {
    // One update per level, as an attacker would send them; each is tiny and valid.
    let limits = limits();
    let attacker = Doc::with_client_id(11);
    let frag = attacker.get_or_insert_xml_fragment("prosemirror");
    let server = Doc::new();
    let mut sv = StateVector::default();
    let mut el = frag.insert(
        &mut attacker.transact_mut(),
        0,
        XmlElementPrelim::empty("div"),
    );
    let mut refused = None;
    for level in 0..limits.max_depth + 5 {
        let update = attacker.transact().encode_state_as_update_v1(&sv);
        sv = attacker.transact().state_vector();
        if let Err(e) = apply_update(&server, &update, &limits) {
            refused = Some((level, e));
            break;
        }
        el = el.insert(
            &mut attacker.transact_mut(),
            0,
            XmlElementPrelim::empty("div"),
        );
    }
    let (level, err) = refused.expect("deep nesting must be refused");
    assert_eq!(err, Rejection::Unsafe("xml nested too deep"));
    assert!(
        (limits.max_depth..=limits.max_depth + 1).contains(&level),
        "{level}"
    );
}

#[test]
fn client_id_beyond_2_pow_53_is_unsafe() {
    let u = string_update(1 << 53, 0, "a");
    assert_rejected(&sync_update(&u), Rejection::Unsafe("client id beyond 2^53"));
    let mut sv: Vec<u8> = Vec::new();
    sv.write_var(1u32);
    sv.write_var(u64::MAX >> 1);
    sv.write_var(0u32);
    let mut step1: Vec<u8> = vec![0, 0];
    step1.write_buf(&sv);
    assert_rejected(&step1, Rejection::Unsafe("client id beyond 2^53"));
    let aw = awareness_message(&[(1 << 60, 1, "{}")]);
    assert_rejected(&aw, Rejection::Unsafe("client id beyond 2^53"));
}

#[test]
fn clock_overflow_is_unsafe() {
    // Clock beyond u32: yrs would silently truncate it.
    let u = string_update(1, 1 << 40, "a");
    assert_rejected(&sync_update(&u), Rejection::Unsafe("clock beyond u32"));
    // Clock + length beyond 2^31: yrs computes offsets in i32.
    let u = string_update(1, i32::MAX as u64 - 1, "abc");
    assert_rejected(&sync_update(&u), Rejection::Unsafe("clock beyond 2^31"));
    // Awareness clocks are u32.
    let aw = awareness_message(&[(1, 1 << 33, "{}")]);
    assert_rejected(&aw, Rejection::Unsafe("clock beyond u32"));
}

#[test]
fn awareness_limits() {
    let cap = limits().max_awareness_clients as u64;
    let many: Vec<(u64, u64, &str)> = (0..=cap).map(|c| (c, 1, "{}")).collect();
    assert_rejected(&awareness_message(&many), Rejection::TooBig);
    let most: Vec<(u64, u64, &str)> = (0..cap).map(|c| (c, 1, "{}")).collect();
    assert!(parse_message(&awareness_message(&most), &limits()).is_ok());
    assert_rejected(
        &awareness_message(&[(1, 1, "{not json")]),
        Rejection::Malformed("awareness state is not json"),
    );
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(9000));
    assert_rejected(&awareness_message(&[(1, 1, &big)]), Rejection::TooBig);
}

#[test]
fn pending_state_flood_is_refused() {
    // Updates whose first struct is far ahead of what the doc has: yrs keeps them pending.
    let doc = Doc::new();
    let limits = limits();
    let chunk = "x".repeat(1000);
    let mut refused = None;
    for i in 0..200u64 {
        let mut u: Vec<u8> = Vec::new();
        u.write_var(1u32);
        u.write_var(1u32);
        u.write_var(3u64);
        u.write_var(10 + i * 2000);
        u.write_u8(0x80 | 4); // origin (3, 0), which the doc never gets
        u.write_var(3u64);
        u.write_var(0u32);
        u.write_string(&chunk);
        u.write_var(0u32);
        if let Err(e) = apply_update(&doc, &u, &limits) {
            refused = Some(e);
            break;
        }
    }
    // Each of these skips ahead of client 3's clock: refused at once, before yrs would
    // hold it pending (the pending cap stops floods of structs under missing parents).
    assert_eq!(
        refused,
        Some(Rejection::Unsafe("update skips ahead of the document"))
    );
}

#[test]
fn a_flood_of_structs_under_missing_parents_is_refused() {
    let limits = limits();
    let doc = Doc::new();
    let chunk = "x".repeat(1000);
    let mut refused = None;
    for i in 0..200u64 {
        // A new client each time, at its clock 0, under a parent that never arrives.
        let u = crate::guard::attacks::parent_id_update(1000 + i, 0, 77, 5, &chunk);
        if let Err(e) = apply_update(&doc, &u, &limits) {
            refused = Some(e);
            break;
        }
    }
    assert_eq!(refused, Some(Rejection::Unsafe("too much pending state")));
}

#[test]
fn a_gap_is_refused_and_the_updates_in_order_apply() {
    let limits = limits();
    let doc = Doc::new();
    let a = string_update(4, 0, "ab");
    let mut b: Vec<u8> = Vec::new();
    b.write_var(1u32);
    b.write_var(1u32);
    b.write_var(4u64);
    b.write_var(2u32);
    b.write_u8(0x80 | 4);
    b.write_var(4u64);
    b.write_var(1u32);
    b.write_string("cd");
    b.write_var(0u32);
    assert_eq!(
        apply_update(&doc, &b, &limits),
        Err(Rejection::Unsafe("update skips ahead of the document")),
        "out of order"
    );
    let first = apply_update(&doc, &a, &limits).unwrap().expect("a change");
    let second = apply_update(&doc, &b, &limits).unwrap().expect("a change");
    let text = doc.get_or_insert_text("text");
    assert_eq!(text.get_string(&doc.transact()), "abcd");
    // The deltas, in order, give every replica (and the log) the whole text.
    let replica = Doc::new();
    apply_update(&replica, &first, &limits).unwrap();
    apply_update(&replica, &second, &limits).unwrap();
    assert_eq!(
        replica
            .get_or_insert_text("text")
            .get_string(&replica.transact()),
        "abcd"
    );
}

#[test]
fn too_big_message_is_rejected_with_1009() {
    let limits = Limits {
        max_message_bytes: 64,
        ..Limits::default()
    };
    let u = string_update(1, 0, &"y".repeat(100));
    let err = parse_message(&sync_update(&u), &limits).unwrap_err();
    assert_eq!(err, Rejection::TooBig);
    assert_eq!(err.close_code(), 1009);
    assert_eq!(
        apply_update(&Doc::new(), &u, &limits),
        Err(Rejection::TooBig)
    );
}

#[test]
fn text_frame_like_garbage_is_malformed() {
    for text in [
        &b"hello world"[..],
        b"{\"type\":\"sync\"}",
        b"\xff\xff\xff\xff\xff\xff",
    ] {
        let err = parse_message(text, &limits()).unwrap_err();
        assert!(matches!(err, Rejection::Malformed(_)), "{text:?}: {err:?}");
        assert_eq!(err.close_code(), 1007);
    }
}

#[test]
fn truncated_and_trailing_messages_are_malformed() {
    let full = sync_update(&sample_updates()[2]);
    for cut in 1..full.len() {
        let err = parse_message(&full[..cut], &limits()).unwrap_err();
        assert!(matches!(err, Rejection::Malformed(_)), "cut {cut}: {err:?}");
    }
    let mut trailing = full.clone();
    trailing.push(0);
    assert_rejected(&trailing, Rejection::Malformed("trailing bytes"));
    assert_rejected(&[], Rejection::Malformed("truncated"));
}

#[test]
fn unsupported_content_is_unsafe() {
    // Subdocument content (ref 9) and legacy JSON content (ref 2).
    for (content, reason) in [(9u8, "subdocument content"), (2, "legacy json content")] {
        let mut u: Vec<u8> = Vec::new();
        u.write_var(1u32);
        u.write_var(1u32);
        u.write_var(1u64);
        u.write_var(0u32);
        u.write_u8(content);
        u.write_var(1u32);
        u.write_string("m");
        u.write_var(0u32);
        u.write_var(0u32);
        assert_rejected(&sync_update(&u), Rejection::Unsafe(reason));
    }
}

// ---- one test per scan rule, each with its well-formed twin ---------------------------
//
// Each rule of the scan (and the guarded apply) gets the smallest input that only that
// rule stops, and the same input made well-formed, which the guard must let through. The
// offending bytes are written by hand: yrs' encoders cannot produce them.

/// Info byte of a struct with string content and no origins.
const STRING: u8 = 4;
/// Info byte of a struct with embed, format, type and `Any` content (no origins).
const EMBED: u8 = 5;
const FORMAT: u8 = 6;
const TYPE: u8 = 7;
const ANY: u8 = 8;

/// A struct without origins whose parent is the root type `root`; `content` writes what
/// follows the parent.
fn in_root(info: u8, root: &str, content: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut w: Vec<u8> = Vec::new();
    w.write_u8(info);
    w.write_var(1u32); // the parent is a named root type
    w.write_string(root);
    content(&mut w);
    w
}

/// A client section: `client` (its varint bytes as given, possibly hostile) from `clock`.
fn section_raw(client: &[u8], clock: u32, structs: &[Vec<u8>]) -> Vec<u8> {
    let mut w: Vec<u8> = Vec::new();
    w.write_var(structs.len());
    w.write_all(client);
    w.write_var(clock);
    for s in structs {
        w.write_all(s);
    }
    w
}

fn section(client: u64, clock: u32, structs: &[Vec<u8>]) -> Vec<u8> {
    let mut id: Vec<u8> = Vec::new();
    id.write_var(client);
    section_raw(&id, clock, structs)
}

/// An update of the given client sections and an empty delete set.
fn update_of(sections: &[Vec<u8>]) -> Vec<u8> {
    let mut w: Vec<u8> = Vec::new();
    w.write_var(sections.len());
    for s in sections {
        w.write_all(s);
    }
    w.write_var(0u32);
    w
}

/// `text` inserted at the start of root "text" by `client` at `clock`.
fn text_struct(text: &str) -> Vec<u8> {
    in_root(STRING, "text", |w| w.write_string(text))
}

/// JSON nested `depth` levels deep: `[[…[1]…]]`.
fn nested_json(depth: usize) -> String {
    "[".repeat(depth) + "1" + &"]".repeat(depth)
}

/// Refused with exactly `expected`, both as a peer's message and when applied.
fn assert_refused_update(update: &[u8], expected: Rejection) {
    assert_eq!(
        parse_message(&sync_update(update), &limits()).map(|_| ()),
        Err(expected.clone()),
        "parse_message of {update:?}"
    );
    assert_eq!(
        apply_update(&Doc::new(), update, &limits()).map(|_| ()),
        Err(expected),
        "apply_update of {update:?}"
    );
}

/// Accepted as a peer's message and applied to `doc`; returns what the doc gained.
fn assert_accepted_on(doc: &Doc, update: &[u8]) -> Option<Vec<u8>> {
    match parse_message(&sync_update(update), &limits()) {
        Ok(Inbound::Update(u)) => assert_eq!(u, update),
        other => panic!("{update:?} not accepted: {other:?}"),
    }
    apply_update(doc, update, &limits()).unwrap_or_else(|e| panic!("{update:?}: {e}"))
}

/// The text of root "text".
fn text_of(doc: &Doc) -> String {
    let text = doc.get_or_insert_text("text");
    let txn = doc.transact();
    text.get_string(&txn)
}

#[test]
fn rule_json_depth_in_embeds() {
    let depth = limits().max_depth;
    let embed = |depth| {
        update_of(&[section(
            1,
            0,
            &[in_root(EMBED, "text", |w| {
                w.write_string(&nested_json(depth))
            })],
        )])
    };
    assert_refused_update(&embed(depth + 1), Rejection::Unsafe("nesting too deep"));
    // Below serde_json's own limit (128), so only the scan can stop it.
    assert_refused_update(&embed(100), Rejection::Unsafe("nesting too deep"));

    let doc = Doc::new();
    assert!(assert_accepted_on(&doc, &embed(depth)).is_some());
    let text = doc.get_or_insert_text("text");
    assert_eq!(text.len(&doc.transact()), 1, "one embed");
}

#[test]
fn rule_json_depth_in_format_attributes() {
    let depth = limits().max_depth;
    let format = |depth| {
        update_of(&[section(
            1,
            0,
            &[in_root(FORMAT, "text", |w| {
                w.write_string("bold");
                w.write_string(&nested_json(depth));
            })],
        )])
    };
    assert_refused_update(&format(depth + 1), Rejection::Unsafe("nesting too deep"));
    assert_refused_update(&format(100), Rejection::Unsafe("nesting too deep"));

    let doc = Doc::new();
    assert!(assert_accepted_on(&doc, &format(depth)).is_some());
}

#[test]
fn rule_bit_4_of_the_info_byte() {
    // String content with bit 4 set: yrs masks it away and reads a string, Yjs reads
    // content ref 20. Nothing Yjs writes has it.
    let flagged = update_of(&[section(
        1,
        0,
        &[in_root(STRING | 0x10, "text", |w| w.write_string("a"))],
    )]);
    assert_refused_update(&flagged, Rejection::Malformed("unknown content ref"));

    let doc = Doc::new();
    let plain = update_of(&[section(1, 0, &[text_struct("a")])]);
    assert!(assert_accepted_on(&doc, &plain).is_some());
    assert_eq!(text_of(&doc), "a");
}

#[test]
fn rule_duplicate_client_sections() {
    // Two sections of client 1: yrs would merge them, Yjs would overwrite the first.
    let twice = update_of(&[
        section(1, 0, &[text_struct("a")]),
        section(1, 1, &[text_struct("b")]),
    ]);
    assert_refused_update(&twice, Rejection::Malformed("duplicate client section"));
    // Past the first eight sections duplicates are found by sorting.
    let mut sections: Vec<Vec<u8>> = (1..=9)
        .map(|c| section(c, 0, &[text_struct("x")]))
        .collect();
    sections.push(section(9, 1, &[text_struct("y")]));
    assert_refused_update(
        &update_of(&sections),
        Rejection::Malformed("duplicate client section"),
    );
    let mut sections: Vec<Vec<u8>> = (1..=9)
        .map(|c| section(c, 0, &[text_struct("x")]))
        .collect();
    sections.push(section(3, 1, &[text_struct("y")]));
    assert_refused_update(
        &update_of(&sections),
        Rejection::Malformed("duplicate client section"),
    );

    let doc = Doc::new();
    let two = update_of(&[
        section(1, 0, &[text_struct("a")]),
        section(2, 0, &[text_struct("b")]),
    ]);
    assert!(assert_accepted_on(&doc, &two).is_some());
    assert_eq!(text_of(&doc).len(), 2);
    let doc = Doc::new();
    let ten: Vec<Vec<u8>> = (1..=10)
        .map(|c| section(c, 0, &[text_struct("x")]))
        .collect();
    assert!(assert_accepted_on(&doc, &update_of(&ten)).is_some());
    assert_eq!(text_of(&doc), "x".repeat(10));
}

#[test]
fn rule_parent_info() {
    // Client 5 makes a text type inside root array "arr": item (5, 0).
    let nested_text = update_of(&[section(5, 0, &[in_root(TYPE, "arr", |w| w.write_u8(2))])]);
    // A string inside it, with the parent written as an id: parent info `info`, then (5, 0).
    let child = |info: u32| {
        let mut s: Vec<u8> = Vec::new();
        s.write_u8(STRING);
        s.write_var(info);
        s.write_var(5u64);
        s.write_var(0u32);
        s.write_string("inside");
        update_of(&[section(1, 0, &[s])])
    };
    // yrs reads every value but 1 as "an id follows"; Yjs writes only 0 and 1.
    assert_refused_update(&child(2), Rejection::Malformed("bad parent info"));
    assert_refused_update(&child(7), Rejection::Malformed("bad parent info"));

    let doc = Doc::new();
    assert!(assert_accepted_on(&doc, &nested_text).is_some());
    assert!(assert_accepted_on(&doc, &child(0)).is_some());
    let arr = doc.get_or_insert_array("arr");
    let txn = doc.transact();
    let inner = arr.get(&txn, 0).expect("the nested text");
    assert_eq!(inner.to_string(&txn), "inside");
}

#[test]
fn rule_empty_gc_and_skip_structs() {
    let gc = |len: u32| {
        let mut s: Vec<u8> = vec![0]; // GC
        s.write_var(len);
        update_of(&[section(1, 0, &[s])])
    };
    let skip = |len: u32| {
        let mut s: Vec<u8> = vec![10]; // Skip
        s.write_var(len);
        update_of(&[section(1, 0, &[s])])
    };
    assert_refused_update(&gc(0), Rejection::Malformed("empty struct"));
    assert_refused_update(&skip(0), Rejection::Malformed("empty struct"));

    let doc = Doc::new();
    assert!(assert_accepted_on(&doc, &gc(2)).is_some());
    assert_eq!(doc.transact().state_vector().get(&ClientID::new(1)), 2);
    assert_eq!(
        assert_accepted_on(&Doc::new(), &skip(2)),
        None,
        "a skip adds nothing"
    );
}

#[test]
fn rule_empty_delete_ranges() {
    let delete = |clock: u32, len: u32| {
        let mut w: Vec<u8> = Vec::new();
        w.write_var(0u32); // no structs
        w.write_var(1u32); // one client in the delete set
        w.write_var(1u64);
        w.write_var(1u32); // one range
        w.write_var(clock);
        w.write_var(len);
        w
    };
    assert_refused_update(&delete(0, 0), Rejection::Malformed("empty delete range"));
    assert_refused_update(&delete(1, 0), Rejection::Malformed("empty delete range"));

    let doc = Doc::new();
    assert_accepted_on(&doc, &update_of(&[section(1, 0, &[text_struct("ab")])]));
    assert!(assert_accepted_on(&doc, &delete(0, 1)).is_some());
    assert_eq!(text_of(&doc), "b");
}

#[test]
fn rule_unsupported_type_refs() {
    let typed = |type_ref: u8| {
        update_of(&[section(
            1,
            0,
            &[in_root(TYPE, "arr", |w| {
                w.write_u8(type_ref);
                if type_ref == 3 {
                    w.write_string("p"); // an XML element's name
                }
            })],
        )])
    };
    // Weak links (7), subdocuments (9), "undefined" (15) and refs nobody defines.
    for type_ref in [7, 8, 9, 10, 14, 15, 16, 127, 255] {
        assert_refused_update(&typed(type_ref), Rejection::Unsafe("unsupported type ref"));
    }

    // Array, map, text, XML element, fragment, hook, XML text.
    for type_ref in 0..=6 {
        let doc = Doc::new();
        assert!(
            assert_accepted_on(&doc, &typed(type_ref)).is_some(),
            "{type_ref}"
        );
        let arr = doc.get_or_insert_array("arr");
        assert_eq!(arr.len(&doc.transact()), 1, "{type_ref}");
    }
}

#[test]
fn rule_signed_varint_length() {
    // One `Any` integer (tag 125) whose signed varint is `bytes` long: a positive number
    // with every value bit set (6 bits in the first byte, 7 in the others).
    let integer = |bytes: usize| {
        update_of(&[section(
            1,
            0,
            &[in_root(ANY, "arr", |w| {
                w.write_var(1u32);
                w.write_u8(125);
                // Written by hand: an overlong varint is the point.
                w.write_u8(0b1011_1111);
                for _ in 2..bytes {
                    w.write_u8(0xff);
                }
                w.write_u8(0x7f);
            })],
        )])
    };
    assert_refused_update(&integer(10), Rejection::Malformed("signed varint too long"));
    // yrs would shift the 11th byte by 69 bits: an overflow panic.
    assert_refused_update(&integer(11), Rejection::Malformed("signed varint too long"));

    // Nine bytes is 62 bits: the longest yrs reads without overflow.
    let doc = Doc::new();
    assert!(assert_accepted_on(&doc, &integer(9)).is_some());
    let arr = doc.get_or_insert_array("arr");
    let txn = doc.transact();
    assert_eq!(
        arr.get(&txn, 0).map(|v| v.to_string(&txn)),
        Some(((1i64 << 62) - 1).to_string())
    );
}

#[test]
fn rule_varint_overflow() {
    // Client id 1, written in ten bytes (as lib0 may, with continuation bits), whose last
    // byte carries `top` at bit 63: 0 and 1 fit a u64, 2 and more would be lost.
    let client = |top: u8| {
        let mut raw = vec![0x81];
        raw.extend([0x80; 8]);
        raw.push(top);
        update_of(&[section_raw(&raw, 0, &[text_struct("a")])])
    };
    assert_refused_update(&client(2), Rejection::Malformed("varint overflow"));
    assert_refused_update(&client(0x7f), Rejection::Malformed("varint overflow"));
    // An eleventh byte: more than 64 bits whatever it holds.
    let mut eleven = vec![0x81];
    eleven.extend([0x80; 9]);
    eleven.push(0);
    assert_refused_update(
        &update_of(&[section_raw(&eleven, 0, &[text_struct("a")])]),
        Rejection::Malformed("varint overflow"),
    );

    // Without overflow, the long form is read exactly: client 1.
    let doc = Doc::new();
    assert!(assert_accepted_on(&doc, &client(0)).is_some());
    assert_eq!(text_of(&doc), "a");
    assert_eq!(doc.transact().state_vector().get(&ClientID::new(1)), 1);
    // 2^63 + 1 fits, is read in full, and is then refused for what it is.
    assert_refused_update(&client(1), Rejection::Unsafe("client id beyond 2^53"));
}

// ---- regressions found by the structured fuzzer ----------------------------------------

/// Applies `updates` in order through the guard; returns the first rejection.
fn first_rejection(seed: bool, updates: &[&[u8]]) -> Option<Rejection> {
    let doc = Doc::with_client_id(99);
    if seed {
        apply_update(&doc, sample_updates().last().unwrap(), &limits()).unwrap();
    }
    for u in updates {
        if let Err(e) = apply_update(&doc, u, &limits()) {
            return Some(e);
        }
    }
    // Whatever was accepted must still encode.
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default());
    None
}

/// A struct whose origin lies inside itself, after an update left a pending gap: yrs
/// corrupted its block store and the process died with SIGSEGV (not catchable).
#[test]
fn regression_self_referencing_origin_segfault() {
    let updates: [&[u8]; 3] = [
        &[1, 2, 1, 2, 0, 2, 199, 7, 4, 1, 12, 5, 1, 7, 1, 10, 2],
        &[1, 1, 1, 1, 132, 1, 2, 4, 240, 159, 145, 139, 0],
        &[
            1, 3, 1, 3, 6, 0, 1, 12, 4, 98, 111, 108, 100, 4, 116, 114, 117, 101, 0, 2, 133, 2, 6,
            7, 123, 34, 120, 34, 58, 49, 125, 0,
        ],
    ];
    assert_eq!(
        first_rejection(false, &updates),
        Some(Rejection::Unsafe(
            "struct refers to itself or a later struct"
        ))
    );
}

/// Structs filling a hole that yrs had covered with a Skip: `BlockStore::push` panics
/// (`find_index(..).unwrap()`, or a u32 underflow without overflow checks). The guard
/// catches the panic and reports the doc as tainted.
#[test]
fn regression_skip_replacement_panics() {
    let cases: [&[&[u8]]; 2] = [
        &[
            &[2, 2, 1, 5, 0, 3, 135, 2, 4, 0, 1, 2, 1, 0, 1, 0],
            &[2, 2, 2, 0, 0, 1, 0, 3, 1, 1, 3, 0, 3, 0],
        ],
        &[
            &[
                1, 1, 2, 0, 4, 1, 11, 112, 114, 111, 115, 101, 109, 105, 114, 114, 111, 114, 1, 97,
                0,
            ],
            &[1, 2, 1, 2, 68, 2, 0, 1, 97, 10, 1, 0],
            &[
                2, 1, 1, 0, 0, 3, 2, 7, 5, 135, 1, 6, 1, 1, 1, 11, 112, 114, 111, 115, 101, 109,
                105, 114, 114, 111, 114, 1, 1, 1, 1, 13, 3,
            ],
        ],
    ];
    for updates in cases {
        assert!(
            matches!(
                first_rejection(true, updates),
                Some(Rejection::Unsafe(
                    "update broke the document" | "update skips ahead of the document"
                ))
            ),
            "{updates:?}"
        );
    }
}

/// KNOWN BUG, not yet fixed: three small updates that each pass the scan kill the process
/// with SIGSEGV (not a panic, so `catch_unwind` cannot help): a GC struct at client 7's
/// clock 0, an item at clock 4 (yrs integrates it out of order and covers clocks 1..4 with
/// a Skip in its block store), then ordinary typing from clock 0 that spans the Skip and
/// the item. Found by `explore_structured` (the seed state arriving last). Reproduced
/// over a socket and in release builds. Ignored because it takes the test binary down;
/// once fixed, it must pass without `#[ignore]`.
#[test]
fn gc_then_gap_then_fill_is_refused_at_the_gap() {
    let doc = Doc::with_client_id(99);
    let results: Vec<_> = super::attacks::GC_GAP_FILL
        .iter()
        .map(|update| apply_update(&doc, update, &limits()))
        .collect();
    assert!(results[0].is_ok(), "a GC struct at the start is fine");
    assert_eq!(
        results[1],
        Err(Rejection::Unsafe("update skips ahead of the document"))
    );
    // The fill then applies to a document without the out-of-order struct.
    assert!(results[2].is_ok(), "{:?}", results[2]);
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default());
}

#[test]
fn updates_with_gaps_are_refused_and_contiguous_ones_pass() {
    let doc = Doc::with_client_id(99);
    let text = |client: u64, clock: u64, s: &str| super::attacks::string_update(client, clock, s);
    assert!(apply_update(&doc, &text(5, 0, "ab"), &limits()).is_ok());
    assert!(
        apply_update(&doc, &text(5, 2, "c"), &limits()).is_ok(),
        "continues at the clock"
    );
    assert!(
        apply_update(&doc, &text(5, 1, "bc"), &limits()).is_ok(),
        "overlap is a duplicate"
    );
    assert_eq!(
        apply_update(&doc, &text(5, 9, "x"), &limits()),
        Err(Rejection::Unsafe("update skips ahead of the document"))
    );
    assert_eq!(
        apply_update(&doc, &text(6, 1, "x"), &limits()),
        Err(Rejection::Unsafe("update skips ahead of the document")),
        "a new client starts at clock 0"
    );
    // One section of client 7: "ab" at 0, a Skip over 2..5, "cd" at 5.
    let mut gapped: Vec<u8> = Vec::new();
    gapped.write_var(1u32);
    gapped.write_var(3u32);
    gapped.write_var(7u64);
    gapped.write_var(0u32);
    for (i, part) in ["ab", "", "cd"].into_iter().enumerate() {
        if i == 1 {
            gapped.write_u8(10); // Skip
            gapped.write_var(3u32);
            continue;
        }
        gapped.write_u8(4);
        gapped.write_var(1u32);
        gapped.write_string("text");
        gapped.write_string(part);
    }
    gapped.write_var(0u32);
    assert_eq!(
        apply_update(&doc, &gapped, &limits()),
        Err(Rejection::Unsafe("update has a gap"))
    );
}

// ---- normal traffic --------------------------------------------------------------------

#[test]
fn normal_messages_pass_and_apply() {
    let limits = limits();
    let server = Doc::new();
    for update in sample_updates() {
        for msg in [
            Message::Sync(SyncMessage::Update(update.clone())).encode_v1(),
            Message::Sync(SyncMessage::SyncStep2(update.clone())).encode_v1(),
        ] {
            match parse_message(&msg, &limits).unwrap() {
                Inbound::Update(u) | Inbound::SyncStep2(u) => {
                    apply_update(&server, &u, &limits).unwrap();
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let txn = server.transact();
    let text = txn.get_text("text").unwrap();
    assert_eq!(text.get_string(&txn), "ello wörld 👋");
    let frag = txn.get_xml_fragment("prosemirror").unwrap();
    assert_eq!(
        frag.get_string(&txn),
        "<paragraph align=\"left\"><italic>some</italic> text</paragraph><heading level=\"2\"></heading>"
    );
    let meta = txn.get_map("meta").unwrap();
    assert_eq!(
        meta.get(&txn, "title").unwrap().to_string(&txn),
        "Leitbild 2"
    );
    drop(txn);
    // Re-applying known updates is not a change.
    assert_eq!(
        apply_update(&server, &sample_updates()[0], &limits).unwrap(),
        None
    );

    let sv = server.transact().state_vector();
    let step1 = Message::Sync(SyncMessage::SyncStep1(sv.clone())).encode_v1();
    match parse_message(&step1, &limits).unwrap() {
        Inbound::SyncStep1(got) => assert_eq!(got, sv),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        parse_message(&[3], &limits).unwrap(),
        Inbound::AwarenessQuery
    ));
    assert!(matches!(
        parse_message(&[2, 1], &limits).unwrap(),
        Inbound::Ignored
    ));
}

#[test]
fn real_awareness_passes() {
    let json = r##"{"user":{"name":"Ada","color":"#30bced"},"cursor":{"anchor":3,"head":5}}"##;
    let msg = awareness_message(&[(42, 7, json), (43, 2, "null")]);
    match parse_message(&msg, &limits()).unwrap() {
        Inbound::Awareness(update) => {
            assert_eq!(update.clients.len(), 2);
            let e = &update.clients[&ClientID::new(42)];
            assert_eq!((e.clock, &*e.json), (7, json));
        }
        other => panic!("unexpected {other:?}"),
    }
}

// ---- property test ---------------------------------------------------------------------

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..Default::default()
    })]

    /// Mutated real updates and random structured updates: no panic may escape the guard,
    /// and whatever it accepts must leave an encodable document.
    #[test]
    fn no_panic_escapes(seed in proptest::prelude::any::<u64>(), flips in proptest::collection::vec((0usize..512, proptest::prelude::any::<u8>()), 0..4)) {
        let mut rng = Rng(seed | 1);
        let samples = sample_updates();
        let mut updates: Vec<Vec<u8>> = (0..1 + rng.below(3)).map(|_| random_update(&mut rng)).collect();
        let mut mutated = samples[(rng.below(samples.len() as u64)) as usize].clone();
        for (at, byte) in flips {
            let i = at % mutated.len();
            mutated[i] ^= byte;
        }
        updates.push(mutated);
        let seed_doc = rng.below(2) == 0;
        for u in &updates {
            let _ = parse_message(&sync_update(u), &limits());
        }
        let full = samples.last().unwrap();
        let result = guarded_run(seed_doc.then_some(&full[..]), &updates);
        proptest::prop_assert!(result.is_ok(), "{:?} {:?}", result, updates);
    }
}

#[test]
fn adds_to_tells_a_readers_echo_from_a_real_change() {
    let server = Doc::with_client_id(1);
    let text = server.get_or_insert_text("text");
    text.insert(&mut server.transact_mut(), 0, "Bildung für alle");
    text.remove_range(&mut server.transact_mut(), 0, 1);

    // A reader's copy, synced with the server.
    let reader = Doc::with_client_id(2);
    let full = server
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    reader
        .transact_mut()
        .apply_update(Update::decode_v1(&full).unwrap())
        .unwrap();
    let sync_step2 = |from: &Doc| {
        from.transact()
            .encode_state_as_update_v1(&server.transact().state_vector())
    };
    // Nothing new: the answer to sync step 1 carries the whole (known) delete set.
    let echo = sync_step2(&reader);
    assert!(!Update::decode_v1(&echo).unwrap().delete_set().is_empty());
    assert!(!adds_to(&server, &echo));
    assert!(
        !adds_to(&server, &full),
        "the server's own state adds nothing"
    );

    // An insertion adds.
    let rtext = reader.get_or_insert_text("text");
    let before = reader.transact().state_vector();
    rtext.insert(&mut reader.transact_mut(), 0, "x");
    let insert = reader.transact().encode_state_as_update_v1(&before);
    assert!(adds_to(&server, &insert));
    assert!(adds_to(&server, &sync_step2(&reader)));

    // A deletion of something the server has not deleted adds, too.
    let deleter = Doc::with_client_id(3);
    deleter
        .transact_mut()
        .apply_update(Update::decode_v1(&full).unwrap())
        .unwrap();
    let dtext = deleter.get_or_insert_text("text");
    let before = deleter.transact().state_vector();
    dtext.remove_range(&mut deleter.transact_mut(), 0, 3);
    let delete = deleter.transact().encode_state_as_update_v1(&before);
    assert!(Update::decode_v1(&delete)
        .unwrap()
        .insertions(true)
        .is_empty());
    assert!(adds_to(&server, &delete));

    // Something the server would have to hold back as pending adds.
    let future = Doc::with_client_id(4);
    let ftext = future.get_or_insert_text("text");
    ftext.insert(&mut future.transact_mut(), 0, "a");
    let first = future.transact().state_vector();
    ftext.insert(&mut future.transact_mut(), 1, "b");
    let gap = future.transact().encode_state_as_update_v1(&first);
    assert!(adds_to(&server, &gap));

    assert!(adds_to(&server, &[0xff, 0xff]), "undecodable counts as new");
}
