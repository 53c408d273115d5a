//! kahn cores=N caps=.. producer=.. consumer=.. placement=.. t0=.. ...: runs
//! one Kahn process network (see the library) and prints each op's outcome
//! as it completes, `t<task> <outcome>`, then `done`; a network whose model
//! blocks ends in chanos's deadlock report (exit 2) instead. The words are
//! what `kahn::Network::to_args` writes; the image tests boot it with
//! generated networks on 2 and 4 CPUs.
#![cfg_attr(target_os = "none", no_std, no_main)]

use chanos::{eprintln, println};

#[chanos::main]
async fn main() {
    let net = match kahn::Network::parse(&chanos::env::args()) {
        Ok(net) => net,
        Err(error) => {
            eprintln!("kahn: {error}");
            eprintln!("usage: kahn cores=N caps=C,.. producer=T,.. consumer=T,.. placement=CORE,.. t0=s0.r1.c0 ..");
            chanos::env::exit(64);
        }
    };
    if net.cores > chanos::cores() {
        eprintln!(
            "kahn: the network needs {} cores and the runtime has {}",
            net.cores,
            chanos::cores()
        );
        chanos::env::exit(64);
    }
    kahn::run(net, |t, outcome| println!("t{t} {outcome}")).await;
    println!("done");
}
