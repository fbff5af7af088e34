//! Block-by-block diff of two rich-text documents, with authorship.
//!
//! This module owns the comparison and nothing else: it takes two lists of [`Block`]s
//! (a kind plus runs of marked, attributed text) and returns a [`Diff`]: which blocks
//! stayed, appeared, disappeared, changed or moved, a word diff inside every changed
//! block, and who added and removed how many words. It must not do I/O, read yrs, keep
//! state or look at the clock (one exception: [`unified`]'s time cap): the caller finds
//! the blocks and authors in the CRDT and renders the result. A long diff shares its
//! work between two threads; the result is the same.
//!
//! # How blocks are aligned
//! 1. Identical blocks (same kind, text and marks; authors do not count) are matched in
//!    order by a patience diff over block identities. They are the anchors.
//! 2. Between two consecutive anchors (a gap), the other blocks are aligned in order by a
//!    small dynamic programme that maximises the words the pairs share. A FROM and a TO
//!    block pair up as a `change` when twice their shared words make at least half of
//!    all their words (a kind change with the same text is a change too). The programme
//!    also recognises splits and merges (below). A large gap is aligned within a band
//!    around its diagonal, so the work stays linear in the number of blocks.
//! 3. A block still unpaired that is identical, or nearly identical (shared words at
//!    least three quarters), to an unpaired block elsewhere is a `move`: the entry
//!    carries both indices and, if the text changed, the word diff. Identical blocks are
//!    found by hash; near-identical candidates through an index of the rarer words.
//! 4. Everything else is an `insert` or a `delete`.
//!
//! # Splits and merges
//! A paragraph split in two is one FROM block against two consecutive TO blocks. It is
//! diffed as the FROM block against the two TO blocks' concatenation, and the result is
//! cut where the TO blocks meet: two `change` entries with the same `from`, each holding
//! the segments of its own TO block (FROM text deleted at the cut goes with the first).
//! A merge is the mirror image: two `change` entries with the same `to`, each holding the
//! part of the word diff that belongs to its FROM block; their segments, concatenated,
//! are the merged block. So splitting or merging adds and removes no words by itself.
//! A pair of blocks counts as a split (merge) of one block when, taken together, it
//! resembles that block more than either of the two does alone.
//!
//! # Output order
//! Entries follow TO order. A deleted block comes right after the entry of the in-place
//! block (equal or changed) that preceded it in FROM, before the blocks inserted in the
//! same gap. A moved block appears once, at its TO position.
//!
//! # Words and authors
//! Text is cut into tokens at Unicode word boundaries (UAX #29, so `Schule–Beruf` is
//! three tokens and whitespace and punctuation are tokens of their own), and further
//! where marks change. Tokens compare by text and marks; where only the marks differ the
//! text is `equal` with `marks_from` set. A word is a token with a letter or digit in it.
//! A segment's `authors` are the authors of the characters it covers (deleted text: the
//! FROM runs' authors, who deleted it; inserted text: the TO runs', who inserted it;
//! equal text only when its formatting changed). In the summary, a word counts for the
//! first author found among its characters.
//!
//! # Bounds
//! No input makes this panic, and the work is bounded. Sequence diffs (Myers, patience)
//! are quadratic in the worst case, so each runs on at most a fixed number of items once
//! the common prefix and suffix are set aside. A longer block is first diffed sentence by
//! sentence (line by line for code) and only the changed sentences word by word; what is
//! still too large is shown as deleted and reinserted: correct, just not minimal.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::ops::{Range, RangeInclusive};
use std::sync::OnceLock;
use std::time::Duration;

use serde::Serialize;
use similar::{capture_diff_slices, Algorithm, DiffOp, TextDiff};
use unicode_segmentation::UnicodeSegmentation;

/// Two blocks pair up as a `change` when 2 · shared words / all words reaches this.
const CHANGE_SIMILARITY: Ratio = Ratio(1, 2);
/// Blocks far apart pair up as a `move` only when nearly identical: a loose threshold
/// would pair unrelated paragraphs that share filler words.
const MOVE_SIMILARITY: Ratio = Ratio(3, 4);
/// The same for the only block gone and the only block new between two matched ones.
const IN_PLACE_SIMILARITY: Ratio = Ratio(1, 4);
/// Most items (old plus new, after the common prefix and suffix) handed to one token
/// diff, whose worst case is quadratic. Real paragraphs stay far below.
const MAX_TOKEN_DIFF: usize = 4_000;
/// The same for the block diff: ample for documents of thousands of blocks.
const MAX_BLOCK_DIFF: usize = 20_000;
/// Gaps with at most this many grid cells are aligned exhaustively, larger ones in a band.
const FULL_GRID_CELLS: usize = 4_096;
/// Half-width of that band, in blocks, around the gap's diagonal.
const BAND: usize = 10;
/// A word found in more unpaired FROM blocks than this is too common to suggest a move.
const MAX_POSTINGS: usize = 16;
/// Move candidates examined per block, most shared rare words first.
const MAX_MOVE_CANDIDATES: usize = 8;
/// Text (bytes) to compare word by word above which the work is shared by two threads.
const PARALLEL_BYTES: usize = 64 * 1024;
/// Time cap of [`unified`]'s line diff; past it the diff is valid but may not be minimal.
const UNIFIED_TIMEOUT: Duration = Duration::from_millis(500);

// ---------------------------------------------------------------------------------------
// Input and output

/// One block of a document: a paragraph, a heading, a list item, ...
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Block {
    pub kind: BlockKind,
    pub runs: Vec<Run>,
}

/// What a block is. Serialised as `"paragraph"`, `{"heading": 2}`,
/// `{"list_item": {"ordered": true, "depth": 0}}`, `"blockquote"`, `"code_block"` and
/// `"horizontal_rule"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    Paragraph,
    /// With its level (1 to 6).
    Heading(u8),
    /// `depth` 0 is the outermost list.
    ListItem {
        ordered: bool,
        depth: u8,
    },
    #[serde(rename = "blockquote")]
    Quote,
    #[serde(rename = "code_block")]
    Code,
    #[serde(rename = "horizontal_rule")]
    Rule,
}

/// A stretch of a block's text with one set of marks and one author.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Run {
    pub text: String,
    /// Mark names, sorted: `"bold"`, `"italic"`, `"link:https://…"`. Unsorted or repeated
    /// names are normalised, not trusted.
    pub marks: Vec<String>,
    /// An index into the caller's author table. In the FROM document: who deleted this
    /// text (if it is gone in TO); in the TO document: who inserted it.
    pub author: Option<u32>,
}

/// The difference between two documents. Authors are indices into the caller's table
/// until [`Diff::named`] puts names in their place.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diff<A = u32> {
    pub blocks: Vec<BlockDiff<A>>,
    pub summary: Summary<A>,
}

impl Diff {
    /// The same diff with each author index `i` replaced by `name(i)`.
    pub fn named<A: Clone>(self, name: impl Fn(u32) -> A) -> Diff<A> {
        let blocks = self
            .blocks
            .into_iter()
            .map(|b| BlockDiff {
                op: b.op,
                from: b.from,
                to: b.to,
                kind_from: b.kind_from,
                kind_to: b.kind_to,
                segments: b
                    .segments
                    .into_iter()
                    .map(|s| Segment {
                        op: s.op,
                        text: s.text,
                        marks: s.marks,
                        marks_from: s.marks_from,
                        authors: s.authors.iter().map(|&a| name(a)).collect(),
                    })
                    .collect(),
            })
            .collect();
        let summary = self.summary;
        Diff {
            blocks,
            summary: Summary {
                blocks_added: summary.blocks_added,
                blocks_removed: summary.blocks_removed,
                blocks_changed: summary.blocks_changed,
                blocks_moved: summary.blocks_moved,
                words_added: summary.words_added,
                words_removed: summary.words_removed,
                authors: summary
                    .authors
                    .into_iter()
                    .map(|share| AuthorShare {
                        author: name(share.author),
                        words_added: share.words_added,
                        words_removed: share.words_removed,
                        share: share.share,
                    })
                    .collect(),
            },
        }
    }
}

/// What happened to a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockOp {
    Equal,
    Insert,
    Delete,
    /// Edited in place: text, marks or kind. Splits and merges are changes too (see the
    /// module documentation).
    Change,
    /// Taken out of its place and put elsewhere, possibly edited as well.
    Move,
}

/// One entry of a [`Diff`]. `kind_from` is present whenever `from` is, `kind_to` whenever
/// `to` is. Several entries share a `from` when a block was split, a `to` when blocks
/// were merged; their segments, in order, then make up the shared block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlockDiff<A = u32> {
    pub op: BlockOp,
    /// The block's index in FROM.
    pub from: Option<usize>,
    /// The block's index in TO.
    pub to: Option<usize>,
    pub kind_from: Option<BlockKind>,
    pub kind_to: Option<BlockKind>,
    /// The block's text, cut where the op, the marks or the change of marks changes.
    /// Equal and inserted segments together are the TO text, equal and deleted ones the
    /// FROM text.
    pub segments: Vec<Segment<A>>,
}

/// What happened to a stretch of text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SegOp {
    Equal,
    Insert,
    Delete,
}

/// A stretch of text with one op and one set of marks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Segment<A = u32> {
    pub op: SegOp,
    pub text: String,
    /// The marks in TO (in FROM for deleted text).
    pub marks: Vec<String>,
    /// The marks in FROM, when equal text was formatted differently (a word made bold).
    pub marks_from: Option<Vec<String>>,
    /// Sorted, distinct author indices of the characters covered: inserted text by its
    /// TO authors, deleted text by its FROM authors, equal text only if its marks changed
    /// (by its TO authors).
    pub authors: Vec<A>,
}

/// The numbers of a [`Diff`]. Block counts are counts of entries by op (a split makes
/// two changed entries).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary<A = u32> {
    pub blocks_added: usize,
    pub blocks_removed: usize,
    pub blocks_changed: usize,
    pub blocks_moved: usize,
    pub words_added: usize,
    pub words_removed: usize,
    /// By author index. Words without an author count in the totals only.
    pub authors: Vec<AuthorShare<A>>,
}

/// One author's part of the words added and removed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuthorShare<A = u32> {
    pub author: A,
    pub words_added: usize,
    pub words_removed: usize,
    /// This author's words added and removed, as a fraction of all words added and
    /// removed. The shares sum to 1 when every changed word has an author.
    pub share: f64,
}

/// Diffs two documents block by block; see the module documentation.
pub fn diff(from: &[Block], to: &[Block]) -> Diff {
    diff_sharing(from, to, PARALLEL_BYTES)
}

/// [`diff`], with the work shared by two threads where more than `parallel` bytes of
/// text are compared word by word. The result is the same either way.
fn diff_sharing(from: &[Block], to: &[Block], parallel: usize) -> Diff {
    let mut marks = MarkTable::new();
    let from: Vec<Prepared> = from.iter().map(|b| Prepared::new(b, &mut marks)).collect();
    let to: Vec<Prepared> = to.iter().map(|b| Prepared::new(b, &mut marks)).collect();
    let mut docs = Docs::new(&from, &to);
    let alignment = align(&mut docs, parallel);
    Writer::new(&docs, &marks).write(&alignment, parallel)
}

/// A unified diff of two Markdown texts, line by line with three lines of context, under
/// `--- from_label` / `+++ to_label` headers. Empty when the texts are equal. Line breaks
/// in the labels become spaces, so a label cannot forge diff lines.
pub fn unified(from_markdown: &str, to_markdown: &str, from_label: &str, to_label: &str) -> String {
    let label = |s: &str| s.replace(['\n', '\r'], " ");
    TextDiff::configure()
        .algorithm(Algorithm::Patience)
        .timeout(UNIFIED_TIMEOUT)
        .diff_lines(from_markdown, to_markdown)
        .unified_diff()
        .context_radius(3)
        .header(&label(from_label), &label(to_label))
        .to_string()
}

// ---------------------------------------------------------------------------------------
// Preparation: blocks as tokens, identities and word multisets

/// Mark sets interned to small numbers, so tokens compare marks as integers. Id 0 is the
/// empty set.
struct MarkTable {
    ids: HashMap<Vec<String>, usize>,
    sets: Vec<Vec<String>>,
}

impl MarkTable {
    fn new() -> Self {
        let mut table = MarkTable {
            ids: HashMap::new(),
            sets: Vec::new(),
        };
        table.intern(&[]);
        table
    }

    fn intern(&mut self, marks: &[String]) -> usize {
        let sorted;
        let key = if marks.windows(2).all(|w| w[0] < w[1]) {
            marks
        } else {
            let mut copy = marks.to_vec();
            copy.sort();
            copy.dedup();
            sorted = copy;
            &sorted
        };
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = self.sets.len();
        self.sets.push(key.to_vec());
        self.ids.insert(key.to_vec(), id);
        id
    }

    fn names(&self, id: usize) -> Vec<String> {
        self.sets.get(id).cloned().unwrap_or_default()
    }
}

/// Where a run of equal marks and author sits in a block's text (byte offsets).
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    marks: usize,
    author: Option<u32>,
}

/// A word, a space or a punctuation mark of a block (byte offsets into its text), with
/// its marks. Derived from text and marks only, so two blocks with the same text and
/// formatting have the same tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Token {
    start: usize,
    end: usize,
    marks: usize,
    word: bool,
}

/// A block ready to compare.
struct Prepared<'a> {
    kind: BlockKind,
    text: Cow<'a, str>,
    /// Non-empty, in order, covering `text`; neighbours differ in marks or author.
    spans: Vec<Span>,
    /// The end and marks of each stretch of equal marks: with kind and text, what makes
    /// two blocks identical.
    layout: Vec<(usize, usize)>,
    /// Cut only when needed: most blocks of two versions are identical and never are.
    tokens: OnceLock<Vec<Token>>,
}

impl<'a> Prepared<'a> {
    fn new(block: &'a Block, marks: &mut MarkTable) -> Self {
        let text = match block.runs.as_slice() {
            [only] => Cow::Borrowed(only.text.as_str()),
            runs => Cow::Owned(runs.iter().map(|r| r.text.as_str()).collect()),
        };
        let mut spans: Vec<Span> = Vec::with_capacity(block.runs.len());
        let mut at = 0;
        for run in block.runs.iter().filter(|r| !r.text.is_empty()) {
            let end = at + run.text.len();
            let id = marks.intern(&run.marks);
            match spans.last_mut() {
                Some(last) if last.marks == id && last.author == run.author => last.end = end,
                _ => spans.push(Span {
                    start: at,
                    end,
                    marks: id,
                    author: run.author,
                }),
            }
            at = end;
        }
        let mut layout: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for span in &spans {
            match layout.last_mut() {
                Some(last) if last.1 == span.marks => last.0 = span.end,
                _ => layout.push((span.end, span.marks)),
            }
        }
        Prepared {
            kind: block.kind,
            text,
            spans,
            layout,
            tokens: OnceLock::new(),
        }
    }

    fn tokens(&self) -> &[Token] {
        self.tokens
            .get_or_init(|| tokenize(&self.text, &self.spans))
    }

    fn token_text(&self, token: &Token) -> &str {
        self.text.get(token.start..token.end).unwrap_or_default()
    }

    /// Adds the authors of `token`'s characters to `out`; returns the first one, who gets
    /// the credit for the word in the summary.
    fn authors_of(&self, token: &Token, out: &mut Vec<u32>) -> Option<u32> {
        let first = self.spans.partition_point(|s| s.end <= token.start);
        let mut credit = None;
        for span in self.spans[first..]
            .iter()
            .take_while(|s| s.start < token.end)
        {
            if let Some(author) = span.author {
                out.push(author);
                credit.get_or_insert(author);
            }
        }
        credit
    }
}

/// Cuts `text` at Unicode word boundaries and where marks change. Spans that differ only
/// in author do not cut a token: a word typed by two people is still one word.
fn tokenize(text: &str, spans: &[Span]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut span = 0;
    for (start, piece) in text.split_word_bound_indices() {
        let end = start + piece.len();
        let mut pos = start;
        while pos < end {
            while spans.get(span).is_some_and(|s| s.end <= pos) {
                span += 1;
            }
            let Some(here) = spans.get(span) else { break };
            let mut cut = here.end;
            let mut next = span + 1;
            while cut < end {
                match spans.get(next) {
                    Some(s) if s.marks == here.marks => cut = s.end,
                    _ => break,
                }
                next += 1;
            }
            let cut = cut.min(end);
            let word = text
                .get(pos..cut)
                .unwrap_or_default()
                .chars()
                .any(char::is_alphanumeric);
            tokens.push(Token {
                start: pos,
                end: cut,
                marks: here.marks,
                word,
            });
            pos = cut;
        }
    }
    tokens
}

/// What makes two blocks identical: kind, text, and where which marks apply.
type Identity<'p> = (BlockKind, &'p str, &'p [(usize, usize)]);

/// Both documents, prepared, with what the alignment needs to know of each block.
struct Docs<'p, 'a> {
    from: &'p [Prepared<'a>],
    to: &'p [Prepared<'a>],
    /// Equal ids mean identical blocks (kind, text and marks).
    from_ids: Vec<usize>,
    to_ids: Vec<usize>,
    /// Each unpaired block's words as sorted word ids (a multiset); see [`Docs::weigh`].
    from_words: Vec<Vec<usize>>,
    to_words: Vec<Vec<usize>>,
}

impl<'p, 'a> Docs<'p, 'a> {
    fn new(from: &'p [Prepared<'a>], to: &'p [Prepared<'a>]) -> Self {
        let mut blocks: HashMap<Identity, usize> = HashMap::new();
        let mut identify = |b: &'p Prepared<'a>| {
            let next = blocks.len();
            *blocks
                .entry((b.kind, &*b.text, b.layout.as_slice()))
                .or_insert(next)
        };
        let from_ids = from.iter().map(&mut identify).collect();
        let to_ids = to.iter().map(&mut identify).collect();
        Docs {
            from,
            to,
            from_ids,
            to_ids,
            from_words: vec![Vec::new(); from.len()],
            to_words: vec![Vec::new(); to.len()],
        }
    }

    /// Cuts the blocks that `al` has not paired yet into tokens (they are compared word
    /// by word), FROM's and TO's on two threads when there is much to cut.
    fn tokenize_unpaired(&self, al: &Alignment, parallel: usize) {
        let unpaired = |blocks: &[Prepared], group: &[Option<usize>]| {
            blocks
                .iter()
                .zip(group)
                .filter(|(_, g)| g.is_none())
                .map(|(b, _)| b.text.len())
                .sum::<usize>()
        };
        let cut = |blocks: &[Prepared], group: &[Option<usize>]| {
            for (block, _) in blocks.iter().zip(group).filter(|(_, g)| g.is_none()) {
                block.tokens();
            }
        };
        let bytes = unpaired(self.from, &al.from_group) + unpaired(self.to, &al.to_group);
        if bytes < parallel {
            return; // cut when first asked for
        }
        std::thread::scope(|scope| {
            scope.spawn(|| cut(self.from, &al.from_group));
            cut(self.to, &al.to_group);
        });
    }

    /// Finds the words of the blocks that `al` has not paired yet: only those are compared
    /// by their words.
    fn weigh(&mut self, al: &Alignment) {
        let mut words: HashMap<&'p str, usize> = HashMap::new();
        let mut bag = |b: &'p Prepared<'a>| {
            let mut ids: Vec<usize> = b
                .tokens()
                .iter()
                .filter(|t| t.word)
                .map(|t| {
                    let next = words.len();
                    *words.entry(b.token_text(t)).or_insert(next)
                })
                .collect();
            ids.sort_unstable();
            ids
        };
        for (i, block) in self.from.iter().enumerate() {
            if al.from_group[i].is_none() {
                self.from_words[i] = bag(block);
            }
        }
        for (j, block) in self.to.iter().enumerate() {
            if al.to_group[j].is_none() {
                self.to_words[j] = bag(block);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Word overlap

/// A fraction `0/1 ..= 1/1`, compared exactly.
#[derive(Clone, Copy, Debug)]
struct Ratio(usize, usize);

/// How much two blocks (or a block and a pair of blocks) have in common.
#[derive(Clone, Copy, Debug)]
struct Overlap {
    /// Words on one side also found on the other (as a multiset).
    shared: usize,
    /// Words on both sides together.
    total: usize,
}

impl Overlap {
    /// The overlap of `a` with the concatenation of `b` and `c`, all sorted.
    fn of(a: &[usize], b: &[usize], c: &[usize]) -> Overlap {
        let (mut i, mut j, mut k) = (0, 0, 0);
        let mut shared = 0;
        while let Some(&word) = a.get(i) {
            let count = |xs: &[usize], at: &mut usize| {
                while xs.get(*at).is_some_and(|&x| x < word) {
                    *at += 1;
                }
                let from = *at;
                while xs.get(*at) == Some(&word) {
                    *at += 1;
                }
                *at - from
            };
            let in_a = count(a, &mut i);
            let in_bc = count(b, &mut j) + count(c, &mut k);
            shared += in_a.min(in_bc);
        }
        Overlap {
            shared,
            total: a.len() + b.len() + c.len(),
        }
    }

    /// Whether 2 · shared / total reaches `ratio`.
    fn reaches(self, ratio: Ratio) -> bool {
        self.shared > 0 && wide(2 * self.shared) * wide(ratio.1) >= wide(ratio.0) * wide(self.total)
    }

    /// Whether this overlap is the higher fraction of the two.
    fn beats(self, other: Overlap) -> bool {
        wide(self.shared) * wide(other.total) > wide(other.shared) * wide(self.total)
    }
}

/// Products of counts in a type they cannot overflow.
fn wide(n: usize) -> u128 {
    n as u128
}

// ---------------------------------------------------------------------------------------
// Block alignment

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Equal,
    Change,
    Move,
}

/// Blocks paired up: one FROM and one TO block, or one and two for splits and merges.
#[derive(Clone, Debug)]
struct Group {
    from: Range<usize>,
    to: Range<usize>,
    link: Link,
}

struct Alignment {
    groups: Vec<Group>,
    from_group: Vec<Option<usize>>,
    to_group: Vec<Option<usize>>,
}

impl Alignment {
    fn add(&mut self, from: Range<usize>, to: Range<usize>, link: Link) {
        let id = self.groups.len();
        for i in from.clone() {
            self.from_group[i] = Some(id);
        }
        for j in to.clone() {
            self.to_group[j] = Some(id);
        }
        self.groups.push(Group { from, to, link });
    }

    /// Whether FROM block `i` stays in place (equal or changed, not moved, not deleted).
    fn in_place(&self, i: usize) -> bool {
        self.from_group[i].is_some_and(|g| self.groups[g].link != Link::Move)
    }
}

fn align(docs: &mut Docs, parallel: usize) -> Alignment {
    let mut al = Alignment {
        groups: Vec::new(),
        from_group: vec![None; docs.from.len()],
        to_group: vec![None; docs.to.len()],
    };

    // Anchors, and the gaps between them.
    let mut gaps = Vec::new();
    let (mut f, mut t) = (0, 0);
    for (i, j) in anchors(&docs.from_ids, &docs.to_ids) {
        gaps.push((f..i, t..j));
        al.add(i..i + 1, j..j + 1, Link::Equal);
        (f, t) = (i + 1, j + 1);
    }
    gaps.push((f..docs.from.len(), t..docs.to.len()));
    docs.tokenize_unpaired(&al, parallel);
    docs.weigh(&al);

    for (from, to) in gaps {
        let from: Vec<usize> = from.filter(|&i| al.from_group[i].is_none()).collect();
        let to: Vec<usize> = to.filter(|&j| al.to_group[j].is_none()).collect();
        let mut pairs = align_gap(&from, &to, &docs.from_words, &docs.to_words);
        // A block rewritten in place (the only one gone and the only one new between
        // two matches) is a change at a lower bar: it may have grown a lot.
        if let ([f], [t], true) = (&from[..], &to[..], pairs.is_empty()) {
            let overlap = Overlap::of(&docs.from_words[*f], &docs.to_words[*t], &[]);
            if overlap.reaches(IN_PLACE_SIMILARITY) {
                pairs.push((*f..*f + 1, *t..*t + 1));
            }
        }
        for (f, t) in pairs {
            // A coarse block diff (see `bounded_diff`) leaves identical blocks to this step.
            let identical =
                f.len() == 1 && t.len() == 1 && docs.from_ids[f.start] == docs.to_ids[t.start];
            al.add(f, t, if identical { Link::Equal } else { Link::Change });
        }
    }

    exact_moves(&mut al, docs);
    near_moves(&mut al, docs);
    al
}

/// Identical blocks paired in order by a patience diff over the identities that occur
/// in both documents. The others cannot match, and leaving them out spares the diff its
/// quadratic worst case when most blocks changed.
fn anchors(from: &[usize], to: &[usize]) -> Vec<(usize, usize)> {
    let in_from: HashSet<usize> = from.iter().copied().collect();
    let in_to: HashSet<usize> = to.iter().copied().collect();
    let f: Vec<usize> = (0..from.len())
        .filter(|&i| in_to.contains(&from[i]))
        .collect();
    let t: Vec<usize> = (0..to.len())
        .filter(|&j| in_from.contains(&to[j]))
        .collect();
    let f_ids: Vec<usize> = f.iter().map(|&i| from[i]).collect();
    let t_ids: Vec<usize> = t.iter().map(|&j| to[j]).collect();
    let mut pairs = Vec::new();
    for op in bounded_diff(&f_ids, &t_ids, MAX_BLOCK_DIFF, patience, coarse) {
        if let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        {
            pairs.extend((0..len).map(|k| (f[old_index + k], t[new_index + k])));
        }
    }
    pairs
}

/// Unpaired blocks identical to an unpaired block elsewhere, in document order. Blocks
/// without words (empty paragraphs, rules) are not worth a move.
fn exact_moves(al: &mut Alignment, docs: &Docs) {
    let mut waiting: HashMap<usize, VecDeque<usize>> = HashMap::new();
    for i in 0..docs.from.len() {
        if al.from_group[i].is_none() && !docs.from_words[i].is_empty() {
            waiting.entry(docs.from_ids[i]).or_default().push_back(i);
        }
    }
    for j in 0..docs.to.len() {
        if al.to_group[j].is_some() || docs.to_words[j].is_empty() {
            continue;
        }
        if let Some(i) = waiting
            .get_mut(&docs.to_ids[j])
            .and_then(VecDeque::pop_front)
        {
            al.add(i..i + 1, j..j + 1, Link::Move);
        }
    }
}

/// Unpaired blocks nearly identical to an unpaired block elsewhere. Candidates share rare
/// words (an inverted index that skips common ones), so the work is linear, not one
/// comparison per pair of blocks.
fn near_moves(al: &mut Alignment, docs: &Docs) {
    let mut index: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..docs.from.len() {
        if al.from_group[i].is_none() {
            let mut words = docs.from_words[i].clone();
            words.dedup();
            for w in words {
                index.entry(w).or_default().push(i);
            }
        }
    }
    if index.is_empty() {
        return;
    }
    for j in 0..docs.to.len() {
        if al.to_group[j].is_some() {
            continue;
        }
        let mut votes: HashMap<usize, usize> = HashMap::new();
        let mut words = docs.to_words[j].clone();
        words.dedup();
        for w in words {
            let Some(blocks) = index.get(&w).filter(|b| b.len() <= MAX_POSTINGS) else {
                continue;
            };
            for &i in blocks {
                *votes.entry(i).or_default() += 1;
            }
        }
        let mut candidates: Vec<(usize, usize)> = votes
            .into_iter()
            .filter(|&(i, _)| al.from_group[i].is_none())
            .collect();
        candidates.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut best: Option<(usize, Overlap)> = None;
        for &(i, _) in candidates.iter().take(MAX_MOVE_CANDIDATES) {
            let overlap = Overlap::of(&docs.from_words[i], &docs.to_words[j], &[]);
            if overlap.reaches(MOVE_SIMILARITY) && best.is_none_or(|(_, b)| overlap.beats(b)) {
                best = Some((i, overlap));
            }
        }
        if let Some((i, _)) = best {
            al.add(i..i + 1, j..j + 1, Link::Move);
        }
    }
}

/// How a cell of the gap's grid was reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Back {
    #[default]
    Start,
    Delete,
    Insert,
    Pair,
    Split,
    Merge,
}

#[derive(Clone, Copy, Debug, Default)]
struct Cell {
    score: usize,
    back: Back,
    /// Overlap of the FROM and TO blocks that end here (row i-1, column j-1), if any.
    pair: Option<Overlap>,
}

/// The cells of a gap's grid that are computed: all of them for a small gap, a band
/// around the diagonal for a large one. Every row's band reaches the next row's, so the
/// bottom-right cell is always reachable.
struct Grid {
    n: usize,
    m: usize,
    full: bool,
    row_start: Vec<usize>,
}

impl Grid {
    fn new(n: usize, m: usize) -> Grid {
        let full = (n + 1)
            .checked_mul(m + 1)
            .is_some_and(|cells| cells <= FULL_GRID_CELLS);
        let mut grid = Grid {
            n,
            m,
            full,
            row_start: Vec::with_capacity(n + 2),
        };
        let mut at = 0;
        for i in 0..=n {
            grid.row_start.push(at);
            let cols = grid.cols(i);
            at += cols.end() - cols.start() + 1;
        }
        grid.row_start.push(at);
        grid
    }

    fn cols(&self, i: usize) -> RangeInclusive<usize> {
        if self.full {
            return 0..=self.m;
        }
        // Row i's share of the diagonal runs from i·m/n to (i+1)·m/n.
        let (n, m) = (wide(self.n), wide(self.m));
        let lo = (wide(i) * m / n) as usize;
        let hi = ((wide(i) + 1) * m).div_ceil(n) as usize;
        lo.saturating_sub(BAND)..=hi.saturating_add(BAND).min(self.m)
    }

    fn len(&self) -> usize {
        self.row_start.last().copied().unwrap_or(0)
    }

    fn index(&self, i: usize, j: usize) -> Option<usize> {
        let cols = self.cols(i);
        cols.contains(&j)
            .then(|| self.row_start[i] + j - cols.start())
    }
}

/// Aligns the unpaired blocks of one gap (FROM indices `f`, TO indices `t`) in order,
/// maximising the words shared by paired blocks. Returns the pairs, splits and merges.
fn align_gap(
    f: &[usize],
    t: &[usize],
    from_words: &[Vec<usize>],
    to_words: &[Vec<usize>],
) -> Vec<(Range<usize>, Range<usize>)> {
    let (n, m) = (f.len(), t.len());
    if n == 0 || m == 0 {
        return Vec::new();
    }
    let grid = Grid::new(n, m);
    let mut cells = vec![Cell::default(); grid.len()];
    let score_at = |cells: &[Cell], i: usize, j: usize| grid.index(i, j).map(|c| cells[c].score);
    let pair_at = |cells: &[Cell], i: usize, j: usize| grid.index(i, j).and_then(|c| cells[c].pair);

    for i in 0..=n {
        for j in grid.cols(i) {
            let Some(here) = grid.index(i, j) else {
                continue;
            };
            if i == 0 && j == 0 {
                continue;
            }
            let pair = (i > 0 && j > 0)
                .then(|| Overlap::of(&from_words[f[i - 1]], &to_words[t[j - 1]], &[]));
            let mut best: Option<(usize, Back)> = None;
            let mut offer = |base: Option<usize>, gain: usize, back: Back| {
                if let Some(base) = base {
                    let total = base + gain;
                    if best.is_none_or(|(s, _)| total > s) {
                        best = Some((total, back));
                    }
                }
            };
            if let Some(p) = pair.filter(|p| p.reaches(CHANGE_SIMILARITY)) {
                offer(score_at(&cells, i - 1, j - 1), p.shared, Back::Pair);
            }
            // One FROM block against two adjacent TO blocks, better together than apart.
            if i > 0 && j > 1 && t[j - 2] + 1 == t[j - 1] {
                if let (Some(first), Some(second)) = (pair_at(&cells, i, j - 1), pair) {
                    if let Some(both) = split_overlap(
                        &from_words[f[i - 1]],
                        &to_words[t[j - 2]],
                        &to_words[t[j - 1]],
                        first,
                        second,
                    ) {
                        offer(score_at(&cells, i - 1, j - 2), both, Back::Split);
                    }
                }
            }
            // Two adjacent FROM blocks against one TO block.
            if i > 1 && j > 0 && f[i - 2] + 1 == f[i - 1] {
                if let (Some(first), Some(second)) = (pair_at(&cells, i - 1, j), pair) {
                    if let Some(both) = split_overlap(
                        &to_words[t[j - 1]],
                        &from_words[f[i - 2]],
                        &from_words[f[i - 1]],
                        first,
                        second,
                    ) {
                        offer(score_at(&cells, i - 2, j - 1), both, Back::Merge);
                    }
                }
            }
            if i > 0 {
                offer(score_at(&cells, i - 1, j), 0, Back::Delete);
            }
            if j > 0 {
                offer(score_at(&cells, i, j - 1), 0, Back::Insert);
            }
            let (score, back) = best.unwrap_or((0, Back::Start));
            cells[here] = Cell { score, back, pair };
        }
    }

    let mut groups = Vec::new();
    let (mut i, mut j) = (n, m);
    while let Some(cell) = grid.index(i, j).map(|c| cells[c]) {
        match cell.back {
            Back::Start => break,
            Back::Delete => i -= 1,
            Back::Insert => j -= 1,
            Back::Pair => {
                groups.push((f[i - 1]..f[i - 1] + 1, t[j - 1]..t[j - 1] + 1));
                (i, j) = (i - 1, j - 1);
            }
            Back::Split => {
                groups.push((f[i - 1]..f[i - 1] + 1, t[j - 2]..t[j - 1] + 1));
                (i, j) = (i - 1, j - 2);
            }
            Back::Merge => {
                groups.push((f[i - 2]..f[i - 1] + 1, t[j - 1]..t[j - 1] + 1));
                (i, j) = (i - 2, j - 1);
            }
        }
    }
    groups.reverse();
    groups
}

/// The words `whole` shares with `first` and `second` together, if the two together are
/// similar enough to it and more similar than either alone (`alone_*`): a split of
/// `whole` into `first` and `second`, or a merge of them into it.
fn split_overlap(
    whole: &[usize],
    first: &[usize],
    second: &[usize],
    alone_first: Overlap,
    alone_second: Overlap,
) -> Option<usize> {
    // Together they share at most what each shares alone; skip what cannot reach the bar.
    let most = alone_first.shared + alone_second.shared;
    if alone_first.shared == 0
        || alone_second.shared == 0
        || !(Overlap {
            shared: most,
            total: whole.len() + first.len() + second.len(),
        })
        .reaches(CHANGE_SIMILARITY)
    {
        return None;
    }
    let both = Overlap::of(whole, first, second);
    (both.reaches(CHANGE_SIMILARITY) && both.beats(alone_first) && both.beats(alone_second))
        .then_some(both.shared)
}

// ---------------------------------------------------------------------------------------
// Sequence diffs with bounded work

/// A diff of two whole sequences, returning ops relative to them.
type Differ<T> = fn(&[T], &[T]) -> Vec<DiffOp>;

/// Diffs `old` against `new`, first setting aside their common prefix and suffix: with
/// `small` if what remains holds at most `limit` items, else with `big`.
fn bounded_diff<T: Eq>(
    old: &[T],
    new: &[T],
    limit: usize,
    small: Differ<T>,
    big: Differ<T>,
) -> Vec<DiffOp> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let (old_rest, new_rest) = (&old[prefix..], &new[prefix..]);
    let suffix = old_rest
        .iter()
        .rev()
        .zip(new_rest.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let a = &old_rest[..old_rest.len() - suffix];
    let b = &new_rest[..new_rest.len() - suffix];

    let mut ops = Vec::new();
    if prefix > 0 {
        ops.push(DiffOp::Equal {
            old_index: 0,
            new_index: 0,
            len: prefix,
        });
    }
    let middle = if a.is_empty() && b.is_empty() {
        Vec::new()
    } else if a.len() + b.len() <= limit {
        small(a, b)
    } else {
        big(a, b)
    };
    ops.extend(middle.into_iter().map(|op| shifted(op, prefix, prefix)));
    if suffix > 0 {
        ops.push(DiffOp::Equal {
            old_index: old.len() - suffix,
            new_index: new.len() - suffix,
            len: suffix,
        });
    }
    ops
}

fn myers<T: Hash + Eq + Ord>(a: &[T], b: &[T]) -> Vec<DiffOp> {
    capture_diff_slices(Algorithm::Myers, a, b)
}

fn patience<T: Hash + Eq + Ord>(a: &[T], b: &[T]) -> Vec<DiffOp> {
    capture_diff_slices(Algorithm::Patience, a, b)
}

/// The last resort: all of `a` deleted, all of `b` inserted.
fn coarse<T>(a: &[T], b: &[T]) -> Vec<DiffOp> {
    replaced(0..a.len(), 0..b.len()).into_iter().collect()
}

/// The op that replaces `old` with `new`, if either is non-empty.
fn replaced(old: Range<usize>, new: Range<usize>) -> Option<DiffOp> {
    let (old_index, old_len, new_index, new_len) = (old.start, old.len(), new.start, new.len());
    match (old_len, new_len) {
        (0, 0) => None,
        (_, 0) => Some(DiffOp::Delete {
            old_index,
            old_len,
            new_index,
        }),
        (0, _) => Some(DiffOp::Insert {
            old_index,
            new_index,
            new_len,
        }),
        _ => Some(DiffOp::Replace {
            old_index,
            old_len,
            new_index,
            new_len,
        }),
    }
}

fn shifted(op: DiffOp, by_old: usize, by_new: usize) -> DiffOp {
    match op {
        DiffOp::Equal {
            old_index,
            new_index,
            len,
        } => DiffOp::Equal {
            old_index: old_index + by_old,
            new_index: new_index + by_new,
            len,
        },
        DiffOp::Delete {
            old_index,
            old_len,
            new_index,
        } => DiffOp::Delete {
            old_index: old_index + by_old,
            old_len,
            new_index: new_index + by_new,
        },
        DiffOp::Insert {
            old_index,
            new_index,
            new_len,
        } => DiffOp::Insert {
            old_index: old_index + by_old,
            new_index: new_index + by_new,
            new_len,
        },
        DiffOp::Replace {
            old_index,
            old_len,
            new_index,
            new_len,
        } => DiffOp::Replace {
            old_index: old_index + by_old,
            old_len,
            new_index: new_index + by_new,
            new_len,
        },
    }
}

/// A token as the word diff compares it: text and marks.
type Key<'p> = (&'p str, usize);

/// The token diff: anchored on words when small enough, otherwise sentence by sentence
/// first.
fn token_diff(old: &[Key], new: &[Key]) -> Vec<DiffOp> {
    bounded_diff(old, new, MAX_TOKEN_DIFF, by_word, by_sentence)
}

/// Diffs the words first and only then the spaces and punctuation between matched words.
/// A plain token diff happily matches a space here and a space there, which costs as
/// little as matching a word and reads as word salad ("alle" → "Kinder und").
fn by_word(a: &[Key], b: &[Key]) -> Vec<DiffOp> {
    let words = |keys: &[Key]| -> Vec<usize> {
        (0..keys.len())
            .filter(|&i| keys[i].0.chars().any(char::is_alphanumeric))
            .collect()
    };
    let (a_words, b_words) = (words(a), words(b));
    let a_keys: Vec<Key> = a_words.iter().map(|&i| a[i]).collect();
    let b_keys: Vec<Key> = b_words.iter().map(|&j| b[j]).collect();

    let mut ops = Vec::new();
    let between = |ops: &mut Vec<DiffOp>, old: Range<usize>, new: Range<usize>| {
        let inner = bounded_diff(
            &a[old.clone()],
            &b[new.clone()],
            MAX_TOKEN_DIFF,
            myers,
            coarse,
        );
        ops.extend(
            inner
                .into_iter()
                .map(|op| shifted(op, old.start, new.start)),
        );
    };
    let (mut i, mut j) = (0, 0);
    for op in myers(&a_keys, &b_keys) {
        if let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        {
            for k in 0..len {
                let (x, y) = (a_words[old_index + k], b_words[new_index + k]);
                between(&mut ops, i..x, j..y);
                ops.push(DiffOp::Equal {
                    old_index: x,
                    new_index: y,
                    len: 1,
                });
                (i, j) = (x + 1, y + 1);
            }
        }
    }
    between(&mut ops, i..a.len(), j..b.len());
    ops
}

/// Diffs long token sequences in two rounds: sentences (and lines) as units, then word by
/// word inside each changed run of sentences, each round bounded.
fn by_sentence(a: &[Key], b: &[Key]) -> Vec<DiffOp> {
    let (a_cuts, b_cuts) = (sentences(a), sentences(b));
    let mut ids: HashMap<&[Key], usize> = HashMap::new();
    let mut a_ids = Vec::with_capacity(a_cuts.len());
    let mut b_ids = Vec::with_capacity(b_cuts.len());
    for (keys, cuts, out) in [(a, &a_cuts, &mut a_ids), (b, &b_cuts, &mut b_ids)] {
        for w in cuts.windows(2) {
            let next = ids.len();
            out.push(*ids.entry(&keys[w[0]..w[1]]).or_insert(next));
        }
    }

    let mut ops = Vec::new();
    for op in bounded_diff(&a_ids, &b_ids, MAX_TOKEN_DIFF, myers, coarse) {
        let (sa, sb) = (op.old_range(), op.new_range());
        let old = a_cuts[sa.start]..a_cuts[sa.end];
        let new = b_cuts[sb.start]..b_cuts[sb.end];
        match op {
            DiffOp::Equal { .. } => {
                ops.push(DiffOp::Equal {
                    old_index: old.start,
                    new_index: new.start,
                    len: old.len(),
                });
            }
            _ => {
                let inner = bounded_diff(
                    &a[old.clone()],
                    &b[new.clone()],
                    MAX_TOKEN_DIFF,
                    by_word,
                    coarse,
                );
                ops.extend(
                    inner
                        .into_iter()
                        .map(|op| shifted(op, old.start, new.start)),
                );
            }
        }
    }
    ops
}

/// Token offsets where sentences start, plus the end: a sentence ends after a token that
/// closes one (a full stop, a question mark, ..., or a line break).
fn sentences(keys: &[Key]) -> Vec<usize> {
    let mut cuts = vec![0];
    for (at, (text, _)) in keys.iter().enumerate() {
        if text.contains('\n') || matches!(*text, "." | "!" | "?" | ";" | ":" | "…") {
            cuts.push(at + 1);
        }
    }
    if cuts.last() != Some(&keys.len()) {
        cuts.push(keys.len());
    }
    cuts
}

/// One token's fate in a word diff (positions in the concatenated sides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Equal(usize, usize),
    /// Same text, other marks.
    Restyle(usize, usize),
    Delete(usize),
    Insert(usize),
}

impl Step {
    fn old_pos(self) -> Option<usize> {
        match self {
            Step::Equal(i, _) | Step::Restyle(i, _) | Step::Delete(i) => Some(i),
            Step::Insert(_) => None,
        }
    }

    fn new_pos(self) -> Option<usize> {
        match self {
            Step::Equal(_, j) | Step::Restyle(_, j) | Step::Insert(j) => Some(j),
            Step::Delete(_) => None,
        }
    }
}

/// The word diff of two token sequences. Tokens compare by text and marks; inside each
/// changed stretch, text alone is compared again, so a word that only changed its marks
/// comes out as a restyle rather than as deleted and reinserted.
fn word_steps(old: &[Key], new: &[Key]) -> Vec<Step> {
    let mut steps = Vec::with_capacity(old.len().max(new.len()));
    let mut pending: Option<(Range<usize>, Range<usize>)> = None;
    for op in token_diff(old, new) {
        if let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        {
            if let Some((o, n)) = pending.take() {
                restyle_steps(old, new, o, n, &mut steps);
            }
            steps.extend((0..len).map(|k| Step::Equal(old_index + k, new_index + k)));
        } else {
            let (o, n) = (op.old_range(), op.new_range());
            pending = Some(match pending {
                Some((po, pn)) => (po.start..o.end, pn.start..n.end),
                None => (o, n),
            });
        }
    }
    if let Some((o, n)) = pending {
        restyle_steps(old, new, o, n, &mut steps);
    }
    steps
}

/// Steps for a changed stretch (`old[o]` replaced by `new[n]`), compared by text alone.
fn restyle_steps(
    old: &[Key],
    new: &[Key],
    o: Range<usize>,
    n: Range<usize>,
    steps: &mut Vec<Step>,
) {
    let a: Vec<&str> = old[o.clone()].iter().map(|k| k.0).collect();
    let b: Vec<&str> = new[n.clone()].iter().map(|k| k.0).collect();
    for op in bounded_diff(&a, &b, MAX_TOKEN_DIFF, myers, coarse) {
        match op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => {
                for k in 0..len {
                    let (i, j) = (o.start + old_index + k, n.start + new_index + k);
                    steps.push(if old[i].1 == new[j].1 {
                        Step::Equal(i, j)
                    } else {
                        Step::Restyle(i, j)
                    });
                }
            }
            op => {
                steps.extend(op.old_range().map(|i| Step::Delete(o.start + i)));
                steps.extend(op.new_range().map(|j| Step::Insert(n.start + j)));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Writing the diff

/// The tokens of one or two consecutive blocks of one side, as one sequence.
struct Concat<'p> {
    keys: Vec<Key<'p>>,
    /// For each position: the block and the token in it.
    locs: Vec<(usize, usize)>,
}

impl<'p> Concat<'p> {
    fn new(blocks: &'p [Prepared], range: Range<usize>) -> Self {
        let mut concat = Concat {
            keys: Vec::new(),
            locs: Vec::new(),
        };
        for b in range {
            for (k, token) in blocks[b].tokens().iter().enumerate() {
                concat.keys.push((blocks[b].token_text(token), token.marks));
                concat.locs.push((b, k));
            }
        }
        concat
    }
}

/// Neighbouring tokens join one segment when these agree: op, marks, former marks.
/// What a segment shares: its op, marks, former marks, and (inserted or deleted text)
/// its authors, so that the words of each author are a segment of their own.
type SegKey = (SegOp, usize, Option<usize>, Vec<u32>);

/// FROM blocks, TO blocks, and what became of them: one [`Writer::group`] call.
type Job = (Range<usize>, Range<usize>, BlockOp);

/// Builds the entries and the summary.
struct Writer<'p, 'a> {
    docs: &'p Docs<'p, 'a>,
    marks: &'p MarkTable,
    blocks: Vec<BlockDiff>,
    words_added: usize,
    words_removed: usize,
    /// Author -> (words added, words removed).
    by_author: BTreeMap<u32, (usize, usize)>,
}

impl<'p, 'a> Writer<'p, 'a> {
    fn new(docs: &'p Docs<'p, 'a>, marks: &'p MarkTable) -> Self {
        Writer {
            docs,
            marks,
            blocks: Vec::new(),
            words_added: 0,
            words_removed: 0,
            by_author: BTreeMap::new(),
        }
    }

    fn write(mut self, al: &Alignment, parallel: usize) -> Diff {
        let jobs = self.jobs(al);
        // The bytes each job diffs word by word (an equal block is copied as it is).
        let weight = |(from, to, op): &Job| match op {
            BlockOp::Equal => 0,
            _ => {
                let bytes = |blocks: &[Prepared], r: &Range<usize>| -> usize {
                    blocks[r.clone()].iter().map(|b| b.text.len()).sum()
                };
                bytes(self.docs.from, from) + bytes(self.docs.to, to)
            }
        };
        let total: usize = jobs.iter().map(weight).sum();
        if total < parallel {
            for (from, to, op) in jobs {
                self.group(from, to, op);
            }
            return self.finish();
        }
        // A long diff: the first half of the work here, the second on another thread,
        // then the second's entries after the first's.
        let mut done = 0;
        let cut = jobs
            .iter()
            .position(|job| {
                done += weight(job);
                done * 2 >= total
            })
            .map_or(jobs.len(), |at| at + 1);
        let (first, second) = jobs.split_at(cut);
        let mut other = Writer::new(self.docs, self.marks);
        std::thread::scope(|scope| {
            let later = scope.spawn(|| {
                for (from, to, op) in second {
                    other.group(from.clone(), to.clone(), *op);
                }
            });
            for (from, to, op) in first {
                self.group(from.clone(), to.clone(), *op);
            }
            later
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        });
        self.blocks.append(&mut other.blocks);
        self.words_added += other.words_added;
        self.words_removed += other.words_removed;
        for (author, (added, removed)) in other.by_author {
            let counts = self.by_author.entry(author).or_default();
            counts.0 += added;
            counts.1 += removed;
        }
        self.finish()
    }

    /// The entries to write, in output order: FROM blocks against TO blocks, and how.
    fn jobs(&self, al: &Alignment) -> Vec<Job> {
        let mut jobs = Vec::new();
        self.deletes_from(al, 0, &mut jobs);
        for j in 0..self.docs.to.len() {
            match al.to_group[j].map(|g| &al.groups[g]) {
                None => jobs.push((0..0, j..j + 1, BlockOp::Insert)),
                Some(g) if g.to.start == j => {
                    let op = match g.link {
                        Link::Equal => BlockOp::Equal,
                        Link::Change => BlockOp::Change,
                        Link::Move => BlockOp::Move,
                    };
                    jobs.push((g.from.clone(), g.to.clone(), op));
                    if g.link != Link::Move {
                        self.deletes_from(al, g.from.end, &mut jobs);
                    }
                }
                Some(_) => {}
            }
        }
        jobs
    }

    /// The deleted FROM blocks from `i` up to the next block that stays in place.
    fn deletes_from(&self, al: &Alignment, mut i: usize, jobs: &mut Vec<Job>) {
        while i < self.docs.from.len() && !al.in_place(i) {
            if al.from_group[i].is_none() {
                jobs.push((i..i + 1, 0..0, BlockOp::Delete));
            }
            i += 1;
        }
    }

    /// Writes the entries of FROM blocks `from` against TO blocks `to` (either may be
    /// empty): one entry, or two for a split or a merge.
    fn group(&mut self, from: Range<usize>, to: Range<usize>, op: BlockOp) {
        if op == BlockOp::Equal {
            self.equal(from.start, to.start);
            return;
        }
        let old = Concat::new(self.docs.from, from.clone());
        let new = Concat::new(self.docs.to, to.clone());
        let steps: Vec<Step> = match op {
            BlockOp::Insert => (0..new.keys.len()).map(Step::Insert).collect(),
            BlockOp::Delete => (0..old.keys.len()).map(Step::Delete).collect(),
            BlockOp::Equal | BlockOp::Change | BlockOp::Move => word_steps(&old.keys, &new.keys),
        };

        // A split is cut where the TO blocks meet, a merge where the FROM blocks meet;
        // a step with no position on that side goes with the part before it.
        let split = to.len() > 1;
        let merge = from.len() > 1;
        let parts = if split { to.len() } else { from.len().max(1) };
        let mut buckets: Vec<Vec<Step>> = vec![Vec::new(); parts];
        let mut part = 0;
        for step in steps {
            if split {
                if let Some(j) = step.new_pos() {
                    part = new.locs[j].0 - to.start;
                }
            } else if merge {
                if let Some(i) = step.old_pos() {
                    part = old.locs[i].0 - from.start;
                }
            }
            buckets[part].push(step);
        }

        for (k, steps) in buckets.into_iter().enumerate() {
            let from = (!from.is_empty()).then(|| if merge { from.start + k } else { from.start });
            let to = (!to.is_empty()).then(|| if split { to.start + k } else { to.start });
            let segments = self.segments(&steps, &old, &new);
            self.blocks.push(BlockDiff {
                op,
                from,
                to,
                kind_from: from.map(|i| self.docs.from[i].kind),
                kind_to: to.map(|j| self.docs.to[j].kind),
                segments,
            });
        }
    }

    /// Writes an identical block straight from its layout: one segment per set of marks,
    /// without cutting it into words.
    fn equal(&mut self, i: usize, j: usize) {
        let block = &self.docs.to[j];
        let mut start = 0;
        let mut segments = Vec::with_capacity(block.layout.len());
        for &(end, marks) in &block.layout {
            segments.push(Segment {
                op: SegOp::Equal,
                text: block.text.get(start..end).unwrap_or_default().to_string(),
                marks: self.marks.names(marks),
                marks_from: None,
                authors: Vec::new(),
            });
            start = end;
        }
        self.blocks.push(BlockDiff {
            op: BlockOp::Equal,
            from: Some(i),
            to: Some(j),
            kind_from: Some(self.docs.from[i].kind),
            kind_to: Some(block.kind),
            segments,
        });
    }

    /// Turns steps into segments, merging neighbours with the same op and marks, and
    /// counts the words added and removed.
    fn segments(&mut self, steps: &[Step], old: &Concat, new: &Concat) -> Vec<Segment> {
        let (docs, marks) = (self.docs, self.marks);
        let mut out = Vec::new();
        let mut current: Option<(SegKey, Segment)> = None;
        let mut token_authors = Vec::new();
        for &step in steps {
            let (op, block, token, marks_from) = match step {
                Step::Equal(_, j) => (SegOp::Equal, &docs.to[new.locs[j].0], new.locs[j].1, None),
                Step::Restyle(i, j) => {
                    let (b, t) = old.locs[i];
                    let before = docs.from[b].tokens()[t].marks;
                    (
                        SegOp::Equal,
                        &docs.to[new.locs[j].0],
                        new.locs[j].1,
                        Some(before),
                    )
                }
                Step::Insert(j) => (SegOp::Insert, &docs.to[new.locs[j].0], new.locs[j].1, None),
                Step::Delete(i) => (
                    SegOp::Delete,
                    &docs.from[old.locs[i].0],
                    old.locs[i].1,
                    None,
                ),
            };
            let token = &block.tokens()[token];
            token_authors.clear();
            let credit = block.authors_of(token, &mut token_authors);
            token_authors.sort_unstable();
            token_authors.dedup();
            let tracked = op != SegOp::Equal || marks_from.is_some();
            let key_authors: &[u32] = if tracked { &token_authors } else { &[] };
            let same = |(k, _): &(SegKey, Segment)| {
                (k.0, k.1, k.2) == (op, token.marks, marks_from) && k.3 == key_authors
            };
            if current.as_ref().is_some_and(|c| !same(c)) {
                out.extend(current.take().map(|(_, s)| s));
            }
            // Every token of a segment has its authors (the key says so).
            let (_, segment) = current.get_or_insert_with(|| {
                let segment = Segment {
                    op,
                    text: String::new(),
                    marks: marks.names(token.marks),
                    marks_from: marks_from.map(|m| marks.names(m)),
                    authors: key_authors.to_vec(),
                };
                ((op, token.marks, marks_from, key_authors.to_vec()), segment)
            });
            segment.text.push_str(block.token_text(token));
            if !tracked || !token.word {
                continue;
            }
            let counts = credit.map(|a| self.by_author.entry(a).or_default());
            match op {
                SegOp::Insert => {
                    self.words_added += 1;
                    counts.into_iter().for_each(|c| c.0 += 1);
                }
                SegOp::Delete => {
                    self.words_removed += 1;
                    counts.into_iter().for_each(|c| c.1 += 1);
                }
                SegOp::Equal => {}
            }
        }
        out.extend(current.map(|(_, s)| s));
        out
    }

    fn finish(self) -> Diff {
        let count = |op| self.blocks.iter().filter(|b| b.op == op).count();
        let total = self.words_added + self.words_removed;
        let authors = self
            .by_author
            .iter()
            .map(|(&author, &(added, removed))| AuthorShare {
                author,
                words_added: added,
                words_removed: removed,
                share: if total == 0 {
                    0.0
                } else {
                    (added + removed) as f64 / total as f64
                },
            })
            .collect();
        let summary = Summary {
            blocks_added: count(BlockOp::Insert),
            blocks_removed: count(BlockOp::Delete),
            blocks_changed: count(BlockOp::Change),
            blocks_moved: count(BlockOp::Move),
            words_added: self.words_added,
            words_removed: self.words_removed,
            authors,
        };
        Diff {
            blocks: self.blocks,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TITLE: &str = "Unser Leitbild";
    const INTRO: &str = "Unsere Schule ist ein Ort, an dem junge Menschen gemeinsam lernen, \
                         Verantwortung übernehmen und ihre Zukunft gestalten.";
    const VALUES: &str = "Respekt, Vertrauen und Offenheit prägen unser Miteinander im Alltag.";
    const BRIDGE: &str = "Wir begleiten den Übergang Schule–Beruf und öffnen die \
                          Bildungs-landschaft der Region für alle Kinder.";
    const GOALS: &str = "Wir fördern die Stärken jedes Kindes und unterstützen es dort, \
                         wo es Hilfe braucht.";

    fn run(text: &str) -> Run {
        Run {
            text: text.into(),
            marks: Vec::new(),
            author: None,
        }
    }

    fn by(text: &str, author: u32) -> Run {
        Run {
            author: Some(author),
            ..run(text)
        }
    }

    fn marked(text: &str, marks: &[&str], author: Option<u32>) -> Run {
        Run {
            text: text.into(),
            marks: marks.iter().map(|m| m.to_string()).collect(),
            author,
        }
    }

    fn p(text: &str) -> Block {
        Block {
            kind: BlockKind::Paragraph,
            runs: vec![run(text)],
        }
    }

    fn h(level: u8, text: &str) -> Block {
        Block {
            kind: BlockKind::Heading(level),
            runs: vec![run(text)],
        }
    }

    fn li(text: &str) -> Block {
        Block {
            kind: BlockKind::ListItem {
                ordered: false,
                depth: 0,
            },
            runs: vec![run(text)],
        }
    }

    fn mission() -> Vec<Block> {
        vec![h(1, TITLE), p(INTRO), p(VALUES), li(BRIDGE), li(GOALS)]
    }

    fn text_of(block: &Block) -> String {
        block.runs.iter().map(|r| r.text.as_str()).collect()
    }

    fn words_in(text: &str) -> usize {
        text.split_word_bounds()
            .filter(|t| t.chars().any(char::is_alphanumeric))
            .count()
    }

    /// (op, from, to) of every entry.
    fn shape(d: &Diff) -> Vec<(BlockOp, Option<usize>, Option<usize>)> {
        d.blocks.iter().map(|b| (b.op, b.from, b.to)).collect()
    }

    /// (op, text) of every segment of an entry.
    fn segs(b: &BlockDiff) -> Vec<(SegOp, &str)> {
        b.segments.iter().map(|s| (s.op, s.text.as_str())).collect()
    }

    /// The diff, after checking what must hold for any input: the entries give back both
    /// documents, follow TO order, are counted right, and serialise.
    fn checked(from: &[Block], to: &[Block]) -> Diff {
        let d = diff(from, to);
        assert_eq!(
            diff_sharing(from, to, 0),
            d,
            "two threads give what one gives"
        );
        for (j, block) in to.iter().enumerate() {
            let entries: Vec<&BlockDiff> = d.blocks.iter().filter(|b| b.to == Some(j)).collect();
            assert!(!entries.is_empty(), "TO block {j} has no entry");
            let text: String = entries
                .iter()
                .flat_map(|b| &b.segments)
                .filter(|s| s.op != SegOp::Delete)
                .map(|s| s.text.as_str())
                .collect();
            assert_eq!(text, text_of(block), "TO block {j}");
            assert!(entries.iter().all(|b| b.kind_to == Some(block.kind)));
        }
        for (i, block) in from.iter().enumerate() {
            let entries: Vec<&BlockDiff> = d.blocks.iter().filter(|b| b.from == Some(i)).collect();
            assert!(!entries.is_empty(), "FROM block {i} has no entry");
            let text: String = entries
                .iter()
                .flat_map(|b| &b.segments)
                .filter(|s| s.op != SegOp::Insert)
                .map(|s| s.text.as_str())
                .collect();
            assert_eq!(text, text_of(block), "FROM block {i}");
            assert!(entries.iter().all(|b| b.kind_from == Some(block.kind)));
        }
        let tos: Vec<usize> = d.blocks.iter().filter_map(|b| b.to).collect();
        assert!(
            tos.windows(2).all(|w| w[0] <= w[1]),
            "entries out of TO order: {tos:?}"
        );
        for b in &d.blocks {
            match b.op {
                BlockOp::Insert => assert!(b.from.is_none() && b.to.is_some()),
                BlockOp::Delete => assert!(b.from.is_some() && b.to.is_none()),
                _ => assert!(b.from.is_some() && b.to.is_some()),
            }
            assert!(b.segments.iter().all(|s| !s.text.is_empty()));
            assert!(b.segments.windows(2).all(|w| {
                (w[0].op, &w[0].marks, &w[0].marks_from, &w[0].authors)
                    != (w[1].op, &w[1].marks, &w[1].marks_from, &w[1].authors)
            }));
            for s in &b.segments {
                if s.op == SegOp::Equal && s.marks_from.is_none() {
                    assert!(s.authors.is_empty());
                }
                assert!(s.authors.windows(2).all(|w| w[0] < w[1]));
            }
        }
        let count = |op| d.blocks.iter().filter(|b| b.op == op).count();
        let s = &d.summary;
        assert_eq!(s.blocks_added, count(BlockOp::Insert));
        assert_eq!(s.blocks_removed, count(BlockOp::Delete));
        assert_eq!(s.blocks_changed, count(BlockOp::Change));
        assert_eq!(s.blocks_moved, count(BlockOp::Move));
        let added: usize = s.authors.iter().map(|a| a.words_added).sum();
        let removed: usize = s.authors.iter().map(|a| a.words_removed).sum();
        assert!(added <= s.words_added && removed <= s.words_removed);
        let shares: f64 = s.authors.iter().map(|a| a.share).sum();
        assert!(shares <= 1.0 + 1e-9);
        assert!(s.authors.windows(2).all(|w| w[0].author < w[1].author));
        serde_json::to_string(&d).expect("a diff serialises");
        d
    }

    #[test]
    fn identical_documents_are_all_equal_with_a_zero_summary() {
        let doc = mission();
        let d = checked(&doc, &doc);
        let expected: Vec<_> = (0..doc.len())
            .map(|k| (BlockOp::Equal, Some(k), Some(k)))
            .collect();
        assert_eq!(shape(&d), expected);
        assert_eq!(segs(&d.blocks[1]), vec![(SegOp::Equal, INTRO)]);
        assert_eq!(d.summary, Summary::default());
    }

    #[test]
    fn a_paragraph_rewritten_in_place_is_a_change_even_when_it_grew_a_lot() {
        let from = vec![h(1, "Leitbild"), p("Bildung ist wichtig.")];
        let to = vec![h(1, "Leitbild"), p("Bildung ist ein Recht für alle.")];
        let d = checked(&from, &to);
        assert_eq!(
            shape(&d),
            vec![
                (BlockOp::Equal, Some(0), Some(0)),
                (BlockOp::Change, Some(1), Some(1)),
            ]
        );
        assert_eq!(
            segs(&d.blocks[1]),
            vec![
                (SegOp::Equal, "Bildung ist "),
                (SegOp::Delete, "wichtig"),
                (SegOp::Insert, "ein Recht für alle"),
                (SegOp::Equal, "."),
            ]
        );
    }

    #[test]
    fn reordered_paragraphs_are_a_move_not_a_rewrite() {
        let from = vec![p(INTRO), p(VALUES), p(BRIDGE), p(GOALS)];
        let to = vec![p(INTRO), p(BRIDGE), p(VALUES), p(GOALS)];
        let d = checked(&from, &to);
        assert_eq!(
            shape(&d),
            vec![
                (BlockOp::Equal, Some(0), Some(0)),
                (BlockOp::Move, Some(2), Some(1)),
                (BlockOp::Equal, Some(1), Some(2)),
                (BlockOp::Equal, Some(3), Some(3)),
            ]
        );
        assert_eq!(segs(&d.blocks[1]), vec![(SegOp::Equal, BRIDGE)]);
        let s = &d.summary;
        assert_eq!(
            (
                s.blocks_moved,
                s.blocks_added,
                s.blocks_removed,
                s.blocks_changed
            ),
            (1, 0, 0, 0)
        );
        assert_eq!((s.words_added, s.words_removed), (0, 0));
    }

    #[test]
    fn a_moved_paragraph_that_was_also_edited_shows_its_word_diff() {
        let edited = GOALS.replace("Stärken", "Talente");
        let from = vec![p(INTRO), p(VALUES), p(BRIDGE), p(GOALS)];
        let to = vec![p(&edited), p(INTRO), p(VALUES), p(BRIDGE)];
        let d = checked(&from, &to);
        assert_eq!(
            shape(&d),
            vec![
                (BlockOp::Move, Some(3), Some(0)),
                (BlockOp::Equal, Some(0), Some(1)),
                (BlockOp::Equal, Some(1), Some(2)),
                (BlockOp::Equal, Some(2), Some(3)),
            ]
        );
        assert_eq!(
            segs(&d.blocks[0]),
            vec![
                (SegOp::Equal, "Wir fördern die "),
                (SegOp::Delete, "Stärken"),
                (SegOp::Insert, "Talente"),
                (
                    SegOp::Equal,
                    " jedes Kindes und unterstützen es dort, wo es Hilfe braucht."
                ),
            ]
        );
        assert_eq!((d.summary.words_added, d.summary.words_removed), (1, 1));
    }

    #[test]
    fn a_paragraph_split_in_two_is_two_changes_of_one_block() {
        let from = vec![h(2, "Unsere Werte"), p(&format!("{VALUES} {GOALS}"))];
        let to = vec![h(2, "Unsere Werte"), p(VALUES), p(GOALS)];
        let d = checked(&from, &to);
        assert_eq!(
            shape(&d),
            vec![
                (BlockOp::Equal, Some(0), Some(0)),
                (BlockOp::Change, Some(1), Some(1)),
                (BlockOp::Change, Some(1), Some(2)),
            ]
        );
        assert_eq!(
            segs(&d.blocks[1]),
            vec![(SegOp::Equal, VALUES), (SegOp::Delete, " ")]
        );
        assert_eq!(segs(&d.blocks[2]), vec![(SegOp::Equal, GOALS)]);
        let s = &d.summary;
        assert_eq!(
            (s.blocks_changed, s.blocks_added, s.blocks_removed),
            (2, 0, 0)
        );
        assert_eq!(
            (s.words_added, s.words_removed),
            (0, 0),
            "a split adds no words"
        );
    }

    #[test]
    fn a_split_with_an_edit_keeps_the_edit_in_its_half() {
        let from = vec![p(&format!("{VALUES} {GOALS}"))];
        let to = vec![p(VALUES), p(&GOALS.replace("Kindes", "Kindes gezielt"))];
        let d = checked(&from, &to);
        assert_eq!(
            shape(&d),
            vec![
                (BlockOp::Change, Some(0), Some(0)),
                (BlockOp::Change, Some(0), Some(1))
            ]
        );
        assert_eq!(
            segs(&d.blocks[0]),
            vec![(SegOp::Equal, VALUES), (SegOp::Delete, " ")]
        );
        assert_eq!(
            segs(&d.blocks[1]),
            vec![
                (SegOp::Equal, "Wir fördern die Stärken jedes Kindes"),
                (SegOp::Insert, " gezielt"),
                (
                    SegOp::Equal,
                    " und unterstützen es dort, wo es Hilfe braucht."
                ),
            ]
        );
        assert_eq!((d.summary.words_added, d.summary.words_removed), (1, 0));
    }

    #[test]
    fn two_paragraphs_merged_are_two_changes_of_one_block() {
        let from = vec![
            p("Wir lernen gemeinsam."),
            p("Wir wachsen miteinander."),
            p(GOALS),
        ];
        let to = vec![p("Wir lernen gemeinsam und wachsen miteinander."), p(GOALS)];
        let d = checked(&from, &to);
        assert_eq!(
            shape(&d),
            vec![
                (BlockOp::Change, Some(0), Some(0)),
                (BlockOp::Change, Some(1), Some(0)),
                (BlockOp::Equal, Some(2), Some(1)),
            ]
        );
        assert_eq!(
            segs(&d.blocks[0]),
            vec![(SegOp::Equal, "Wir lernen gemeinsam"), (SegOp::Delete, ".")]
        );
        assert_eq!(
            segs(&d.blocks[1]),
            vec![
                (SegOp::Delete, "Wir"),
                (SegOp::Insert, " und"),
                (SegOp::Equal, " wachsen miteinander."),
            ]
        );
        assert_eq!((d.summary.words_added, d.summary.words_removed), (1, 1));
    }

    #[test]
    fn a_renamed_heading_is_a_change_with_a_word_diff() {
        let from = vec![h(2, "Unsere Werte"), p(VALUES)];
        let to = vec![h(2, "Unsere Grundwerte"), p(VALUES)];
        let d = checked(&from, &to);
        assert_eq!(
            shape(&d),
            vec![
                (BlockOp::Change, Some(0), Some(0)),
                (BlockOp::Equal, Some(1), Some(1))
            ]
        );
        let heading = &d.blocks[0];
        assert_eq!(
            (heading.kind_from, heading.kind_to),
            (Some(BlockKind::Heading(2)), Some(BlockKind::Heading(2)))
        );
        assert_eq!(
            segs(heading),
            vec![
                (SegOp::Equal, "Unsere "),
                (SegOp::Delete, "Werte"),
                (SegOp::Insert, "Grundwerte")
            ]
        );
        let s = &d.summary;
        assert_eq!(
            (s.blocks_changed, s.words_added, s.words_removed),
            (1, 1, 1)
        );
    }

    #[test]
    fn an_inserted_list_item_is_an_insert_in_its_place() {
        let new_item = "Wir arbeiten eng mit Eltern und Betrieben zusammen.";
        let from = vec![h(2, "Unsere Ziele"), li(BRIDGE), li(GOALS)];
        let to = vec![h(2, "Unsere Ziele"), li(BRIDGE), li(new_item), li(GOALS)];
        let d = checked(&from, &to);
        assert_eq!(
            shape(&d),
            vec![
                (BlockOp::Equal, Some(0), Some(0)),
                (BlockOp::Equal, Some(1), Some(1)),
                (BlockOp::Insert, None, Some(2)),
                (BlockOp::Equal, Some(2), Some(3)),
            ]
        );
        let inserted = &d.blocks[2];
        assert_eq!(
            inserted.kind_to,
            Some(BlockKind::ListItem {
                ordered: false,
                depth: 0
            })
        );
        assert_eq!(inserted.kind_from, None);
        assert_eq!(segs(inserted), vec![(SegOp::Insert, new_item)]);
        let s = &d.summary;
        assert_eq!((s.blocks_added, s.words_added, s.words_removed), (1, 8, 0));
    }

    #[test]
    fn a_deleted_block_stays_after_the_block_that_preceded_it() {
        let from = vec![p(INTRO), p(VALUES), p(GOALS)];
        let to = vec![
            p(INTRO),
            p("Neu: ein Absatz über Digitalisierung im Unterricht."),
            p(GOALS),
        ];
        let d = checked(&from, &to);
        assert_eq!(
            shape(&d),
            vec![
                (BlockOp::Equal, Some(0), Some(0)),
                (BlockOp::Delete, Some(1), None),
                (BlockOp::Insert, None, Some(1)),
                (BlockOp::Equal, Some(2), Some(2)),
            ]
        );
        assert_eq!(segs(&d.blocks[1]), vec![(SegOp::Delete, VALUES)]);
        assert_eq!(d.summary.words_removed, words_in(VALUES));
    }

    #[test]
    fn whitespace_and_punctuation_changes_touch_no_words() {
        let from = vec![p("Wir fördern Bildung, Teilhabe und Vielfalt.")];
        let to = vec![p("Wir fördern Bildung; Teilhabe und  Vielfalt!")];
        let d = checked(&from, &to);
        assert_eq!(shape(&d), vec![(BlockOp::Change, Some(0), Some(0))]);
        assert_eq!(
            segs(&d.blocks[0]),
            vec![
                (SegOp::Equal, "Wir fördern Bildung"),
                (SegOp::Delete, ","),
                (SegOp::Insert, ";"),
                (SegOp::Equal, " Teilhabe und"),
                (SegOp::Delete, " "),
                (SegOp::Insert, "  "),
                (SegOp::Equal, "Vielfalt"),
                (SegOp::Delete, "."),
                (SegOp::Insert, "!"),
            ]
        );
        assert_eq!((d.summary.words_added, d.summary.words_removed), (0, 0));
        assert!(d.summary.authors.is_empty());
    }

    #[test]
    fn hyphens_and_dashes_split_words() {
        let from = vec![p("Der Übergang Schule–Beruf in der Bildungs-landschaft.")];
        let to = vec![p("Der Übergang Schule–Arbeit in der Bildungs-region.")];
        let d = checked(&from, &to);
        assert_eq!(
            segs(&d.blocks[0]),
            vec![
                (SegOp::Equal, "Der Übergang Schule–"),
                (SegOp::Delete, "Beruf"),
                (SegOp::Insert, "Arbeit"),
                (SegOp::Equal, " in der Bildungs-"),
                (SegOp::Delete, "landschaft"),
                (SegOp::Insert, "region"),
                (SegOp::Equal, "."),
            ]
        );
        assert_eq!((d.summary.words_added, d.summary.words_removed), (2, 2));
    }

    #[test]
    fn a_word_made_bold_is_equal_text_with_changed_marks() {
        let from = vec![p("Unser Leitbild verbindet Schule und Beruf.")];
        let to = vec![Block {
            kind: BlockKind::Paragraph,
            runs: vec![
                run("Unser "),
                marked("Leitbild", &["bold"], Some(4)),
                run(" verbindet Schule und Beruf."),
            ],
        }];
        let d = checked(&from, &to);
        assert_eq!(shape(&d), vec![(BlockOp::Change, Some(0), Some(0))]);
        let expected = vec![
            Segment {
                op: SegOp::Equal,
                text: "Unser ".into(),
                marks: vec![],
                marks_from: None,
                authors: vec![],
            },
            Segment {
                op: SegOp::Equal,
                text: "Leitbild".into(),
                marks: vec!["bold".into()],
                marks_from: Some(vec![]),
                authors: vec![4],
            },
            Segment {
                op: SegOp::Equal,
                text: " verbindet Schule und Beruf.".into(),
                marks: vec![],
                marks_from: None,
                authors: vec![],
            },
        ];
        assert_eq!(d.blocks[0].segments, expected);
        assert_eq!((d.summary.words_added, d.summary.words_removed), (0, 0));
    }

    #[test]
    fn unsorted_marks_are_the_same_marks() {
        let from = vec![Block {
            kind: BlockKind::Paragraph,
            runs: vec![marked(TITLE, &["italic", "bold"], None)],
        }];
        let to = vec![Block {
            kind: BlockKind::Paragraph,
            runs: vec![marked(TITLE, &["bold", "italic", "bold"], None)],
        }];
        let d = checked(&from, &to);
        assert_eq!(shape(&d), vec![(BlockOp::Equal, Some(0), Some(0))]);
        assert_eq!(
            d.blocks[0].segments[0].marks,
            vec!["bold".to_string(), "italic".to_string()]
        );
    }

    #[test]
    fn a_paragraph_made_a_heading_is_a_change_of_kind() {
        let from = vec![p(TITLE), p(INTRO)];
        let to = vec![h(1, TITLE), p(INTRO)];
        let d = checked(&from, &to);
        assert_eq!(
            shape(&d),
            vec![
                (BlockOp::Change, Some(0), Some(0)),
                (BlockOp::Equal, Some(1), Some(1))
            ]
        );
        let changed = &d.blocks[0];
        assert_eq!(
            (changed.kind_from, changed.kind_to),
            (Some(BlockKind::Paragraph), Some(BlockKind::Heading(1)))
        );
        assert_eq!(segs(changed), vec![(SegOp::Equal, TITLE)]);
        assert_eq!(d.summary.blocks_changed, 1);
        assert_eq!((d.summary.words_added, d.summary.words_removed), (0, 0));
    }

    #[test]
    fn empty_against_full_is_all_inserts_and_back_all_deletes() {
        let doc = mission();
        let total: usize = doc.iter().map(|b| words_in(&text_of(b))).sum();

        let d = checked(&[], &doc);
        let expected: Vec<_> = (0..doc.len())
            .map(|k| (BlockOp::Insert, None, Some(k)))
            .collect();
        assert_eq!(shape(&d), expected);
        assert_eq!(segs(&d.blocks[0]), vec![(SegOp::Insert, TITLE)]);
        let s = &d.summary;
        assert_eq!(
            (s.blocks_added, s.words_added, s.words_removed),
            (doc.len(), total, 0)
        );

        let d = checked(&doc, &[]);
        let expected: Vec<_> = (0..doc.len())
            .map(|k| (BlockOp::Delete, Some(k), None))
            .collect();
        assert_eq!(shape(&d), expected);
        let s = &d.summary;
        assert_eq!(
            (s.blocks_removed, s.words_added, s.words_removed),
            (doc.len(), 0, total)
        );

        assert_eq!(
            checked(&[], &[]),
            Diff {
                blocks: vec![],
                summary: Summary::default()
            }
        );
    }

    /// v1 → v2: author 0 replaced "fördern" by "stärken", author 2 deleted "alle ",
    /// author 1 added " und Jugendlichen".
    #[test]
    fn three_authors_in_one_paragraph_are_each_named_on_their_own_edits() {
        let from = vec![Block {
            kind: BlockKind::Paragraph,
            runs: vec![
                run("Wir "),
                by("fördern", 0),
                run(" Bildung für "),
                by("alle ", 2),
                run("Kinder."),
            ],
        }];
        let to = vec![Block {
            kind: BlockKind::Paragraph,
            runs: vec![
                run("Wir "),
                by("stärken", 0),
                run(" Bildung für Kinder"),
                by(" und Jugendlichen", 1),
                run("."),
            ],
        }];
        let d = checked(&from, &to);
        assert_eq!(shape(&d), vec![(BlockOp::Change, Some(0), Some(0))]);
        let got: Vec<(SegOp, &str, &[u32])> = d.blocks[0]
            .segments
            .iter()
            .map(|s| (s.op, s.text.as_str(), s.authors.as_slice()))
            .collect();
        assert_eq!(
            got,
            vec![
                (SegOp::Equal, "Wir ", &[][..]),
                (SegOp::Delete, "fördern", &[0][..]),
                (SegOp::Insert, "stärken", &[0][..]),
                (SegOp::Equal, " Bildung für ", &[][..]),
                (SegOp::Delete, "alle ", &[2][..]),
                (SegOp::Equal, "Kinder", &[][..]),
                (SegOp::Insert, " und Jugendlichen", &[1][..]),
                (SegOp::Equal, ".", &[][..]),
            ]
        );
        let s = &d.summary;
        assert_eq!((s.words_added, s.words_removed), (3, 2));
        let shares: Vec<(u32, usize, usize, f64)> = s
            .authors
            .iter()
            .map(|a| (a.author, a.words_added, a.words_removed, a.share))
            .collect();
        assert_eq!(shares, vec![(0, 1, 1, 0.4), (1, 2, 0, 0.4), (2, 0, 1, 0.2)]);
        let sum: f64 = s.authors.iter().map(|a| a.share).sum();
        assert!((sum - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_summary_serialises_with_the_agreed_names() {
        let from = vec![p("Unsere Werte")];
        let to = vec![Block {
            kind: BlockKind::Heading(2),
            runs: vec![by("Unsere Grundwerte", 7)],
        }];
        let json = serde_json::to_value(checked(&from, &to)).expect("serialises");
        let entry = &json["blocks"][0];
        assert_eq!(entry["op"], "change");
        assert_eq!(entry["kind_from"], "paragraph");
        assert_eq!(entry["kind_to"], serde_json::json!({ "heading": 2 }));
        assert_eq!(entry["segments"][1]["op"], "delete");
        assert_eq!(entry["segments"][2]["authors"], serde_json::json!([7]));
        assert_eq!(json["summary"]["authors"][0]["author"], 7);
        assert_eq!(json["summary"]["words_added"], 1);
        let kinds = serde_json::to_value([
            BlockKind::ListItem {
                ordered: true,
                depth: 1,
            },
            BlockKind::Quote,
            BlockKind::Code,
            BlockKind::Rule,
        ])
        .expect("serialises");
        assert_eq!(
            kinds,
            serde_json::json!([
                { "list_item": { "ordered": true, "depth": 1 } },
                "blockquote",
                "code_block",
                "horizontal_rule"
            ])
        );
    }

    #[test]
    fn unified_is_a_line_diff_with_headers() {
        let from = "# Unser Leitbild\n\nWir lernen gemeinsam.\n";
        let to = "# Unser Leitbild\n\nWir lernen und wachsen gemeinsam.\n";
        let text = unified(from, to, "Version 1", "Version 2\n+++ forged");
        assert_eq!(
            text,
            "--- Version 1\n+++ Version 2 +++ forged\n@@ -1,3 +1,3 @@\n # Unser Leitbild\n \n\
             -Wir lernen gemeinsam.\n+Wir lernen und wachsen gemeinsam.\n"
        );
        assert_eq!(unified(from, from, "a", "b"), "");
    }

    /// A long paragraph with a few edits far apart goes through the sentence round and
    /// still reports only the words that changed.
    #[test]
    fn a_very_long_block_is_diffed_sentence_by_sentence() {
        let sentences: Vec<String> = (0..400)
            .map(|k| format!("Satz {k} handelt von Schule und Beruf."))
            .collect();
        let mut edited = sentences.clone();
        edited[10] = "Satz 10 handelt von Schule und Arbeit.".into();
        edited[390] = "Satz 390 handelt von Schule und Beruf in Europa.".into();
        let from = vec![p(&sentences.join(" "))];
        let to = vec![p(&edited.join(" "))];
        let d = checked(&from, &to);
        assert_eq!(shape(&d), vec![(BlockOp::Change, Some(0), Some(0))]);
        let changed: Vec<(SegOp, &str)> = segs(&d.blocks[0])
            .into_iter()
            .filter(|(op, _)| *op != SegOp::Equal)
            .collect();
        assert_eq!(
            changed,
            vec![
                (SegOp::Delete, "Beruf"),
                (SegOp::Insert, "Arbeit"),
                (SegOp::Insert, " in Europa")
            ]
        );
        assert_eq!((d.summary.words_added, d.summary.words_removed), (3, 1));
    }

    /// Without sentences to split at, a block too long for a word diff is shown as the
    /// changed stretch deleted and reinserted: correct, bounded, just not minimal.
    #[test]
    fn a_huge_block_without_sentences_falls_back_to_delete_and_insert() {
        let words: Vec<String> = (0..2500).map(|k| format!("Wort{k}")).collect();
        let mut edited = words.clone();
        edited[100] = "Anfang".into();
        edited[2400] = "Ende".into();
        let from = vec![p(&words.join(" "))];
        let to = vec![p(&edited.join(" "))];
        let d = checked(&from, &to);
        let ops: Vec<SegOp> = d.blocks[0].segments.iter().map(|s| s.op).collect();
        assert_eq!(
            ops,
            vec![SegOp::Equal, SegOp::Delete, SegOp::Insert, SegOp::Equal]
        );
        assert!(d.blocks[0].segments[1].text.starts_with("Wort100 "));
        assert!(d.blocks[0].segments[2].text.ends_with(" Ende"));
        assert_eq!(
            (d.summary.words_added, d.summary.words_removed),
            (2301, 2301)
        );
    }

    /// Hundreds of paragraphs each edited: one gap far larger than the exhaustive grid,
    /// aligned in a band, still pairs every paragraph with its edit.
    #[test]
    fn a_large_gap_is_aligned_in_a_band() {
        let from: Vec<Block> = (0..300)
            .map(|k| {
                p(&format!(
                    "Absatz {k}: Wir fördern Bildung und Teilhabe in der Region."
                ))
            })
            .collect();
        let mut to: Vec<Block> = (0..300)
            .map(|k| {
                p(&format!(
                    "Absatz {k}: Wir fördern Bildung und Teilhabe in unserer Region."
                ))
            })
            .collect();
        to.insert(150, p("Ein ganz neuer Gedanke ohne Vorbild."));
        let d = checked(&from, &to);
        let mut expected: Vec<_> = (0..150)
            .map(|k| (BlockOp::Change, Some(k), Some(k)))
            .collect();
        expected.push((BlockOp::Insert, None, Some(150)));
        expected.extend((150..300).map(|k| (BlockOp::Change, Some(k), Some(k + 1))));
        assert_eq!(shape(&d), expected);
        assert_eq!(
            (d.summary.words_added, d.summary.words_removed),
            (300 + 6, 300)
        );
    }

    const PIECES: &[&str] = &[
        "Wir",
        " ",
        "fördern",
        "Bildung",
        ", ",
        ".",
        "Schule–Beruf",
        "Bildungs-landschaft",
        "",
        "ä",
        "🙂",
        "\n",
        "e\u{301}",
        "  ",
        "und",
        "Vielfalt",
        "Leitbild",
        "42",
        "—",
        "\u{200d}",
    ];
    const MARKS: &[&str] = &["bold", "italic", "link:https://example.org"];

    fn arb_run() -> impl Strategy<Value = Run> {
        (
            prop::collection::vec(prop::sample::select(PIECES), 0..6),
            prop::collection::vec(prop::sample::select(MARKS), 0..3),
            prop::option::of(0u32..4),
        )
            .prop_map(|(pieces, marks, author)| Run {
                text: pieces.concat(),
                marks: marks.into_iter().map(String::from).collect(),
                author,
            })
    }

    fn arb_block() -> impl Strategy<Value = Block> {
        (0u8..6, 0u8..3, prop::collection::vec(arb_run(), 0..4)).prop_map(|(kind, level, runs)| {
            let kind = match kind {
                0 => BlockKind::Paragraph,
                1 => BlockKind::Heading(level),
                2 => BlockKind::ListItem {
                    ordered: level % 2 == 0,
                    depth: level,
                },
                3 => BlockKind::Quote,
                4 => BlockKind::Code,
                _ => BlockKind::Rule,
            };
            Block { kind, runs }
        })
    }

    /// Edits that make TO resemble FROM the way real versions do.
    fn edited(from: &[Block], edits: &[(u8, usize, usize, Block)]) -> Vec<Block> {
        let mut to = from.to_vec();
        for (what, a, b, block) in edits {
            let len = to.len().max(1);
            let (a, b) = (a % len, b % len);
            match what {
                0 if !to.is_empty() => {
                    to.remove(a);
                }
                1 => to.insert(a.min(to.len()), block.clone()),
                2 if !to.is_empty() => to.swap(a, b),
                3 if !to.is_empty() => {
                    let half = to[a].runs.len() / 2;
                    let runs = to[a].runs.split_off(half);
                    to.insert(
                        a + 1,
                        Block {
                            kind: to[a].kind,
                            runs,
                        },
                    );
                }
                4 if a + 1 < to.len() => {
                    let next = to.remove(a + 1);
                    to[a].runs.extend(next.runs);
                }
                5 if !to.is_empty() => to[a].runs.extend(block.runs.iter().cloned()),
                _ => {}
            }
        }
        to
    }

    proptest! {
        #[test]
        fn any_input_diffs_without_panicking_and_gives_both_documents_back(
            from in prop::collection::vec(arb_block(), 0..10),
            edits in prop::collection::vec((0u8..6, 0usize..100, 0usize..100, arb_block()), 0..6),
            unrelated in prop::collection::vec(arb_block(), 0..10),
        ) {
            let to = edited(&from, &edits);
            checked(&from, &to);
            checked(&from, &unrelated);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Gaps large enough to be aligned in a band rather than exhaustively.
        #[test]
        fn large_inputs_diff_without_panicking_and_give_both_documents_back(
            from in prop::collection::vec(arb_block(), 60..120),
            unrelated in prop::collection::vec(arb_block(), 60..120),
        ) {
            checked(&from, &unrelated);
        }
    }

    #[test]
    fn a_long_diff_shared_by_two_threads_is_the_diff_of_one() {
        // About 200 KB of text: paragraphs edited, inserted, deleted, moved and
        // restyled, by several authors.
        let sentence = |i: usize| format!("Absatz {i}: {INTRO} {VALUES} {GOALS}");
        let from: Vec<Block> = (0..600).map(|i| p(&sentence(i))).collect();
        let mut to: Vec<Block> = Vec::new();
        for (i, block) in from.iter().enumerate() {
            match i % 7 {
                0 => continue,
                1 => to.push(Block {
                    kind: block.kind,
                    runs: vec![
                        by(&format!("Neu {i}: "), (i % 3) as u32),
                        run(&text_of(block).replace("Respekt", "Achtung")),
                    ],
                }),
                2 => to.push(li(&text_of(block))),
                3 => {
                    to.push(block.clone());
                    to.push(Block {
                        kind: BlockKind::Paragraph,
                        runs: vec![by(&format!("Eingefügt nach {i}. {BRIDGE}"), 4)],
                    });
                }
                4 => to.push(Block {
                    kind: block.kind,
                    runs: vec![marked(&text_of(block), &["bold"], Some(5))],
                }),
                _ => to.push(block.clone()),
            }
        }
        to.swap(10, 400);
        let one = diff_sharing(&from, &to, usize::MAX);
        let two = diff_sharing(&from, &to, PARALLEL_BYTES);
        assert!(
            from.iter().map(|b| text_of(b).len()).sum::<usize>() > 2 * PARALLEL_BYTES,
            "long enough to be shared"
        );
        assert!(one.summary.words_added > 0 && one.summary.words_removed > 0);
        assert_eq!(one, two);
        assert_eq!(two, checked(&from, &to));
    }
}
