//! Scratch: run a built-in scenario and dump its events.
fn main() {
    let name = std::env::args().nth(1).unwrap_or("primary-crash".into());
    let s = fleetsim_model::embedded::scenario(&name).unwrap().unwrap();
    let o = fleetsim_scenario::run(&s, &Default::default()).unwrap();
    for e in &o.events {
        if !matches!(
            e.event,
            fleetsim_model::Event::PhoneRegistered { guest: false, .. }
        ) || e.t_ms > 10_000
        {
            println!("{:>8} {:<12} {:?}", e.t_ms, e.server, e.event);
        }
    }
    println!(
        "{:#?}\n{:#?}\nwall {:.1} ms rpcs {}",
        o.expectations, o.metrics, o.wall_ms, o.rpcs
    );
}
