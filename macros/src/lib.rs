//! Derive macros of beamish.
//!
//! `#[derive(Message)]` gives a message type the stable name it goes by on
//! the wire, so that nodes built from different versions of a program (or
//! with different compilers) agree on what a message is. The name is
//! required and is the only identity a message has between nodes: renaming
//! or moving the Rust type changes nothing as long as the name stays.
//!
//! Use it through `beamish` or `beamish_core`, which re-export it beside
//! the `Message` trait.
//!
//! # Examples
//!
//! ```
//! use beamish_core::Message;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Message)]
//! #[message(name = "jobs.Dispatch")]
//! struct Dispatch {
//!     job: u64,
//! }
//!
//! assert_eq!(<Dispatch as Message>::NAME, "jobs.Dispatch");
//! ```

use proc_macro::TokenStream;
use proc_macro2::Span;
use proc_macro_crate::{crate_name, FoundCrate};
use quote::quote;
use syn::{parse_macro_input, DeriveInput, Error, LitStr};

/// The longest wire name accepted, in bytes.
const MAX_NAME: usize = 255;

/// Implements `Message` for a type, with the wire name given by
/// `#[message(name = "...")]`.
///
/// The name must be 1 to 255 bytes of printable ASCII. Generic types are
/// refused: every instance would share one name; implement `Message` by
/// hand for each instance instead.
#[proc_macro_derive(Message, attributes(message))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

fn expand(input: &DeriveInput) -> Result<proc_macro2::TokenStream, Error> {
    if !input.generics.params.is_empty() {
        return Err(Error::new_spanned(
            &input.generics,
            "a generic type cannot derive Message: every instance would share one wire \
             name; implement Message by hand for each instance",
        ));
    }
    let name = wire_name(input)?;
    let core = core_path();
    let ident = &input.ident;
    Ok(quote! {
        impl #core::Message for #ident {
            const NAME: &'static str = #name;
        }
    })
}

/// The name given by `#[message(name = "...")]`, checked.
fn wire_name(input: &DeriveInput) -> Result<LitStr, Error> {
    let mut found: Option<LitStr> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("message")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                if found.is_some() {
                    return Err(meta.error("the wire name is given twice"));
                }
                found = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("unknown key: #[message(...)] takes `name = \"...\"`"))
            }
        })?;
    }
    let Some(name) = found else {
        return Err(Error::new(
            Span::call_site(),
            "a Message needs a stable wire name: add #[message(name = \"area.TypeName\")]",
        ));
    };
    let text = name.value();
    if text.is_empty() || text.len() > MAX_NAME {
        return Err(Error::new_spanned(
            &name,
            format!("a wire name is 1 to {MAX_NAME} bytes long"),
        ));
    }
    if let Some(bad) = text.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(Error::new_spanned(
            &name,
            format!("a wire name is printable ASCII without spaces; {bad:?} is not"),
        ));
    }
    Ok(name)
}

/// The path to the crate that defines `Message`, as the deriving crate
/// names it: `beamish_core`, or the `beamish` facade that re-exports it.
fn core_path() -> proc_macro2::TokenStream {
    for package in ["beamish-core", "beamish"] {
        match crate_name(package) {
            Ok(FoundCrate::Name(name)) => {
                let ident = syn::Ident::new(&name, Span::call_site());
                return quote!(::#ident);
            }
            // beamish-core's own tests and examples, through
            // `extern crate self as beamish_core`.
            Ok(FoundCrate::Itself) => {
                let ident = syn::Ident::new(&package.replace('-', "_"), Span::call_site());
                return quote!(::#ident);
            }
            Err(_) => {}
        }
    }
    quote!(::beamish_core)
}
