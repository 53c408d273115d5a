//! Procedural macros of chanos. Use them through the `chanos` crate:
//! `#[chanos::main]` and `chanos::select!`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{parse_macro_input, Expr, Ident, ItemFn, Pat, Token};

/// Marks the app's `async fn main`. It runs as the task named "main"; the
/// program exits when it returns (status 0, or 1 for an `Err`), with status 2
/// and a report on deadlock, and with status 101 when a task panics.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        let msg = "#[chanos::main] takes no arguments";
        return syn::Error::new(Span::call_site(), msg)
            .to_compile_error()
            .into();
    }
    let mut function = parse_macro_input!(item as ItemFn);
    if function.sig.asyncness.is_none() {
        let msg = "#[chanos::main] goes on an `async fn main()`";
        return syn::Error::new_spanned(function.sig.fn_token, msg)
            .to_compile_error()
            .into();
    }
    if !function.sig.inputs.is_empty() {
        let msg = "main takes no parameters: read arguments with chanos::env::args()";
        return syn::Error::new_spanned(&function.sig.inputs, msg)
            .to_compile_error()
            .into();
    }
    function.sig.ident = Ident::new("__chanos_app_main", function.sig.ident.span());
    quote! {
        #function

        #[cfg(not(target_os = "none"))]
        fn main() {
            ::chanos::__private::start(__chanos_app_main())
        }

        #[cfg(target_os = "none")]
        #[no_mangle]
        fn chanos_app_main() -> ! {
            ::chanos::__private::start(__chanos_app_main())
        }
    }
    .into()
}

enum ArmKind {
    Op { pat: Box<Pat>, expr: Box<Expr> },
    Default,
}

struct Arm {
    kind: ArmKind,
    body: Expr,
}

struct SelectInput {
    arms: Vec<Arm>,
}

impl Parse for SelectInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut arms = Vec::new();
        while !input.is_empty() {
            let kind = if input.peek(Ident) && input.peek2(Token![=>]) {
                let ident: Ident = input.parse()?;
                if ident != "default" {
                    return Err(syn::Error::new(
                        ident.span(),
                        "expected `pattern = operation` or `default`",
                    ));
                }
                ArmKind::Default
            } else {
                let pat = Box::new(Pat::parse_single(input)?);
                input.parse::<Token![=]>()?;
                let expr = Box::new(input.parse()?);
                ArmKind::Op { pat, expr }
            };
            input.parse::<Token![=>]>()?;
            let body: Expr = input.parse()?;
            let is_block = matches!(body, Expr::Block(_));
            if input.is_empty() {
            } else if is_block {
                let _ = input.parse::<Option<Token![,]>>()?;
            } else {
                input.parse::<Token![,]>()?;
            }
            arms.push(Arm { kind, body });
        }
        Ok(SelectInput { arms })
    }
}

/// Waits on several channel operations and runs the arm of the one that
/// completes; see `chanos::select` for the rules. Must be used in async code.
///
/// ```text
/// select! {
///     value = rx.recv() => ...,            // value: Option<T>, None when closed
///     result = tx.send(v) => ...,          // result: Result<(), SendError<T>>
///     _ = chanos::time::after(d) => ...,   // a timeout
///     default => ...,                      // optional: do not wait
/// }
/// ```
#[proc_macro]
pub fn select(input: TokenStream) -> TokenStream {
    let SelectInput { arms } = parse_macro_input!(input as SelectInput);
    let defaults: Vec<_> = arms
        .iter()
        .filter(|a| matches!(a.kind, ArmKind::Default))
        .collect();
    if defaults.len() > 1 {
        return syn::Error::new(Span::call_site(), "select! takes at most one `default` arm")
            .to_compile_error()
            .into();
    }
    let ops: Vec<_> = arms
        .iter()
        .filter_map(|a| match &a.kind {
            ArmKind::Op { pat, expr } => Some((pat, expr, &a.body)),
            ArmKind::Default => None,
        })
        .collect();
    if ops.is_empty() {
        return syn::Error::new(
            Span::call_site(),
            "select! needs at least one channel operation",
        )
        .to_compile_error()
        .into();
    }
    if ops.len() > 64 {
        return syn::Error::new(Span::call_site(), "select! takes at most 64 arms")
            .to_compile_error()
            .into();
    }
    let names: Vec<Ident> = (0..ops.len())
        .map(|i| format_ident!("__chanos_arm{}", i, span = Span::mixed_site()))
        .collect();
    let lets = ops.iter().zip(&names).map(|((_, expr, _), name)| {
        quote! { let mut #name = ::chanos::select::IntoArm::into_arm(#expr); }
    });
    let refs = names
        .iter()
        .map(|name| quote! { &mut #name as &mut dyn ::chanos::select::ErasedArm });
    let branches = ops
        .iter()
        .zip(&names)
        .enumerate()
        .map(|(i, ((pat, _, body), name))| {
            quote! {
                ::core::option::Option::Some(#i) => {
                    let #pat = ::chanos::select::SelectArm::take_output(&mut #name);
                    #body
                }
            }
        });
    let has_default = !defaults.is_empty();
    let default_branch: TokenStream2 = match defaults.first() {
        Some(arm) => {
            let body = &arm.body;
            quote! { ::core::option::Option::None => { #body } }
        }
        None => quote! {},
    };
    let choice = Ident::new("__chanos_choice", Span::mixed_site());
    quote! {{
        #(#lets)*
        let #choice = ::chanos::select::select([#(#refs),*], #has_default).await;
        match #choice {
            #(#branches)*
            #default_branch
            _ => ::core::unreachable!(),
        }
    }}
    .into()
}
