//! The demo document a fresh data dir starts with, and docs written by the server itself.
//!
//! Pure: builds yrs documents and encodes them; storing or serving them is someone else's job.

use yrs::types::Attrs;
use yrs::{
    Any, ClientID, Doc, Options, ReadTxn, StateVector, Text, Transact, TransactionMut, Xml,
    XmlElementPrelim, XmlFragment, XmlFragmentRef, XmlTextPrelim,
};

pub const DEMO_ID: &str = "bildungsleitbild";
pub const DEMO_TITLE: &str = "Bildungsleitbild – Entwurf";

/// A `Doc` for content the server writes itself, with a 32-bit client id so that
/// Yjs 13 clients read it.
///
/// yrs draws 53-bit client ids, but Yjs 13 draws `random.uint32()` and older lib0 releases
/// (still bundled with Yjs 13 apps and y-protocols) decode var-uints with 32-bit bitwise
/// arithmetic: a larger id is silently truncated or rejected ("Integer out of Range").
/// Content written under such an id would then be attributed to another client, or not
/// applied at all, and the documents diverge. Every id the server writes with must
/// therefore fit in 32 bits, like the ids of the clients it serves.
pub fn server_doc() -> Doc {
    // yrs' own generator (fastrand) gives a uniform 53-bit value; its low 32 bits are a
    // uniform 32-bit value, which is what Yjs 13 would pick.
    let id = ClientID::random().get() & u64::from(u32::MAX);
    Doc::with_options(Options {
        client_id: ClientID::new(id),
        ..Options::default()
    })
}

/// The demo document as one v1 update.
pub fn demo_update() -> Vec<u8> {
    let doc = server_doc();
    let fragment = doc.get_or_insert_xml_fragment("default");
    let mut txn = doc.transact_mut();
    for block in DEMO {
        write_block(&mut txn, &fragment, block);
    }
    txn.encode_state_as_update_v1(&StateVector::default())
}

/// A run of text with its marks, as Tiptap's StarterKit marks it.
enum Span {
    Plain(&'static str),
    Bold(&'static str),
    Italic(&'static str),
}

enum Block {
    Heading(i64, &'static str),
    Paragraph(&'static [Span]),
    BulletList(&'static [&'static [Span]]),
}

use Block::{BulletList, Heading, Paragraph};
use Span::{Bold, Italic, Plain};

const DEMO: &[Block] = &[
    Heading(1, DEMO_TITLE),
    Heading(2, "Präambel"),
    Paragraph(&[
        Plain("Bildung ist der Schlüssel zu Teilhabe, Selbstbestimmung und gesellschaftlichem Zusammenhalt. Mit diesem Leitbild verständigen sich der Landkreis, seine Städte und Gemeinden, Kitas, Schulen, Jugendhilfe, Kammern und freie Träger auf gemeinsame Ziele für die "),
        Bold("Bildungsregion"),
        Plain(". Es ist ein "),
        Italic("Entwurf"),
        Plain(", der im Dialog mit allen Beteiligten weiterentwickelt wird."),
    ]),
    Heading(2, "Unser Bildungsverständnis"),
    Paragraph(&[
        Plain("Wir verstehen Bildung als lebenslangen Prozess, der weit über die Schule hinausreicht. Jeder Mensch soll unabhängig von Herkunft, Geschlecht oder Beeinträchtigung die bestmöglichen Chancen erhalten. Formale, non-formale und informelle Lernorte ergänzen einander und sind für uns "),
        Bold("gleichwertig"),
        Plain("."),
    ]),
    Heading(2, "Frühe Bildung"),
    Paragraph(&[
        Plain("Die ersten Lebensjahre legen das Fundament für alle weiteren Bildungswege. Unsere Kitas und die Kindertagespflege arbeiten eng mit Eltern, Grundschulen und den Frühen Hilfen zusammen. Alltagsintegrierte Sprachförderung und ein gut begleiteter "),
        Italic("Übergang von der Kita in die Grundschule"),
        Plain(" haben für uns Vorrang."),
    ]),
    Heading(2, "Übergang Schule–Beruf"),
    Paragraph(&[
        Plain("Kein junger Mensch soll auf dem Weg in Ausbildung, Studium oder Beruf verloren gehen. Schulen, Agentur für Arbeit, Jobcenter und Jugendhilfe stimmen ihre Angebote in der Jugendberufsagentur aufeinander ab, gemeinsam mit der Industrie- und Handelskammer und der Handwerkskammer. Dafür setzen wir auf:"),
    ]),
    BulletList(&[
        &[Plain("frühe Berufsorientierung ab Klasse 7 mit Praktika in Betrieben der Region,")],
        &[
            Plain("eine verbindliche Übergabe zwischen Schule und Beratung, damit "),
            Bold("niemand durch das Raster fällt"),
            Plain(","),
        ],
        &[Plain("gezielte Begleitung für Jugendliche mit besonderem Unterstützungsbedarf.")],
    ]),
    Heading(2, "Lebenslanges Lernen"),
    Paragraph(&[
        Plain("Bildung endet nicht mit dem Schul- oder Berufsabschluss. Volkshochschulen, Bibliotheken, Musikschulen und Vereine öffnen Lernorte für alle Generationen. Besonders stärken wir die Grundbildung Erwachsener und die digitale Teilhabe älterer Menschen."),
    ]),
    Heading(2, "Zusammenarbeit in der Bildungsregion"),
    Paragraph(&[
        Plain("Die Bildungsregion lebt von verlässlicher Zusammenarbeit über Zuständigkeitsgrenzen hinweg. Ein Lenkungskreis aus Landkreis, Kommunen, Schulaufsicht und Kammern steuert die gemeinsamen Vorhaben, das Bildungsbüro koordiniert sie. Einmal im Jahr legen wir auf der "),
        Italic("Bildungskonferenz"),
        Plain(" öffentlich Rechenschaft über Fortschritte und offene Aufgaben ab."),
    ]),
];

/// Writes a block the way y-prosemirror stores the ProseMirror node: an element named after
/// the node type, node attributes as element attributes keeping their JSON type (a heading's
/// `level` is a number), and the text as one `XmlText` whose formatting attributes are the
/// marks, each valued with the mark's attrs (`{}` for bold and italic).
fn write_block(txn: &mut TransactionMut, fragment: &XmlFragmentRef, block: &Block) {
    match block {
        Heading(level, text) => {
            let heading = fragment.push_back(txn, XmlElementPrelim::empty("heading"));
            heading.insert_attribute(txn, "level", Any::from(*level));
            write_spans(txn, &heading, &[Plain(text)]);
        }
        Paragraph(spans) => {
            let paragraph = fragment.push_back(txn, XmlElementPrelim::empty("paragraph"));
            write_spans(txn, &paragraph, spans);
        }
        BulletList(items) => {
            let list = fragment.push_back(txn, XmlElementPrelim::empty("bulletList"));
            for spans in items.iter() {
                let item = list.push_back(txn, XmlElementPrelim::empty("listItem"));
                let paragraph = item.push_back(txn, XmlElementPrelim::empty("paragraph"));
                write_spans(txn, &paragraph, spans);
            }
        }
    }
}

fn write_spans(txn: &mut TransactionMut, parent: &impl XmlFragment, spans: &[Span]) {
    let text = parent.push_back(txn, XmlTextPrelim::new(""));
    for span in spans {
        let (s, mark) = match span {
            Plain(s) => (s, None),
            Bold(s) => (s, Some("bold")),
            Italic(s) => (s, Some("italic")),
        };
        let mut attrs = Attrs::new();
        if let Some(mark) = mark {
            attrs.insert(mark.into(), Any::Map(Default::default()));
        }
        let at = text.len(txn);
        text.insert_with_attributes(txn, at, s, attrs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{render, Format};
    use yrs::updates::decoder::Decode;
    use yrs::Update;

    const SECTIONS: [&str; 6] = [
        "Präambel",
        "Unser Bildungsverständnis",
        "Frühe Bildung",
        "Übergang Schule–Beruf",
        "Lebenslanges Lernen",
        "Zusammenarbeit in der Bildungsregion",
    ];

    #[test]
    fn server_doc_ids_fit_in_32_bits() {
        for _ in 0..1000 {
            assert!(server_doc().client_id().get() <= u64::from(u32::MAX));
        }
    }

    #[test]
    fn demo_update_applies_and_renders_every_section() {
        let update = Update::decode_v1(&demo_update()).expect("demo update decodes");
        let doc = Doc::new();
        doc.transact_mut()
            .apply_update(update)
            .expect("demo update applies");
        let md = render(&doc, Format::Markdown);
        assert!(md.starts_with("# Bildungsleitbild – Entwurf\n\n## Präambel\n\n"));
        for section in SECTIONS {
            assert!(md.contains(&format!("\n## {section}\n")), "{section}: {md}");
        }
        assert!(md.contains("die **Bildungsregion**. Es ist ein *Entwurf*, der"));
        assert!(md.contains(
            "\n- eine verbindliche Übergabe zwischen Schule und Beratung, damit \
             **niemand durch das Raster fällt**,\n"
        ));
        let html = render(&doc, Format::Html);
        assert!(html.contains("<h2>Übergang Schule–Beruf</h2>\n"));
        assert_eq!(html.matches("<li>").count(), 3);
    }

    #[test]
    fn demo_update_only_uses_32_bit_client_ids() {
        let update = Update::decode_v1(&demo_update()).expect("demo update decodes");
        let sv = update.state_vector();
        assert!(!sv.is_empty());
        for (client, _) in sv.iter() {
            assert!(client.get() <= u64::from(u32::MAX), "client id {client}");
        }
    }
}
