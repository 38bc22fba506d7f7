//! Masks that cannot change a value of the column's type: `round` to as
//! many decimal places as the column holds (or more), `round` of an
//! integer to zero or more places, `truncate` of a `date` to a day or an
//! hour. Such a mask hides nothing, so `pgward check --database` rejects it
//! where it meets a column of that type.

use crate::mask::{DateUnit, MaskFn};

/// A column as the server's catalog describes it.
#[derive(Clone, Debug)]
pub struct ColumnType {
    /// `pg_type.typname` of the column (for a domain, of its base type).
    pub type_name: String,
    /// `pg_attribute.atttypmod` (-1 when the type has no modifier).
    pub typmod: i32,
    /// `format_type(atttypid, atttypmod)`, for messages.
    pub display: String,
}

/// Why `f` cannot change any value of `col`, if it cannot.
pub fn ineffective(f: &MaskFn, col: &ColumnType) -> Option<String> {
    match f {
        MaskFn::Round { digits } => {
            let places = match col.type_name.as_str() {
                "int2" | "int4" | "int8" => 0,
                "numeric" if col.typmod >= 4 => (col.typmod - 4) & 0xffff,
                _ => return None,
            };
            (*digits >= places).then(|| {
                format!(
                    "round: {digits} cannot change a {} value, which has {places} decimal place{}",
                    col.display,
                    if places == 1 { "" } else { "s" }
                )
            })
        }
        MaskFn::Truncate(unit @ (DateUnit::Day | DateUnit::Hour)) if col.type_name == "date" => {
            Some(format!(
                "truncate: {} cannot change a date, which has no time of day (use month or year)",
                match unit {
                    DateUnit::Day => "day",
                    _ => "hour",
                }
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, typmod: i32, display: &str) -> ColumnType {
        ColumnType {
            type_name: name.into(),
            typmod,
            display: display.into(),
        }
    }

    #[test]
    fn round_and_truncate_that_change_nothing() {
        // numeric(10,2): typmod is ((10 << 16) | 2) + 4.
        let money = col("numeric", ((10 << 16) | 2) + 4, "numeric(10,2)");
        assert!(ineffective(&MaskFn::Round { digits: 2 }, &money).is_some());
        assert!(ineffective(&MaskFn::Round { digits: 5 }, &money).is_some());
        assert!(ineffective(&MaskFn::Round { digits: 1 }, &money).is_none());
        assert!(
            ineffective(&MaskFn::Round { digits: 5 }, &col("numeric", -1, "numeric")).is_none()
        );
        assert!(ineffective(&MaskFn::Round { digits: 0 }, &col("int4", -1, "integer")).is_some());
        assert!(ineffective(&MaskFn::Round { digits: -2 }, &col("int4", -1, "integer")).is_none());
        let date = col("date", -1, "date");
        assert!(ineffective(&MaskFn::Truncate(DateUnit::Hour), &date).is_some());
        assert!(ineffective(&MaskFn::Truncate(DateUnit::Day), &date).is_some());
        assert!(ineffective(&MaskFn::Truncate(DateUnit::Month), &date).is_none());
        let ts = col("timestamptz", -1, "timestamp with time zone");
        assert!(ineffective(&MaskFn::Truncate(DateUnit::Hour), &ts).is_none());
        assert!(ineffective(&MaskFn::Redact, &date).is_none());
    }
}
