//! Step payloads that accept a short scalar form (`kill_site: A`) or a mapping (`{site: A, marker: m}`).
//! The macro keeps both forms location-aware and gives the schema an `anyOf` of the two.

use std::fmt;
use std::marker::PhantomData;

use serde::de;
use serde::Deserialize;

/// What a short-or-long payload was written as. The short form stays text until its
/// location is known, so a bad value is reported where it is written, not at the step.
pub(crate) enum ShortOrLong<L> {
    Short(String),
    Long(L),
}

/// Separates a message from the `LINE:COL` it applies to, in custom errors whose location
/// serde-saphyr cannot know (it reports the enclosing step instead).
pub(crate) const LOC_TAG: &str = "\u{1}@";

/// Converts short-form text into its type; a failure becomes an error of the outer
/// deserializer that carries the text's own location after [`LOC_TAG`].
pub(crate) fn convert_short<'de, S: Deserialize<'de>, E: de::Error>(
    text: String,
    what: &str,
    loc: &serde_saphyr::Location,
) -> Result<S, E> {
    S::deserialize(de::value::StringDeserializer::<de::value::Error>::new(text)).map_err(|e| {
        let msg = e.to_string();
        let msg = match msg.strip_prefix("unknown variant `") {
            Some(rest) => {
                let (variant, tail) = rest.split_once('`').unwrap_or((rest, ""));
                let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
                match crate::suggest::closest(variant, expected.iter().copied()) {
                    Some(c) => format!("unknown {what} `{variant}`; did you mean `{c}`?"),
                    None => format!(
                        "unknown {what} `{variant}`; expected one of {}",
                        expected
                            .iter()
                            .map(|x| format!("`{x}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            }
            None => msg,
        };
        E::custom(format!("{msg}{LOC_TAG}{}:{}", loc.line(), loc.column()))
    })
}

impl<'de, L: Deserialize<'de>> Deserialize<'de> for ShortOrLong<L> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<L>(PhantomData<L>);
        impl<'de, L: Deserialize<'de>> de::Visitor<'de> for V<L> {
            type Value = ShortOrLong<L>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a short form (a plain value such as `A`) or a mapping")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ShortOrLong::Short(v.to_owned()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                L::deserialize(de::value::MapAccessDeserializer::new(map)).map(ShortOrLong::Long)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Defines a payload struct with a short form: `short FIELD: TYPE` plus optional fields.
macro_rules! short_payload {
    (
        $(#[$meta:meta])*
        pub struct $name:ident / $long:ident {
            $sdoc:literal $sfield:ident: $sty:ty as $what:literal,
            $( $fdoc:literal $f:ident : $fty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        pub struct $name {
            #[doc = $sdoc]
            pub $sfield: $crate::span::Spanned<$sty>,
            $(
                #[doc = $fdoc]
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $f: Option<$fty>,
            )*
        }

        $(#[$meta])*
        #[derive(serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        struct $long {
            #[doc = $sdoc]
            $sfield: $crate::span::Spanned<$sty>,
            $(
                #[doc = $fdoc]
                #[serde(default)]
                $f: Option<$fty>,
            )*
        }

        impl $name {
            /// Builds the payload from its short form alone.
            pub fn short(value: $crate::span::Spanned<$sty>) -> Self {
                $name { $sfield: value, $( $f: None, )* }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let sp = serde_saphyr::Spanned::<$crate::short_form::ShortOrLong<$long>>::deserialize(d)?;
                Ok(match sp.value {
                    $crate::short_form::ShortOrLong::Short(v) => $name::short($crate::span::Spanned::with_span(
                        $crate::short_form::convert_short::<$sty, D::Error>(v, $what, &sp.referenced)?,
                        $crate::span::Span::from_location(&sp.referenced),
                    )),
                    $crate::short_form::ShortOrLong::Long(l) => $name { $sfield: l.$sfield, $( $f: l.$f, )* },
                })
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let short = g.subschema_for::<$sty>();
                let long = <$long as schemars::JsonSchema>::json_schema(g);
                schemars::json_schema!({ "anyOf": [short, long] })
            }
        }
    };
}

pub(crate) use short_payload;
