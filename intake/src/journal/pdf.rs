//! The record as a PDF/A-2b document (issue 31), A4, in IBM Plex Sans (the design system's
//! typeface, SIL Open Font License, `static/fonts/`), embedded so that æ, ø and å render
//! and `pdftotext` finds every word. krilla writes and checks the PDF/A rules (a rule
//! broken is an error, never a quietly wrong file); skrifa, krilla's own font reader,
//! measures words so lines wrap inside the margins. A character the font lacks (an emoji,
//! a control character a sender wrote) is drawn as "?" rather than as a blank box, which
//! PDF/A forbids; the original text is in the package's metadata hash and the intake.

use std::sync::Arc;

use krilla::configure::{Archival, ConfigurationBuilder};
use krilla::geom::{PathBuilder, Point, Size};
use krilla::metadata::{DateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::Stroke;
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};
use skrifa::instance::LocationRef;
use skrifa::MetadataProvider;

use super::record::{Block, Record};

static REGULAR: &[u8] = include_bytes!("../../static/fonts/IBMPlexSans-Regular.ttf");
static BOLD: &[u8] = include_bytes!("../../static/fonts/IBMPlexSans-Bold.ttf");

/// A4 in points, and the text block inside the margins.
const PAGE: (f32, f32) = (595.28, 841.89);
const MARGIN: f32 = 56.0;
const BOTTOM: f32 = PAGE.1 - 64.0;
const WIDTH: f32 = PAGE.0 - 2.0 * MARGIN;
const LABEL: f32 = 150.0;
const BODY: f32 = 10.0;
const LEADING: f32 = 14.0;

/// Who made the document and when, for its first page, footer and metadata.
pub struct Made<'a> {
    pub reference: &'a str,
    pub at: jiff::Timestamp,
    pub by: &'a str,
}

/// One typeface: krilla's font to draw with, and skrifa's view of the same bytes to
/// measure with.
struct Face {
    font: Font,
    metrics: skrifa::metrics::GlyphMetrics<'static>,
    charmap: skrifa::charmap::Charmap<'static>,
}

impl Face {
    fn new(bytes: &'static [u8]) -> Result<Face, String> {
        let font = Font::new(Arc::new(bytes.to_vec()).into(), 0)
            .ok_or("the embedded typeface did not load")?;
        let r = skrifa::FontRef::new(bytes).map_err(|e| format!("typeface: {e}"))?;
        Ok(Face {
            font,
            metrics: r.glyph_metrics(skrifa::instance::Size::new(1.0), LocationRef::default()),
            charmap: r.charmap(),
        })
    }

    /// Width of `text` at `size` points, from the glyphs' advances (krilla's shaping may
    /// kern a little tighter, never wider in this typeface's Latin).
    fn width(&self, text: &str, size: f32) -> f32 {
        let em: f32 = text
            .chars()
            .filter_map(|c| self.charmap.map(c))
            .filter_map(|g| self.metrics.advance_width(g))
            .sum();
        em * size
    }

    /// `text` with every character the typeface cannot draw replaced.
    fn drawable(&self, text: &str) -> String {
        text.chars()
            .filter(|c| *c != '\r')
            .map(|c| match c {
                '\t' => ' ',
                c if self.charmap.map(c).is_some() && !c.is_control() => c,
                _ => '?',
            })
            .collect()
    }

    /// `text` broken into lines no wider than `width`: at spaces, and inside a word only
    /// when the word alone is too wide. Line breaks in `text` are kept.
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in self.drawable(text).split('\n') {
            let mut line = String::new();
            for word in paragraph.split(' ') {
                let candidate = match line.is_empty() {
                    true => word.to_string(),
                    false => format!("{line} {word}"),
                };
                if self.width(&candidate, size) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                for c in word.chars() {
                    line.push(c);
                    if self.width(&line, size) > width {
                        line.pop();
                        lines.push(std::mem::replace(&mut line, c.to_string()));
                    }
                }
            }
            lines.push(line);
        }
        lines
    }
}

/// What is drawn where: laid out first, so the footer can say "side 2 af 5".
enum Op {
    Text {
        x: f32,
        y: f32,
        bold: bool,
        size: f32,
        text: String,
    },
    Rule(f32),
}

struct Layout<'a> {
    faces: &'a [Face; 2],
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Layout<'_> {
    fn room(&mut self, height: f32) {
        if self.y + height > BOTTOM {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn text(&mut self, x: f32, bold: bool, size: f32, text: String) {
        let y = self.y + size;
        let page = self.pages.last_mut().expect("a page is started first");
        page.push(Op::Text {
            x,
            y,
            bold,
            size,
            text,
        });
    }

    /// Lines of `text` at `x`, wrapped to `width`, each on the page it fits.
    fn lines(&mut self, x: f32, width: f32, bold: bool, text: &str) {
        for line in self.faces[bold as usize].wrap(text, BODY, width) {
            self.room(LEADING);
            self.text(x, bold, BODY, line);
            self.y += LEADING;
        }
    }

    fn heading(&mut self, text: &str) {
        self.room(LEADING * 4.0);
        self.y += 10.0;
        self.text(MARGIN, true, 13.0, text.to_string());
        self.y += 20.0;
    }

    fn block(&mut self, block: &Block) {
        match block {
            Block::Field(label, value) => {
                let (labels, values) = (
                    self.faces[1].wrap(label, BODY, LABEL - 8.0),
                    self.faces[0].wrap(value, BODY, WIDTH - LABEL),
                );
                for i in 0..labels.len().max(values.len()) {
                    self.room(LEADING);
                    if let Some(l) = labels.get(i) {
                        self.text(MARGIN, true, BODY, l.clone());
                    }
                    if let Some(v) = values.get(i) {
                        self.text(MARGIN + LABEL, false, BODY, v.clone());
                    }
                    self.y += LEADING;
                }
            }
            Block::Text(text) => self.lines(MARGIN, WIDTH, false, text),
            Block::Line(text) => self.lines(MARGIN, WIDTH, false, &format!("– {text}")),
        }
        self.y += 3.0;
    }
}

/// The record as PDF/A-2b bytes.
pub fn render(record: &Record, made: &Made) -> Result<Vec<u8>, String> {
    let faces = [Face::new(REGULAR)?, Face::new(BOLD)?];
    let mut l = Layout {
        faces: &faces,
        pages: vec![Vec::new()],
        y: MARGIN,
    };
    l.text(MARGIN, true, 18.0, record.title.clone());
    l.y += 28.0;
    let line = format!(
        "Journalpakke fra modtag, dannet {} af {}",
        modtag_router::deadline::dated(made.at),
        made.by
    );
    l.lines(MARGIN, WIDTH, false, &line);
    l.pages[0].push(Op::Rule(l.y + 4.0));
    l.y += 8.0;
    for section in &record.sections {
        l.heading(section.heading);
        for block in &section.blocks {
            l.block(block);
        }
    }
    draw(&faces, l.pages, made, &record.title)
}

fn draw(
    faces: &[Face; 2],
    pages: Vec<Vec<Op>>,
    made: &Made,
    title: &str,
) -> Result<Vec<u8>, String> {
    let configuration = ConfigurationBuilder::new()
        .with_archival_validator(Archival::A2_B)
        .finish()
        .map_err(|e| format!("PDF/A configuration: {e:?}"))?;
    let mut doc = Document::new_with(SerializeSettings {
        configuration,
        enable_tagging: false,
        ..Default::default()
    });
    let total = pages.len();
    for (n, ops) in pages.into_iter().enumerate() {
        let size = Size::from_wh(PAGE.0, PAGE.1).ok_or("page size")?;
        let mut page = doc.start_page_with(PageSettings::new(size));
        let mut surface = page.surface();
        let footer = format!("{} · side {} af {total}", made.reference, n + 1);
        let footer = Op::Text {
            x: MARGIN,
            y: PAGE.1 - 36.0,
            bold: false,
            size: 8.0,
            text: footer,
        };
        for op in ops.iter().chain([&footer]) {
            match op {
                Op::Text {
                    x,
                    y,
                    bold,
                    size,
                    text,
                } => surface.draw_text(
                    Point::from_xy(*x, *y),
                    faces[*bold as usize].font.clone(),
                    *size,
                    text,
                    false,
                    TextDirection::Auto,
                ),
                Op::Rule(y) => {
                    let mut path = PathBuilder::new();
                    path.move_to(MARGIN, *y);
                    path.line_to(PAGE.0 - MARGIN, *y);
                    if let Some(path) = path.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            width: 0.5,
                            ..Default::default()
                        }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                        surface.set_fill(Some(Default::default()));
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }
    doc.set_metadata(metadata(made, title));
    doc.finish()
        .map_err(|e| format!("the PDF could not be written: {e:?}"))
}

fn metadata(made: &Made, title: &str) -> Metadata {
    let utc = made.at.to_zoned(jiff::tz::TimeZone::UTC);
    let date = DateTime::new(utc.year() as u16)
        .month(utc.month() as u8)
        .day(utc.day() as u8)
        .hour(utc.hour() as u8)
        .minute(utc.minute() as u8)
        .second(utc.second() as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0);
    Metadata::new()
        .title(title.to_string())
        .language("da".into())
        .creator("modtag".into())
        .producer("modtag".into())
        .creation_date(date)
        .document_id(made.reference.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wrap_inside_the_margins_and_keep_every_word() {
        let face = Face::new(REGULAR).unwrap();
        let text = "Drengen fortæller, at han ikke tør gå hjem efter skole. ".repeat(12);
        let lines = face.wrap(&text, BODY, WIDTH);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| face.width(l, BODY) <= WIDTH));
        assert_eq!(
            lines.join(" ").split_whitespace().count(),
            text.split_whitespace().count()
        );
    }

    #[test]
    fn a_word_wider_than_the_line_is_broken_and_undrawable_characters_replaced() {
        let face = Face::new(REGULAR).unwrap();
        let lines = face.wrap(&"x".repeat(400), BODY, WIDTH);
        assert!(lines.len() > 1 && lines.iter().all(|l| face.width(l, BODY) <= WIDTH));
        assert_eq!(face.drawable("æøå 😀\u{7}"), "æøå ??");
    }
}
