//! The printed result: one figure per line, with its unit, so a run can be pasted into
//! docs/performance.md as it is.

use std::fmt::Display;

/// A titled list of figures.
pub struct Table {
    title: String,
    rows: Vec<(String, String, String)>,
}

impl Table {
    pub fn new(title: impl Into<String>) -> Self {
        Table {
            title: title.into(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, figure: impl Into<String>, value: impl Display, unit: &str) {
        self.rows
            .push((figure.into(), value.to_string(), unit.to_string()));
    }

    pub fn print(&self) {
        let name_width = self.rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let value_width = self.rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        println!();
        println!("== {} ==", self.title);
        for (figure, value, unit) in &self.rows {
            println!("{figure:<name_width$}  {value:>value_width$} {unit}");
        }
    }
}

/// Milliseconds with three decimals, from microseconds.
pub fn ms(us: u32) -> String {
    format!("{:.3}", us as f64 / 1_000.0)
}

/// Mebibytes with one decimal, from kibibytes.
pub fn mib_from_kib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}
