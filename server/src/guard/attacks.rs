//! Byte builders for hostile y-protocols messages, shared by the guard's unit tests and
//! the integration tests that replay the same attacks over a socket. Compiled only for
//! tests (and with the `attacks` feature, which the integration tests enable).
//!
//! Pure: builds bytes with yrs' own encoders; sending them is the tests' job. Varints are
//! written with `yrs::encoding::write::Write`, never by hand.

use yrs::encoding::write::Write;
use yrs::sync::{Message, SyncMessage};
use yrs::updates::encoder::Encode;

/// y-protocols message type of awareness updates.
const MSG_AWARENESS: u32 = 1;

/// A sync `Update` message carrying `update`.
pub fn sync_update(update: &[u8]) -> Vec<u8> {
    Message::Sync(SyncMessage::Update(update.to_vec())).encode_v1()
}

/// A `SyncStep1` message whose state vector is `sv` (raw bytes, possibly hostile).
pub fn sync_step1(sv: &[u8]) -> Vec<u8> {
    let mut msg: Vec<u8> = vec![0, 0];
    msg.write_buf(sv);
    msg
}

/// An awareness message with raw `(client, clock, json)` entries, unchecked.
pub fn awareness_message(entries: &[(u64, u64, &str)]) -> Vec<u8> {
    let mut payload: Vec<u8> = Vec::new();
    payload.write_var(entries.len());
    for &(client, clock, json) in entries {
        payload.write_var(client);
        payload.write_var(clock);
        payload.write_string(json);
    }
    let mut msg: Vec<u8> = Vec::new();
    msg.write_var(MSG_AWARENESS);
    msg.write_buf(&payload);
    msg
}

/// An awareness message whose entry count claims `u32::MAX` entries in a few bytes.
pub fn awareness_huge_count() -> Vec<u8> {
    let mut payload: Vec<u8> = Vec::new();
    payload.write_var(u32::MAX);
    let mut msg: Vec<u8> = Vec::new();
    msg.write_var(MSG_AWARENESS);
    msg.write_buf(&payload);
    msg
}

/// A one-struct update from `client` at `clock` inserting `content` into root "text".
pub fn string_update(client: u64, clock: u64, content: &str) -> Vec<u8> {
    let mut w: Vec<u8> = Vec::new();
    w.write_var(1u32); // one client section
    w.write_var(1u32); // one struct
    w.write_var(client);
    w.write_var(clock);
    w.write_u8(4); // string content, no origins
    w.write_var(1u32); // parent is a named root
    w.write_string("text");
    w.write_string(content);
    w.write_var(0u32); // empty delete set
    w
}

/// A one-struct update from `client` at `clock` whose parent is the item
/// `(parent_client, parent_clock)`, which the document does not have yet: yrs keeps it
/// pending, and when that id arrives as a plain character, the retry fails (it is no type).
pub fn parent_id_update(
    client: u64,
    clock: u64,
    parent_client: u64,
    parent_clock: u64,
    content: &str,
) -> Vec<u8> {
    let mut w: Vec<u8> = Vec::new();
    w.write_var(1u32);
    w.write_var(1u32);
    w.write_var(client);
    w.write_var(clock);
    w.write_u8(4); // string content, no origins
    w.write_var(0u32); // the parent is an item id
    w.write_var(parent_client);
    w.write_var(parent_clock);
    w.write_string(content);
    w.write_var(0u32);
    w
}

/// An update whose one client section claims `u32::MAX` structs in ten bytes.
pub fn huge_struct_count_update() -> Vec<u8> {
    let mut u: Vec<u8> = Vec::new();
    u.write_var(1u32);
    u.write_var(u32::MAX);
    u.write_var(1u64);
    u.write_var(0u32);
    u
}

/// A string update whose content length prefix runs far past the end of the update.
pub fn huge_string_length_update() -> Vec<u8> {
    let mut u = string_update(1, 0, "abc");
    let at = u.len() - 5; // the content string's length byte
    u[at] = 0x7f;
    u
}

/// A state vector with one client id far beyond 2^53.
pub fn state_vector_with_client(client: u64) -> Vec<u8> {
    let mut sv: Vec<u8> = Vec::new();
    sv.write_var(1u32);
    sv.write_var(client);
    sv.write_var(0u32);
    sv
}

/// An update holding one ContentAny value of `depth` nested arrays.
pub fn nested_any_update(depth: usize) -> Vec<u8> {
    let mut w: Vec<u8> = Vec::new();
    w.write_var(1u32);
    w.write_var(1u32);
    w.write_var(5u64);
    w.write_var(0u32);
    w.write_u8(8); // any content
    w.write_var(1u32);
    w.write_string("arr");
    w.write_var(1u32); // one value
    for _ in 0..depth {
        w.write_u8(117); // array of one
        w.write_var(1u32);
    }
    w.write_u8(126); // null
    w.write_var(0u32);
    w
}

/// The `i`th update of a pending flood: 1000 characters from client 3, far ahead of
/// anything the document has and with an origin (3, 0) that never arrives, so yrs can
/// only keep it pending.
pub fn pending_update(i: u64) -> Vec<u8> {
    let mut u: Vec<u8> = Vec::new();
    u.write_var(1u32);
    u.write_var(1u32);
    u.write_var(3u64);
    u.write_var(10 + i * 2000);
    u.write_u8(0x80 | 4); // string content with an origin
    u.write_var(3u64);
    u.write_var(0u32);
    u.write_string(&"x".repeat(1000));
    u.write_var(0u32);
    u
}

/// Found by the guard's structured fuzzer: a struct whose origin lies inside itself, after
/// an update left a pending gap. Raw yrs corrupted its block store and died with SIGSEGV.
pub const SELF_REFERENCING_ORIGIN: [&[u8]; 3] = [
    &[1, 2, 1, 2, 0, 2, 199, 7, 4, 1, 12, 5, 1, 7, 1, 10, 2],
    &[1, 1, 1, 1, 132, 1, 2, 4, 240, 159, 145, 139, 0],
    &[
        1, 3, 1, 3, 6, 0, 1, 12, 4, 98, 111, 108, 100, 4, 116, 114, 117, 101, 0, 2, 133, 2, 6, 7,
        123, 34, 120, 34, 58, 49, 125, 0,
    ],
];

/// Found by the guard's structured fuzzer: structs filling a hole yrs had covered with a
/// Skip make `BlockStore::push` panic. Both need [`fuzz_seed_doc`] applied first.
pub const SKIP_REPLACEMENT: [&[&[u8]]; 2] = [
    &[
        &[2, 2, 1, 5, 0, 3, 135, 2, 4, 0, 1, 2, 1, 0, 1, 0],
        &[2, 2, 2, 0, 0, 1, 0, 3, 1, 1, 3, 0, 3, 0],
    ],
    &[
        &[
            1, 1, 2, 0, 4, 1, 11, 112, 114, 111, 115, 101, 109, 105, 114, 114, 111, 114, 1, 97, 0,
        ],
        &[1, 2, 1, 2, 68, 2, 0, 1, 97, 10, 1, 0],
        &[
            2, 1, 1, 0, 0, 3, 2, 7, 5, 135, 1, 6, 1, 1, 1, 11, 112, 114, 111, 115, 101, 109, 105,
            114, 114, 111, 114, 1, 1, 1, 1, 13, 3,
        ],
    ],
];

/// Found by the guard's structured fuzzer, not yet stopped: a GC struct at client 7's
/// clock 0, an item at clock 4 (which yrs integrates out of order, covering clocks 1..4 with
/// a Skip), then client 7 typing "hello w" from clock 0 across the Skip and the item. Each
/// passes the scan; the third makes yrs corrupt memory and the process die with SIGSEGV.
pub const GC_GAP_FILL: [&[u8]; 3] = [
    &[1, 1, 7, 0, 0, 1, 0],
    &[1, 1, 7, 4, 4, 1, 4, 116, 101, 120, 116, 1, 121, 0],
    &[
        1, 2, 7, 0, 4, 1, 4, 116, 101, 120, 116, 1, 104, 132, 7, 0, 6, 101, 108, 108, 111, 32, 119,
        0,
    ],
];

/// The document state the guard's fuzzer seeds with (`sample_updates().last()` in the
/// guard's unit tests): the editor's kinds of edits by client 7, as one v1 update. The
/// [`SKIP_REPLACEMENT`] cases only break a document that holds exactly these structs.
pub fn fuzz_seed_doc() -> Vec<u8> {
    use yrs::types::xml::XmlTextPrelim;
    use yrs::types::Attrs;
    use yrs::{
        Any, Array, ArrayPrelim, Doc, Map, MapPrelim, ReadTxn, StateVector, Text, Transact, Xml,
        XmlElementPrelim, XmlFragment,
    };

    let doc = Doc::with_client_id(7);
    let text = doc.get_or_insert_text("text");
    text.insert(&mut doc.transact_mut(), 0, "hello wörld 👋");
    let bold: Attrs = [("bold".into(), Any::Bool(true))].into_iter().collect();
    text.format(&mut doc.transact_mut(), 2, 5, bold);
    text.remove_range(&mut doc.transact_mut(), 0, 1);
    let frag = doc.get_or_insert_xml_fragment("prosemirror");
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
    let map = doc.get_or_insert_map("meta");
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
    let arr = doc.get_or_insert_array("arr");
    arr.insert_range(
        &mut doc.transact_mut(),
        0,
        [Any::from("x"), Any::from(true)],
    );
    arr.remove(&mut doc.transact_mut(), 0);
    let txn = doc.transact();
    txn.encode_state_as_update_v1(&StateVector::default())
}
