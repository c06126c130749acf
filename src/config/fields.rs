//! Reads the field names serde's derive generated for a struct, so unknown-key checks and
//! "did you mean" suggestions always match what the deserializer accepts.

use serde::de::{self, DeserializeOwned, Visitor};
use std::fmt;

#[derive(Debug)]
struct Captured(Option<&'static [&'static str]>);

impl fmt::Display for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field capture")
    }
}

impl std::error::Error for Captured {}

impl de::Error for Captured {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Captured(None)
    }
}

/// A deserializer that answers no data: it only records the field list a derived
/// `Deserialize` impl announces through `deserialize_struct`.
struct Capture;

impl<'de> de::Deserializer<'de> for Capture {
    type Error = Captured;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Captured> {
        Err(Captured(None))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Captured> {
        Err(Captured(Some(fields)))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The keys a derived struct accepts (empty for types that are not plain structs).
pub(crate) fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    match T::deserialize(Capture) {
        Err(Captured(Some(fields))) => fields,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        alpha: u32,
        #[serde(rename = "beta_key")]
        beta: Option<String>,
    }

    #[test]
    fn captures_serde_field_names() {
        assert_eq!(fields_of::<Sample>(), &["alpha", "beta_key"]);
        assert!(fields_of::<u32>().is_empty());
    }
}
