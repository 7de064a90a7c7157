# fleetsim recipes. `just` lists them; `just ci` is exactly what .ci/run does.

default:
    @just --list

# Run the default failover scenario (same as the README's first command).
run *ARGS:
    cargo run --release -- {{ARGS}}

# The test suite (the README's second command).
test:
    cargo test

# What CI runs on a clean clone: identical to .ci/run.
ci:
    ./.ci/run

# Formatting and lints, as the style guide requires.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -j2 -- -D warnings

# Benchmarks: emulated/wall time, memory, cost vs bare tonic, scaling, turmoil.
bench:
    cargo build --release -p fleetsim-cli -p fleetsim-turmoil-compare
    ./target/release/fleetsim bench --scaling
