//! Step payloads that accept a short scalar form (`kill_site: A`) or a mapping (`{site: A, marker: m}`).
//! The macro keeps both forms location-aware and gives the schema an `anyOf` of the two.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, IntoDeserializer};
use serde::Deserialize;

/// What a short-or-long payload was written as.
pub(crate) enum ShortOrLong<S, L> {
    Short(S),
    Long(L),
}

impl<'de, S: Deserialize<'de>, L: Deserialize<'de>> Deserialize<'de> for ShortOrLong<S, L> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<S, L>(PhantomData<(S, L)>);
        impl<'de, S: Deserialize<'de>, L: Deserialize<'de>> de::Visitor<'de> for V<S, L> {
            type Value = ShortOrLong<S, L>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a short form (a plain value such as `A`) or a mapping")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                S::deserialize(v.to_owned().into_deserializer()).map(ShortOrLong::Short)
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
            $sdoc:literal $sfield:ident: $sty:ty,
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
                let sp = serde_saphyr::Spanned::<$crate::short_form::ShortOrLong<$sty, $long>>::deserialize(d)?;
                Ok(match sp.value {
                    $crate::short_form::ShortOrLong::Short(v) => $name::short($crate::span::Spanned::with_span(
                        v,
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
