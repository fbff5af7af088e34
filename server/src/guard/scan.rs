//! Iterative pre-scan of lib0 v1 bytes: proves a message safe for yrs's decoders before
//! they run. It owns the wire-level rules (lengths, counts, nesting, identity ranges,
//! the struct shapes Yjs produces); it never allocates in proportion to a declared count
//! and never recurses, so neither a length prefix nor nesting can hurt the server.
//!
//! The rules mirror yrs 0.28.1's `Update::decode`, `ItemContent::decode`, `Any::decode`,
//! `StateVector::decode` and `AwarenessUpdate::decode`. If the scan accepts bytes, those
//! decoders read exactly the same values (no truncation, no wrap-around).

use super::{Limits, Rejection};

/// Yjs client ids are JavaScript-safe integers; yrs keeps 53 bits and silently drops
/// (or, in debug builds, asserts on) the rest.
pub(super) const MAX_CLIENT: u64 = (1 << 53) - 1;
/// Highest clock (exclusive end of a struct or delete range) we let into yrs. yrs stores
/// clocks as u32 (Yjs allows 2^53) and computes clock offsets in i32 while integrating,
/// so anything from 2^31 on would wrap. No real document gets near 2^31 operations
/// from one client session.
pub(super) const MAX_CLOCK: u32 = i32::MAX as u32;

// Block info byte (see yrs `block.rs`).
const BLOCK_GC: u8 = 0;
const BLOCK_SKIP: u8 = 10;
const HAS_ORIGIN: u8 = 0b1000_0000;
const HAS_RIGHT_ORIGIN: u8 = 0b0100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;
/// Content refs occupy the low five bits in Yjs but yrs only looks at four, so with bit 4
/// set the two would disagree about what follows. No content ref needs it.
const CONTENT_MASK: u8 = 0b0000_1111;
const CONTENT_HIGH_BIT: u8 = 0b0001_0000;

// Content refs.
const CONTENT_DELETED: u8 = 1;
const CONTENT_JSON: u8 = 2;
const CONTENT_BINARY: u8 = 3;
const CONTENT_STRING: u8 = 4;
const CONTENT_EMBED: u8 = 5;
const CONTENT_FORMAT: u8 = 6;
const CONTENT_TYPE: u8 = 7;
const CONTENT_ANY: u8 = 8;
const CONTENT_DOC: u8 = 9;
const CONTENT_MOVE: u8 = 11;

// Type refs (yrs `types/mod.rs`).
const TYPE_ARRAY: u8 = 0;
const TYPE_MAP: u8 = 1;
const TYPE_TEXT: u8 = 2;
const TYPE_XML_ELEMENT: u8 = 3;
const TYPE_XML_FRAGMENT: u8 = 4;
const TYPE_XML_HOOK: u8 = 5;
const TYPE_XML_TEXT: u8 = 6;

/// Longest signed varint yrs decodes without an over-wide shift (a debug-build panic):
/// the 10th byte would be shifted by 69 bits. Yjs writes at most 8 bytes (53-bit ints).
const MAX_SIGNED_VARINT_BYTES: usize = 9;

/// What the scan learned about an update, for the checks that need the document.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct UpdateShape {
    /// Ids (client, clock) of items carrying a shared type: the only structs that can
    /// deepen type nesting. Empty (no allocation) for text and attribute edits.
    pub types: Vec<(u64, u32)>,
}

/// A bounds-checked cursor. Every read fails with `Malformed` instead of panicking.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(super) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(super) fn u8(&mut self) -> Result<u8, Rejection> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(Rejection::Malformed("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(super) fn skip(&mut self, n: usize) -> Result<&'a [u8], Rejection> {
        if n > self.remaining() {
            return Err(Rejection::Malformed("truncated"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// An unsigned varint that fits u64 exactly. yrs accepts up to 10 bytes and wraps
    /// overflowing bits; we refuse anything that would wrap.
    pub(super) fn var_u64(&mut self) -> Result<u64, Rejection> {
        let mut value: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.u8()?;
            let bits = (b & 0x7f) as u64;
            if shift == 63 && bits > 1 || shift > 63 {
                return Err(Rejection::Malformed("varint overflow"));
            }
            value |= bits << shift;
            if b < 0x80 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    /// A varint used as a length or tag: must fit u32 (yrs reads these as u32).
    pub(super) fn var_u32(&mut self) -> Result<u32, Rejection> {
        u32::try_from(self.var_u64()?).map_err(|_| Rejection::Malformed("length beyond u32"))
    }

    /// A count of entries that each take at least `min_bytes` bytes: plausible only if
    /// the bytes are actually there. This is what defuses allocation bombs, since yrs
    /// reserves capacity for the declared count before reading a single entry.
    pub(super) fn count(&mut self, min_bytes: usize) -> Result<usize, Rejection> {
        let n = self.var_u32()? as usize;
        if n.saturating_mul(min_bytes) > self.remaining() {
            return Err(Rejection::Malformed("count exceeds message"));
        }
        Ok(n)
    }

    pub(super) fn client(&mut self) -> Result<u64, Rejection> {
        let c = self.var_u64()?;
        if c > MAX_CLIENT {
            return Err(Rejection::Unsafe("client id beyond 2^53"));
        }
        Ok(c)
    }

    /// A clock: yrs keeps clocks in u32 and silently truncates bigger ones.
    pub(super) fn clock(&mut self) -> Result<u32, Rejection> {
        u32::try_from(self.var_u64()?).map_err(|_| Rejection::Unsafe("clock beyond u32"))
    }

    pub(super) fn buf(&mut self) -> Result<&'a [u8], Rejection> {
        let n = self.var_u32()? as usize;
        self.skip(n)
    }

    pub(super) fn string(&mut self) -> Result<&'a str, Rejection> {
        std::str::from_utf8(self.buf()?).map_err(|_| Rejection::Malformed("invalid utf-8"))
    }

    fn var_i64(&mut self) -> Result<(), Rejection> {
        for _ in 0..MAX_SIGNED_VARINT_BYTES {
            if self.u8()? < 0x80 {
                return Ok(());
            }
        }
        Err(Rejection::Malformed("signed varint too long"))
    }
}

/// Scans a v1 update (the whole slice). Returns its shape for the document-level checks.
pub(super) fn update(bytes: &[u8], limits: &Limits) -> Result<UpdateShape, Rejection> {
    let mut r = Reader::new(bytes);
    let mut shape = UpdateShape::default();
    // Each client section is at least 3 bytes (block count, client, clock).
    let clients = r.count(3)?;
    // Sorted afterwards to find duplicates in O(n log n) without a hash set; almost every
    // update has one client, so this stays on the fast path.
    let mut seen: Vec<u64> = Vec::new();
    for _ in 0..clients {
        // Each block is at least 2 bytes (info + one content byte).
        let blocks = r.count(2)?;
        let client = r.client()?;
        if seen.len() < 8 && seen.contains(&client) {
            return Err(Rejection::Malformed("duplicate client section"));
        }
        seen.push(client);
        let mut clock = r.clock()?;
        for _ in 0..blocks {
            let own = Own { client, clock };
            let len = block(&mut r, own, limits, &mut shape)?;
            clock = clock
                .checked_add(len)
                .filter(|&end| end <= MAX_CLOCK)
                .ok_or(Rejection::Unsafe("clock beyond 2^31"))?;
        }
    }
    if seen.len() > 8 {
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return Err(Rejection::Malformed("duplicate client section"));
        }
    }
    delete_set(&mut r)?;
    if !r.is_empty() {
        return Err(Rejection::Malformed("trailing bytes after update"));
    }
    Ok(shape)
}

/// The id of the struct being scanned.
#[derive(Clone, Copy)]
struct Own {
    client: u64,
    clock: u32,
}

impl Own {
    /// Reads an id the struct refers to (origin, right origin, parent). A struct can only
    /// refer to structs that existed when it was created, so a reference to its own
    /// client must point below its own clock. Yjs never breaks this; yrs, given such a
    /// self- or forward-reference, keeps it pending forever or, combined with other
    /// pending structs, corrupts its block store (a segfault, see the regression tests).
    fn reference(self, r: &mut Reader<'_>) -> Result<(), Rejection> {
        let client = r.client()?;
        let clock = r.clock()?;
        if client == self.client && clock >= self.clock {
            return Err(Rejection::Unsafe(
                "struct refers to itself or a later struct",
            ));
        }
        Ok(())
    }
}

/// Scans one struct and returns its clock length.
fn block(
    r: &mut Reader<'_>,
    own: Own,
    limits: &Limits,
    shape: &mut UpdateShape,
) -> Result<u32, Rejection> {
    let info = r.u8()?;
    match info {
        BLOCK_GC | BLOCK_SKIP => {
            let len = r.var_u32()?;
            if len == 0 {
                return Err(Rejection::Malformed("empty struct"));
            }
            return Ok(len);
        }
        _ => {}
    }
    if info & CONTENT_HIGH_BIT != 0 {
        return Err(Rejection::Malformed("unknown content ref"));
    }
    if info & HAS_ORIGIN != 0 {
        own.reference(r)?;
    }
    if info & HAS_RIGHT_ORIGIN != 0 {
        own.reference(r)?;
    }
    if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
        // Yjs writes 1 for a named root type and 0 for a nested parent; yrs treats every
        // value other than 1 as "nested", so anything else is a shape Yjs never produces.
        match r.var_u32()? {
            1 => {
                r.string()?;
            }
            0 => own.reference(r)?,
            _ => return Err(Rejection::Malformed("bad parent info")),
        }
        if info & HAS_PARENT_SUB != 0 {
            r.string()?;
        }
    }
    content(r, own, info & CONTENT_MASK, limits, shape)
}

fn content(
    r: &mut Reader<'_>,
    own: Own,
    content_ref: u8,
    limits: &Limits,
    shape: &mut UpdateShape,
) -> Result<u32, Rejection> {
    Ok(match content_ref {
        CONTENT_DELETED => r.var_u32()?,
        CONTENT_BINARY => {
            r.buf()?;
            1
        }
        CONTENT_STRING => {
            let s = r.string()?;
            // Clock length is counted in UTF-16 code units, as in Yjs.
            s.chars().map(|c| c.len_utf16() as u32).sum()
        }
        CONTENT_EMBED => {
            json_depth(r.string()?, limits.max_depth)?;
            1
        }
        CONTENT_FORMAT => {
            r.string()?;
            json_depth(r.string()?, limits.max_depth)?;
            1
        }
        CONTENT_TYPE => {
            match r.u8()? {
                TYPE_ARRAY | TYPE_MAP | TYPE_TEXT | TYPE_XML_FRAGMENT | TYPE_XML_HOOK
                | TYPE_XML_TEXT => {}
                TYPE_XML_ELEMENT => {
                    r.string()?;
                }
                // Weak links (7) are not compiled into yrs here, subdocument types (9) and
                // "undefined" (15) are never written by Yjs for document content.
                _ => return Err(Rejection::Unsafe("unsupported type ref")),
            }
            shape.types.push((own.client, own.clock));
            1
        }
        CONTENT_ANY => {
            let n = r.count(1)?;
            for _ in 0..n {
                any(r, limits.max_depth)?;
            }
            n as u32
        }
        // yrs 0.28 decodes legacy ContentJSON with an off-by-one (it reads one string more
        // than Yjs writes), so the two would disagree about the rest of the update. Yjs has
        // not written it since v13.
        CONTENT_JSON => return Err(Rejection::Unsafe("legacy json content")),
        // Subdocuments are not supported by the server: a Doc item makes yrs create a
        // nested `Doc` per struct, and its options are a second, unbounded Any value.
        CONTENT_DOC => return Err(Rejection::Unsafe("subdocument content")),
        // Move (Yjs experimental) is not implemented by yrs.
        CONTENT_MOVE => return Err(Rejection::Unsafe("move content")),
        _ => return Err(Rejection::Malformed("unknown content ref")),
    })
}

/// Scans one lib0 `Any` value without recursion: the stack of open containers is an
/// explicit vector, bounded by `max_depth`.
pub(super) fn any(r: &mut Reader<'_>, max_depth: usize) -> Result<(), Rejection> {
    // (values left in this container, whether it is a map whose entries start with a key)
    let mut open: Vec<(usize, bool)> = Vec::new();
    let mut top = (1usize, false);
    loop {
        while top.0 == 0 {
            match open.pop() {
                Some(outer) => top = outer,
                None => return Ok(()),
            }
        }
        top.0 -= 1;
        if top.1 {
            r.string()?;
        }
        let nested = match r.u8()? {
            127 | 126 | 121 | 120 => None,
            125 => {
                r.var_i64()?;
                None
            }
            124 => {
                r.skip(4)?;
                None
            }
            123 | 122 => {
                r.skip(8)?;
                None
            }
            119 => {
                r.string()?;
                None
            }
            116 => {
                r.buf()?;
                None
            }
            // An array entry is at least one byte, a map entry at least two (key, value).
            117 => Some((r.count(1)?, false)),
            118 => Some((r.count(2)?, true)),
            _ => return Err(Rejection::Malformed("unknown any tag")),
        };
        if let Some(inner) = nested {
            if open.len() >= max_depth {
                return Err(Rejection::Unsafe("nesting too deep"));
            }
            open.push(top);
            top = inner;
        }
    }
}

/// Nesting depth of a JSON text, counted iteratively. Validity is left to serde_json
/// (whose own recursion limit of 128 is above ours); this only bounds the depth.
pub(super) fn json_depth(s: &str, max_depth: usize) -> Result<(), Rejection> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in s.as_bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(Rejection::Unsafe("nesting too deep"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Scans a delete set: per client, ranges of (clock, len) that must stay inside u32.
fn delete_set(r: &mut Reader<'_>) -> Result<(), Rejection> {
    // Each client entry is at least 2 bytes (client, range count).
    let clients = r.count(2)?;
    for _ in 0..clients {
        r.client()?;
        let ranges = r.count(2)?;
        for _ in 0..ranges {
            let clock = r.clock()? as u64;
            let len = r.clock()? as u64;
            if len == 0 {
                return Err(Rejection::Malformed("empty delete range"));
            }
            if clock + len > MAX_CLOCK as u64 {
                return Err(Rejection::Unsafe("clock beyond 2^31"));
            }
        }
    }
    Ok(())
}

/// Scans a v1 state vector (SyncStep1 payload).
pub(super) fn state_vector(bytes: &[u8]) -> Result<(), Rejection> {
    let mut r = Reader::new(bytes);
    let n = r.count(2)?;
    for _ in 0..n {
        r.client()?;
        r.clock()?;
    }
    if !r.is_empty() {
        return Err(Rejection::Malformed("trailing bytes after state vector"));
    }
    Ok(())
}

/// Scans an awareness update: (client, clock, JSON state) entries.
pub(super) fn awareness(bytes: &[u8], limits: &Limits) -> Result<(), Rejection> {
    let mut r = Reader::new(bytes);
    // client, clock and a length-prefixed string: at least 3 bytes per entry.
    let n = r.count(3)?;
    if n > limits.max_awareness_clients {
        return Err(Rejection::TooBig);
    }
    for _ in 0..n {
        r.client()?;
        // The awareness clock is a u32 in yrs (and y-protocols); a bigger one would wrap.
        r.clock()?;
        let state = r.string()?;
        if state.len() > limits.max_awareness_state_bytes {
            return Err(Rejection::TooBig);
        }
        json_depth(state, limits.max_depth)?;
        serde_json::from_str::<serde::de::IgnoredAny>(state)
            .map_err(|_| Rejection::Malformed("awareness state is not json"))?;
    }
    if !r.is_empty() {
        return Err(Rejection::Malformed(
            "trailing bytes after awareness update",
        ));
    }
    Ok(())
}
