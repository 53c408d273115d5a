//! Channel-only is enforced by types: shared mutable state captured by a
//! task or carried by a channel does not compile, and the error points to
//! channels; owned data, channel ends and immutable statics do compile.

#[test]
fn shared_mutable_state_is_rejected_at_compile_time() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/fail/*.rs");
    cases.pass("ui/pass/*.rs");
}
