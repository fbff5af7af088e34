//! The Atom 1.0 feed of adoptions (`/archive.atom`, RFC 4287): one entry per adopted
//! text, newest first, each naming its adopting body, its decision date and the SHA-256
//! of its Markdown.
//!
//! Pure: takes entries and the server's public address, returns the XML. Every value from
//! an entry is escaped with [`escape`], which also keeps out the characters XML forbids,
//! so a hostile title cannot break the feed.

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use super::entry::Entry;
use super::page::{escape, format_date, Lang, FEED_PATH};

/// `updated` of a feed without entries: a fixed time, so the empty feed never changes.
const EPOCH: &str = "1970-01-01T00:00:00Z";

/// The feed of `entries` (archive order, oldest first), with links under `base_url`
/// (`https://leitbild.example.org`, a trailing `/` is ignored).
pub fn atom(entries: &[Entry], base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let updated = entries
        .iter()
        .filter_map(|e| moment(&e.adopted_at))
        .max()
        .map_or_else(|| EPOCH.to_owned(), format_moment);

    let mut xml = String::new();
    let _ = write!(
        xml,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"de\">\n\
         <id>{base}/archive</id>\n\
         <title>Beschlossene Texte</title>\n\
         <subtitle>Texte, die ein Gremium beschlossen hat, in der beschlossenen Fassung</subtitle>\n\
         <updated>{updated}</updated>\n\
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{base}{FEED_PATH}\"/>\n\
         <link rel=\"alternate\" type=\"text/html\" href=\"{base}/archive\"/>\n\
         <generator>Leitbild</generator>\n",
        base = escape(base),
    );
    for entry in entries.iter().rev() {
        let url = format!("{}/archive/{}", escape(base), escape(&entry.id));
        let updated = moment(&entry.adopted_at).map_or_else(|| EPOCH.to_owned(), format_moment);
        let _ = write!(
            xml,
            "<entry>\n<id>{url}</id>\n<title>{title}</title>\n<updated>{updated}</updated>\n\
             <author><name>{by}</name></author>\n\
             <link rel=\"alternate\" type=\"text/html\" href=\"{url}\"/>\n\
             <summary>Beschlossen von {by} am {date}. {edition}. Fassung von „{doc}“. \
             SHA-256 der Markdown-Fassung: {sha}</summary>\n</entry>\n",
            title = escape(&entry.title),
            by = escape(&entry.adopted_by),
            date = escape(&format_date(&entry.decided_on, Lang::De)),
            edition = entry.edition,
            doc = escape(&entry.doc_title),
            sha = escape(&entry.sha256),
        );
    }
    xml.push_str("</feed>\n");
    xml
}

/// An RFC 3339 time; `None` if `text` is not one.
fn moment(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

/// The time in UTC as RFC 3339, as Atom's date constructs want it.
fn format_moment(moment: OffsetDateTime) -> String {
    moment
        .to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| EPOCH.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::entry::{Adoption, Draft, Frozen};

    fn sealed(titles: &[(&str, &str)]) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        for (i, (title, adopted_at)) in titles.iter().enumerate() {
            let n = i as u64 + 1;
            let draft = Draft {
                adoption: Adoption {
                    title: (*title).into(),
                    adopted_by: "Kreistag & Ausschuss".into(),
                    decided_on: "2026-09-29".into(),
                    note: None,
                },
                adopted_at: (*adopted_at).into(),
                adopter: "p-1".into(),
                adopter_name: "Anna".into(),
                doc: "bildung".into(),
                doc_title: "Leitbild <Bildung>".into(),
                version: format!("v{n}"),
                frozen: Frozen {
                    markdown: format!("# {title}\n"),
                    html: String::new(),
                    text: String::new(),
                    state: String::new(),
                },
                state: Vec::new(),
            };
            let (entry, _) = draft.seal(n, n, entries.last());
            entries.push(entry);
        }
        entries
    }

    #[test]
    fn one_entry_per_adoption_newest_first_with_links_and_hash() {
        let entries = sealed(&[
            ("Erste Fassung", "2026-01-10T09:00:00Z"),
            ("Zweite Fassung", "2026-10-01T08:00:00Z"),
        ]);
        let xml = atom(&entries, "https://leitbild.example.org/");
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\""));
        assert!(xml.trim_end().ends_with("</feed>"));
        assert_eq!(xml.matches("<entry>").count(), 2);
        assert_eq!(xml.matches("</entry>").count(), 2);
        assert!(xml.find("Zweite Fassung").unwrap() < xml.find("Erste Fassung").unwrap());
        // The feed's updated is the newest adoption, before any entry.
        let feed_head = &xml[..xml.find("<entry>").unwrap()];
        assert!(feed_head.contains("<updated>2026-10-01T08:00:00Z</updated>"));
        assert!(feed_head.contains("<title>Beschlossene Texte</title>"));
        assert!(feed_head.contains("rel=\"self\" type=\"application/atom+xml\" href=\"https://leitbild.example.org/archive.atom\""));
        assert!(feed_head.contains(
            "rel=\"alternate\" type=\"text/html\" href=\"https://leitbild.example.org/archive\""
        ));
        assert!(xml.contains("<id>https://leitbild.example.org/archive/a2</id>"));
        assert!(xml.contains("href=\"https://leitbild.example.org/archive/a1\""));
        assert!(xml.contains("<updated>2026-01-10T09:00:00Z</updated>"));
        assert!(xml.contains("Beschlossen von Kreistag &amp; Ausschuss am 29.09.2026."));
        assert!(xml.contains(&entries[1].sha256));
        assert_eq!(xml.matches("<updated>").count(), 3);
    }

    #[test]
    fn hostile_titles_cannot_break_the_xml() {
        let entries = sealed(&[("<script>x</script> ]]> &amp; \u{0}", "2026-10-01T08:00:00Z")]);
        let xml = atom(&entries, "https://example.org");
        assert!(!xml.contains("<script>"));
        assert!(
            xml.contains("<title>&lt;script&gt;x&lt;/script&gt; ]]&gt; &amp;amp; \u{FFFD}</title>")
        );
        assert!(xml.contains("„Leitbild &lt;Bildung&gt;“"));
        assert!(!xml.contains('\u{0}'));
        // Every tag opened is closed: no stray markup from a value.
        assert_eq!(xml.matches('<').count(), xml.matches('>').count());
    }

    #[test]
    fn an_empty_feed_is_valid_and_fixed() {
        let xml = atom(&[], "https://example.org");
        assert!(xml.contains("<updated>1970-01-01T00:00:00Z</updated>"));
        assert!(!xml.contains("<entry>"));
        assert!(xml.contains("<id>https://example.org/archive</id>"));
        assert_eq!(xml, atom(&[], "https://example.org"));
    }

    #[test]
    fn times_with_an_offset_are_given_in_utc() {
        let entries = sealed(&[("T", "2026-10-01T10:00:00+02:00")]);
        assert!(atom(&entries, "https://example.org")
            .contains("<updated>2026-10-01T08:00:00Z</updated>"));
    }
}
